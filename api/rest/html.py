"""Plain HTML views of the OGC documents (f=html or a browser): tables and links, no script."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from api.headers import page_policy

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ccc;padding:.2rem .4rem}
th{background:#f2f2f2;text-align:left}nav a{margin-right:1rem}pre{background:#f7f7f7;padding:.5rem}
"""
# The pages load nothing and run no script: only their one <style> block is allowed.
POLICY = page_policy(styles=[STYLE])


def page(title: str, body: dict[str, Any], base: str) -> str:
    """Return an HTML5 page showing `body`: its links, collections, features or properties."""
    parts = [f"<h1>{escape(title)}</h1>"]
    for key in ("title", "description"):
        if isinstance(body.get(key), str) and body[key] != title:
            parts.append(f"<p>{escape(body[key])}</p>")
    if "numberMatched" in body:
        parts.append(
            f"<p>{body['numberReturned']} of {body['numberMatched']} features.</p>"
            + _pager(body.get("links", []))
        )
    if "features" in body:
        parts.append(_features(body["features"]))
    if body.get("type") == "Feature":
        parts.append(_properties(body))
    if "collections" in body:
        parts.append(_collections(body["collections"], base))
    if "conformsTo" in body:
        parts.append(_list(f'<a href="{escape(c)}">{escape(c)}</a>' for c in body["conformsTo"]))
    if "properties" in body and body.get("type") == "object":
        parts.append(_queryables(body["properties"]))
    if "extent" in body:
        parts.append(f"<h2>Extent</h2><pre>{escape(json.dumps(body['extent'], indent=1))}</pre>")
    if body.get("links"):
        parts.append("<h2>Links</h2>" + _links(body["links"]))
    nav = f'<nav><a href="{escape(base)}?f=html">Landing page</a>'
    nav += f'<a href="{escape(base)}/collections?f=html">Collections</a></nav>'
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{STYLE}</style></head><body>{nav}{''.join(parts)}</body></html>"
    )


def _html_href(href: str) -> str:
    joiner = "&" if "?" in href else "?"
    return href if "f=html" in href else f"{href}{joiner}f=html"


def _links(links: list[dict[str, str]]) -> str:
    return _list(
        f'<a href="{escape(link["href"])}">{escape(link.get("title") or link["href"])}</a>'
        f" ({escape(link['rel'])}, {escape(link.get('type', ''))})"
        for link in links
    )


def _pager(links: list[dict[str, str]]) -> str:
    found = [
        f'<a href="{escape(_html_href(link["href"]))}">{escape(link["rel"])}</a>'
        for link in links
        if link["rel"] in ("prev", "next")
    ]
    return f"<p>{' '.join(found)}</p>" if found else ""


def _list(items: Any) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value))
    return "" if value is None else escape(str(value))


def _features(features: list[dict[str, Any]]) -> str:
    if not features:
        return "<p>No features.</p>"
    names = list(features[0]["properties"])
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    for feature in features:
        code = escape(str(feature["id"]))
        cells = "".join(
            f'<td><a href="items/{code}?f=html">{code}</a></td>'
            if name == "code"
            else f"<td>{_cell(feature['properties'].get(name))}</td>"
            for name in names
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _properties(feature: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{_cell(value)}</td></tr>"
        for name, value in feature["properties"].items()
    )
    geometry = escape(json.dumps(feature["geometry"]))
    return f"<table>{rows}</table><h2>Geometry</h2><pre>{geometry}</pre>"


def _collections(collections: list[dict[str, Any]], base: str) -> str:
    return _list(
        f'<a href="{escape(base)}/collections/{escape(c["id"])}/items?f=html">'
        f"{escape(c['title'])}</a>"
        f" – {escape(c.get('description', ''))}"
        for c in collections
    )


def _queryables(properties: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(str(schema.get('type', 'geometry')))}</td>"
        f"<td>{escape(', '.join(schema.get('enum', [])))}</td></tr>"
        for name, schema in properties.items()
    )
    return f"<table><tr><th>name</th><th>type</th><th>values</th></tr>{rows}</table>"
