"""Security headers on every HTTP answer; each HTML page declares its own Content-Security-Policy.

Every answer gets `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
`X-Frame-Options: DENY` and, unless the endpoint set its own, the policy of an API answer: load
nothing, be framed by no one. A page made by us sets its policy where it is made, with
page_policy() (its inline styles allowed by hash, nothing else) or, for GraphiQL, with
ide_policy() (exactly the scripts and styles its template names).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "Content-Security-Policy"
# What an API answer (JSON, GeoJSON, CSV, tiles, problems) may do when a browser renders it.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
_FIXED = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
# Every page of ours: no <base>, no form posts, framed by no one.
_PAGE_TAIL = ("base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'")


def inline_source(text: str) -> str:
    """The CSP source that allows one inline <script> or <style> with exactly this text."""
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_policy(*, styles: Iterable[str] = ()) -> str:
    """The policy of a page without script: its inline <style> blocks (by hash) and nothing else."""
    allowed = " ".join(inline_source(s) for s in styles) or "'none'"
    return "; ".join(("default-src 'none'", f"style-src {allowed}", *_PAGE_TAIL))


class _Assets(HTMLParser):
    """The origins a page loads scripts and stylesheets from, and its inline scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.script_origins: set[str] = set()
        self.style_origins: set[str] = set()
        self.inline_scripts: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            src = found.get("src")
            if src:
                self.script_origins.add(_origin(src))
            else:
                self._in_inline_script = True
                self.inline_scripts.append("")
        elif tag == "link" and (found.get("rel") or "").lower() == "stylesheet":
            self.style_origins.add(_origin(found.get("href") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "'self'"


def ide_policy(page: str, websocket_origin: str) -> str:
    """The policy of the GraphiQL page: the script and style origins its HTML names, its inline
    scripts by hash, and requests back to this service only (HTTP, and WebSocket at
    `websocket_origin`: not every browser counts ws: under 'self').

    Its components add <style> elements at run time, so its styles cannot be held to hashes.
    """
    assets = _Assets()
    assets.feed(page)
    scripts = sorted(assets.script_origins) + [inline_source(s) for s in assets.inline_scripts]
    styles = sorted(assets.style_origins)
    return "; ".join(
        (
            "default-src 'none'",
            "script-src " + (" ".join(scripts) or "'none'"),
            "style-src " + " ".join([*styles, "'unsafe-inline'"]),
            "font-src " + " ".join([*styles, "data:"]),
            "img-src data:",
            f"connect-src 'self' {websocket_origin}",
            *_PAGE_TAIL,
        )
    )


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP answer; keep a policy an endpoint set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _FIXED:
                    headers[name] = value
                if CSP not in headers:
                    headers[CSP] = API_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
