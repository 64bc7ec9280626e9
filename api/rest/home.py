"""GET /: a small page for people: headline figures, a map of zones and incidents, and links.

Plain HTML with an inline SVG map drawn from PostGIS (no script, nothing fetched from elsewhere),
so it works offline and in any browser. The figures are those every role may see.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.headers import CSP, page_policy
from api.rest.html import STYLE
from db.queries import home as home_sql

# Most zones and incidents the map draws (the most recent ones).
MAP_LIMIT = 2000
STATUS_COLOURS = {"OPEN": "#c0392b", "WORKED_ON": "#e67e22", "CLOSED": "#27ae60"}
HOME_STYLE = """
.figures{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.figures div{border:1px solid #ccc;border-radius:4px;padding:.5rem .8rem;min-width:9rem}
.figures b{display:block;font-size:1.4rem}
svg{border:1px solid #ccc;background:#fafafa;max-width:100%;height:auto}
.key span{margin-right:1rem}
""" + "".join(f".key .{s.lower()}{{color:{colour}}}" for s, colour in STATUS_COLOURS.items())
# No script, nothing fetched: the page's one <style> block is all it may use.
POLICY = page_policy(styles=[STYLE + HOME_STYLE])
LINKS = (
    ("/graphql", "GraphiQL: the GraphQL API in the browser"),
    ("/ogc?f=html", "OGC API – Features: zones and incidents for QGIS, ArcGIS and GDAL"),
    ("/openapi.json", "OpenAPI document of the REST endpoints"),
    ("/exports/zones.csv", "Zones as CSV with HXL tags"),
    ("/exports/incidents.csv", "Incidents as CSV with HXL tags"),
)


def _number(value: float) -> str:
    return f"{value:,.0f}"


def _hectares(m2: float) -> str:
    return f"{m2 / 10_000:,.1f} ha"


def _figures(row: Any) -> str:
    by_status: dict[str, int] = row["zones_by_status"]
    boxes = [
        (_number(sum(by_status.values())), "hazardous areas"),
        *((_number(by_status.get(s, 0)), f"{s.replace('_', ' ').lower()}") for s in STATUS_COLOURS),
        (_hectares(row["remaining_m2"]), "still to release"),
        (_hectares(row["released_m2"]), "released"),
        (_number(row["incidents"]), "incidents recorded"),
        (_number(row["killed"]), "people killed"),
        (_number(row["injured"]), "people injured"),
    ]
    cells = "".join(f"<div><b>{escape(v)}</b>{escape(label)}</div>" for v, label in boxes)
    return f'<div class="figures">{cells}</div>'


def _map(row: Any) -> str:
    if row["west"] is None:
        return "<p>No zones or incidents are recorded yet.</p>"
    pad = max(row["east"] - row["west"], row["north"] - row["south"], 0.001) * 0.03
    x, y = row["west"] - pad, -row["north"] - pad
    width = row["east"] - row["west"] + 2 * pad
    height = row["north"] - row["south"] + 2 * pad
    size = max(width, height)
    # Incidents first, small; zones over them with a stroke wide enough that an area of a few
    # hectares still shows at the scale of a country.
    shapes = [
        f'<circle cx="{cx}" cy="{cy}" r="{size / 600:.6g}" fill="#2c3e50" fill-opacity=".6"/>'
        for cx, cy in row["incidents"]
    ]
    shapes += [
        f'<path d="{escape(d)}" fill="{STATUS_COLOURS.get(status, "#888")}" '
        f'stroke="{STATUS_COLOURS.get(status, "#888")}" stroke-width="{size / 250:.6g}" '
        'stroke-linejoin="round"/>'
        for status, d in row["zones"]
        if d
    ]
    shown_zones, shown_incidents = len(row["zones"]), len(row["incidents"])
    note = ""
    if shown_zones < row["zones_total"] or shown_incidents < row["incidents_total"]:
        note = (
            f"<p>The map shows the {shown_zones:,} most recently changed of {row['zones_total']:,}"
            f" zones and the {shown_incidents:,} most recent of {row['incidents_total']:,}"
            " incidents.</p>"
        )
    key = "".join(
        f'<span class="{status.lower()}">■ {escape(status.replace("_", " ").lower())}</span>'
        for status in STATUS_COLOURS
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{900 * height / width:.0f}" '
        f'viewBox="{x:.6f} {y:.6f} {width:.6f} {height:.6f}" role="img" '
        f'aria-label="Map of zones and incidents">{"".join(shapes)}</svg>'
        f'<p class="key">{key}<span>● incident</span></p>{note}'
    )


async def home(request: Request) -> HTMLResponse:
    """The page: figures, map, links."""
    async with request.app.state.db.acquire() as conn:
        figures = await conn.fetchrow(home_sql.FIGURES)
        drawn = await conn.fetchrow(home_sql.MAP, MAP_LIMIT)
    links = "".join(f'<li><a href="{href}">{escape(text)}</a></li>' for href, text in LINKS)
    body = (
        "<h1>Mine Action Records</h1>"
        "<p>Records of humanitarian mine action: hazardous areas, the work of clearing them, "
        "land released, and accidents with their casualties.</p>"
        f"{_figures(figures)}<h2>Map</h2>{_map(drawn)}<h2>Use the data</h2><ul>{links}</ul>"
    )
    return HTMLResponse(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Mine Action Records</title><style>{STYLE}{HOME_STYLE}</style></head>"
        f"<body>{body}</body></html>",
        headers={CSP: POLICY},
    )
