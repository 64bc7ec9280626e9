"""GET /: the built-in page: headline figures, an SVG map of zones and incidents, links."""

from __future__ import annotations

import re
from datetime import date

import httpx

from api.services.casualties import NewCasualty
from api.services.incidents import NewIncident, record_incident
from db.pool import Connection as Conn
from tests.test_exports import square_zone


async def test_an_empty_database_says_so(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "No zones or incidents are recorded yet" in response.text
    assert '<a href="/graphql">' in response.text and '<a href="/ogc?f=html">' in response.text


async def test_figures_and_map_show_the_records(client: httpx.AsyncClient, conn: Conn) -> None:
    for n, name in enumerate(["North", "South"]):
        await square_zone(conn, f"HM-{n}", name, 10.0 + n, 10.0)
    await record_incident(
        conn,
        NewIncident(
            code="HM-I",
            incident_type="MINE_ACCIDENT",
            occurred_on=date(2024, 3, 3),
            location={"type": "Point", "coordinates": [10.005, 10.005]},
            casualties=[
                NewCasualty(outcome="KILLED", category="CIVILIAN", sex="MALE", age=40),
                NewCasualty(outcome="INJURED", category="CIVILIAN", sex="FEMALE", age=9),
                NewCasualty(outcome="INJURED", category="DEMINER", sex="MALE", age=30),
            ],
        ),
    )
    text = (await client.get("/")).text
    figures = {
        label: value for value, label in re.findall(r"<div><b>([^<]*)</b>([^<]*)</div>", text)
    }
    assert figures["hazardous areas"] == "2" and figures["open"] == "2"
    assert figures["incidents recorded"] == "1"
    assert figures["people killed"] == "1" and figures["people injured"] == "2"
    assert figures["released"] == "0.0 ha"
    assert text.count("<path ") == 2 and text.count("<circle ") == 1
    # y is minus the latitude; the view box holds every shape.
    x, y, width, height = (float(v) for v in re.search(r'viewBox="([^"]+)"', text)[1].split())
    assert x < 10.0 and x + width > 11.01 and y < -10.01 and y + height > -10.0
