"""GET /docs: the OpenAPI document (/openapi.json) as a page for people, rendered here.

No script and nothing loaded from anywhere (it works offline and behind any firewall): one
<style> block, allowed by its hash, and links. Each operation shows its method and path, what
it does, whether it takes a key, its parameters, its request body and its answers.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.headers import CSP, page_policy
from api.hosts import public_base
from api.rest.openapi import KEY_REQUIRED, document

STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222;
line-height:1.4}
h2{border-bottom:1px solid #ccc;margin-top:2rem}h3{margin:1.2rem 0 .3rem;font-size:1rem}
code{background:#f3f3f3;padding:0 .2rem;word-break:break-all}
.m{display:inline-block;min-width:3.5rem;font-weight:bold;color:#fff;background:#2b6cb0;
padding:0 .3rem;border-radius:.2rem;text-align:center}.m.post{background:#2f855a}
table{border-collapse:collapse;font-size:.9rem;margin:.3rem 0;width:100%}
td,th{border:1px solid #ddd;padding:.15rem .4rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}.key{font-size:.85rem;color:#744210}nav a{margin-right:.8rem}
"""
POLICY = page_policy(styles=[STYLE])
METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(whole: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (#/components/…) once."""
    ref = item.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return item
    found: Any = whole
    for part in ref[2:].split("/"):
        found = found.get(part, {}) if isinstance(found, dict) else {}
    return found if isinstance(found, dict) else {}


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    kind = str(schema.get("type", ""))
    if "enum" in schema:
        kind += " (" + ", ".join(str(v) for v in schema["enum"]) + ")"
    if kind == "array" and isinstance(schema.get("items"), dict):
        kind = f"array of {_schema_text(schema['items'])}"
    return kind


def _parameters(whole: dict[str, Any], params: list[Any]) -> str:
    rows = []
    for raw in params:
        p = _resolve(whole, raw)
        rows.append(
            f"<tr><td><code>{escape(str(p.get('name', '')))}</code></td>"
            f"<td>{escape(str(p.get('in', '')))}</td>"
            f"<td>{'yes' if p.get('required') else ''}</td>"
            f"<td>{escape(_schema_text(p.get('schema', {})))}</td>"
            f"<td>{escape(str(p.get('description', '')))}</td></tr>"
        )
    if not rows:
        return ""
    head = "<tr><th>parameter</th><th>in</th><th>required</th><th>type</th><th>meaning</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _operation(whole: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> str:
    anchor = escape(str(op.get("operationId", f"{method}-{path}")))
    parts = [
        f'<h3 id="{anchor}"><span class="m {method}">{method.upper()}</span> '
        f"<code>{escape(path)}</code></h3><p>{escape(str(op.get('summary', '')))}</p>"
    ]
    security = op.get("security")
    if security == KEY_REQUIRED:
        parts.append('<p class="key">Needs a key: <code>Authorization: Bearer mar_…</code></p>')
    elif security:
        parts.append('<p class="key">A key (<code>Bearer mar_…</code>) answers more.</p>')
    parts.append(_parameters(whole, op.get("parameters", [])))
    body = op.get("requestBody")
    if isinstance(body, dict):
        types = ", ".join(f"<code>{escape(t)}</code>" for t in body.get("content", {}))
        parts.append(f"<p>Body: {types}</p>")
    answers = []
    for status, raw in op.get("responses", {}).items():
        answer = _resolve(whole, raw)
        types = ", ".join(escape(t) for t in answer.get("content", {}))
        answers.append(
            f"<tr><td>{escape(status)}</td><td>{escape(str(answer.get('description', '')))}"
            f"</td><td>{types}</td></tr>"
        )
    parts.append(
        f"<table><tr><th>status</th><th>answer</th><th>as</th></tr>{''.join(answers)}</table>"
    )
    return "".join(parts)


def page(whole: dict[str, Any]) -> str:
    """The whole document as one HTML5 page, operations grouped by tag."""
    groups: dict[str, list[str]] = {}
    for path, item in whole.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                tag = (op.get("tags") or ["other"])[0]
                groups.setdefault(str(tag), []).append(_operation(whole, path, method, op))
    info = whole.get("info", {})
    schemes = whole.get("components", {}).get("securitySchemes", {})
    access = "".join(
        f"<p><b>{escape(name)}</b> ({escape(str(s.get('scheme', s.get('type', ''))))}): "
        f"{escape(str(s.get('description', '')))}</p>"
        for name, s in schemes.items()
    )
    nav = "".join(f'<a href="#tag-{escape(tag)}">{escape(tag)}</a>' for tag in groups)
    sections = "".join(
        f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>{"".join(ops)}'
        for tag, ops in groups.items()
    )
    servers = ", ".join(
        f"<code>{escape(s.get('url', ''))}</code>" for s in whole.get("servers", [])
    )
    title = escape(str(info.get("title", "API")))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>{escape(str(info.get('description', '')))}</p>"
        f'<p>Server: {servers}. The same as OpenAPI 3.0: <a href="openapi.json">openapi.json</a>; '
        f'GraphQL: <a href="graphql">/graphql</a>.</p><h2>Access</h2>{access}'
        f"<nav>{nav}</nav>{sections}</body></html>"
    )


async def docs(request: Request) -> HTMLResponse:
    """GET /docs: the REST API reference of this server."""
    settings = request.app.state.settings
    limits = (settings.ogc_default_limit, settings.ogc_max_limit)
    whole = document(public_base(request), request.app.routes, limits)
    return HTMLResponse(page(whole), headers={CSP: POLICY})
