"""The Host header: refused unless it names a host the service answers for; links are built from
MAR_PUBLIC_URL when it is set, else from the (allowed) Host.

So no client can make the service write a host of its choosing into the links it answers with
(OGC, TileJSON, OpenAPI), which shared caches would keep and hand to others.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.refusals import PROBLEM, send_refusal
from api.requests import current_request_id

# Probes and metrics answer whatever the Host: an orchestrator calls them by the pod's address,
# and they carry no links.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def host_name(header: str) -> str:
    """The host of a Host header (no port; an IPv6 address without brackets), lower case."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    name, _, port = value.rpartition(":")
    if name and port.isdigit():
        value = name
    return value.rstrip(".")


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether `host` is one of `allowed` (`*` any; `.example.org` it and its subdomains)."""
    for entry in allowed:
        if entry == "*" or host == entry:
            return True
        if entry.startswith(".") and (host == entry[1:] or host.endswith(entry)):
            return True
    return False


def public_base(request: Request) -> str:
    """The service's base URL for links: MAR_PUBLIC_URL when set, else what the request used."""
    configured: str = request.app.state.settings.public_url
    return configured or str(request.base_url).rstrip("/")


def public_url(request: Request) -> str:
    """The URL of this request (path and query) under public_base()."""
    query = request.url.query
    return public_base(request) + request.url.path + (f"?{query}" if query else "")


class AllowedHostsMiddleware:
    """Refuse requests whose Host is not allowed: 400 problem+json (a WebSocket: not accepted)."""

    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        host = None
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = host_name(value.decode("latin-1"))
                break
        # No Host (HTTP/1.0): links then name the address the server listens on, not the client's.
        if host is None or host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        await _refuse(scope, send, f"this service does not answer for the host {host[:100]!r}")


async def _refuse(scope: Scope, send: Send, detail: str) -> None:
    body = {
        "type": "about:blank",
        "title": "Bad user input",
        "status": 400,
        "detail": detail,
        "code": "BAD_USER_INPUT",
        "fields": [{"field": "Host", "message": "not a host this service answers for"}],
        "requestId": current_request_id(),
    }
    await send_refusal(scope, send, 400, PROBLEM, body)
