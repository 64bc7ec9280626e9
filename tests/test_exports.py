"""Exports: CSV with the HXL row, GeoJSON FeatureCollections, streamed from a cursor; casualties
only as counts per month and area; what each role may read; bad parameters; a client that leaves.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.services import exports as export_service
from api.services.casualties import NewCasualty
from api.services.incidents import NewIncident, record_incident
from api.services.zones import NewZone, create_zone
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import PoolSource, SingleConnectionSource, connect, create_pool
from tests.helpers import make_key


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


async def square_zone(conn: Conn, code: str, name: str, lon: float, lat: float) -> None:
    """A CHA of UXO named `name`: a square of 0.01 degrees with its south-west corner at lon/lat."""
    zone = NewZone(
        code=code,
        name=name,
        hazard_type="CHA",
        geometry=square(lon, lat),
        contamination=["UXO"],
        recorded_on=date(2024, 1, 1),
    )
    await create_zone(conn, zone)


async def seed(conn: Conn) -> None:
    """Two zones and three incidents (one inside a zone), with casualties in two months."""
    await create_zone(
        conn,
        NewZone(
            code="HA-1",
            name='Field "north", by the river',
            hazard_type="CHA",
            geometry=square(30.0, 10.0),
            contamination=["AP_MINE", "UXO"],
            description="line one\nline two",
            priority=1,
            land_use="AGRICULTURAL",
            admin1="Region A",
            admin2="District 1",
            admin_pcode="AA0101",
            recorded_on=date(2024, 1, 5),
        ),
    )
    await create_zone(
        conn,
        NewZone(
            code="HA-2",
            name="Ridge",
            hazard_type="SHA",
            geometry=square(31.0, 11.0),
            contamination=["CMR"],
            recorded_on=date(2024, 2, 1),
        ),
    )
    killed = NewCasualty(outcome="KILLED", category="CIVILIAN", sex="MALE", age=12)
    injured = NewCasualty(
        outcome="INJURED", category="DEMINER", sex="FEMALE", age=30, full_name="Secret Name"
    )
    await record_incident(
        conn,
        NewIncident(
            code="IN-1",
            incident_type="MINE_ACCIDENT",
            occurred_on=date(2024, 3, 3),
            location={"type": "Point", "coordinates": [30.005, 10.005]},
            activity="FARMING",
            admin1="Region A",
            admin2="District 1",
            description="private description",
            source="hospital",
            casualties=[killed, injured],
        ),
    )
    await record_incident(
        conn,
        NewIncident(
            code="IN-2",
            incident_type="UXO_AXO_ACCIDENT",
            occurred_on=date(2024, 3, 20),
            location={"type": "Point", "coordinates": [35.0, 12.0]},
            admin1="Region A",
            admin2="District 1",
            casualties=[killed],
        ),
    )
    await record_incident(
        conn,
        NewIncident(
            code="IN-3",
            incident_type="OTHER",
            occurred_on=date(2024, 4, 1),
            location={"type": "Point", "coordinates": [36.0, 12.0]},
            admin1="Region B",
        ),
    )


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


class WithRole:
    """The app called with a real key of `role` (made on first use); the public sends none."""

    def __init__(self, app: Any, role: str) -> None:
        self.app, self.role = app, role
        self.secret: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.role != "public" and scope["type"] == "http":
            if self.secret is None:
                async with self.app.state.db.acquire() as conn:
                    name = f"{self.role} {uuid.uuid4().hex[:8]}"
                    self.secret = await make_key(conn, name, self.role)
            authorization = (b"authorization", f"Bearer {self.secret}".encode())
            scope = {**scope, "headers": [*scope["headers"], authorization]}
        await self.app(scope, receive, send)


def client_as(app: Any, role: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=WithRole(app, role))
    return httpx.AsyncClient(transport=transport, base_url="http://mar.test")


async def test_zones_csv_has_header_hxl_row_and_quoted_text(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    await seed(conn)
    response = await client.get("/exports/zones.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    header, hxl, *lines = rows(response.text)
    assert header[:3] == ["code", "name", "hazard_type"]
    assert all(tag.startswith("#") for tag in hxl)
    record = dict(zip(header, lines[0], strict=True))
    tags = dict(zip(header, hxl, strict=True))
    assert tags["lat"] == "#geo+lat" and tags["lon"] == "#geo+lon"
    assert tags["admin1"] == "#adm1+name"
    assert record["name"] == 'Field "north", by the river'
    assert record["contamination"] == "AP_MINE;UXO"
    assert record["recorded_on"] == "2024-01-05"
    assert 10.0 < float(record["lat"]) < 10.01 and 30.0 < float(record["lon"]) < 30.01
    assert float(record["estimated_area_m2"]) > 1_000_000
    assert [line[0] for line in lines] == ["HA-1", "HA-2"]
    assert response.text.endswith("\r\n")


async def test_text_a_spreadsheet_would_run_as_a_formula_is_neutralised(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    names = ['=HYPERLINK("http://x")', "+1", "-2 north", "@SUM(A1)", "Plain = fine"]
    for n, name in enumerate(names):
        await square_zone(conn, f"HF-{n}", name, 20.0 + n, 5.0)
    response = await client.get("/exports/zones.csv", params={"hxl": "false"})
    header, *lines = rows(response.text)
    shown = [dict(zip(header, line, strict=True))["name"] for line in lines]
    assert shown == ["'" + name for name in names[:4]] + ["Plain = fine"]


async def test_hxl_false_omits_the_hashtag_row(client: httpx.AsyncClient, conn: Conn) -> None:
    await seed(conn)
    response = await client.get("/exports/zones.csv?hxl=false")
    header, *lines = rows(response.text)
    assert header[0] == "code" and [line[0] for line in lines] == ["HA-1", "HA-2"]


async def test_incidents_csv_counts_casualties_and_hides_private_text_from_the_public(
    client: httpx.AsyncClient, conn: Conn, app: Any
) -> None:
    await seed(conn)
    header, hxl, *lines = rows((await client.get("/exports/incidents.csv")).text)
    tags = dict(zip(header, hxl, strict=True))
    assert tags["occurred_on"] == "#date+occurred"
    assert tags["killed"] == "#affected+killed" and tags["injured"] == "#affected+injured"
    first = dict(zip(header, lines[0], strict=True))
    assert first["code"] == "IN-1" and first["zone_code"] == "HA-1"
    assert (first["killed"], first["injured"], first["verified"]) == ("1", "1", "false")
    assert "description" not in header and "source" not in header
    async with client_as(app, "partner") as partner:
        header, _hxl, *lines = rows((await partner.get("/exports/incidents.csv")).text)
    assert dict(zip(header, lines[0], strict=True))["description"] == "private description"


async def test_casualties_are_only_counts_per_month_and_area(
    client: httpx.AsyncClient, conn: Conn, app: Any
) -> None:
    await seed(conn)
    for http in (client, client_as(app, "admin")):
        response = await http.get("/exports/casualties.csv")
        assert response.status_code == 200
        assert "Secret Name" not in response.text
        header, hxl, *lines = rows(response.text)
        assert "full_name" not in header and "age" not in header
        tags = dict(zip(header, hxl, strict=True))
        assert tags["month"] == "#date+occurred" and tags["female"] == "#affected+f"
        # Both March incidents are in the same area: one line, three people.
        (march,) = [dict(zip(header, line, strict=True)) for line in lines]
        assert (march["month"], march["admin1"], march["admin2"]) == (
            "2024-03",
            "Region A",
            "District 1",
        )
        assert (march["total"], march["killed"], march["injured"]) == ("3", "2", "1")
        assert (march["children"], march["adults"], march["killed_civilian"]) == ("2", "1", "2")


async def test_releases_csv_for_partners_and_up(
    client: httpx.AsyncClient, conn: Conn, app: Any
) -> None:
    await seed(conn)
    zone_id = await conn.fetchval("SELECT id FROM zones WHERE code = 'HA-2'")
    await conn.execute(
        "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
        "VALUES ($1, 'CANCELLED', 1000, '2024-05-01')",
        zone_id,
    )
    refused = await client.get("/exports/releases.csv")
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    async with client_as(app, "partner") as partner:
        header, hxl, *lines = rows((await partner.get("/exports/releases.csv")).text)
    (release,) = [dict(zip(header, line, strict=True)) for line in lines]
    assert release["zone_code"] == "HA-2" and release["method"] == "CANCELLED"
    assert release["area_m2"] == "1000.00" and release["released_on"] == "2024-05-01"
    assert dict(zip(header, hxl, strict=True))["released_on"] == "#date+released"


async def test_zones_geojson_is_a_feature_collection(client: httpx.AsyncClient, conn: Conn) -> None:
    await seed(conn)
    response = await client.get("/exports/zones.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    first, second = collection["features"]
    assert first["id"] == "HA-1" and first["geometry"]["type"] == "MultiPolygon"
    assert first["properties"]["contamination"] == ["AP_MINE", "UXO"]
    assert first["properties"]["recorded_on"] == "2024-01-05"
    assert second["properties"]["hazard_type"] == "SHA"


async def test_incidents_geojson_carries_casualties_and_personal_data_only_for_editors(
    client: httpx.AsyncClient, conn: Conn, app: Any
) -> None:
    await seed(conn)
    public = (await client.get("/exports/incidents.geojson")).json()["features"]
    assert [f["id"] for f in public] == ["IN-1", "IN-2", "IN-3"]
    properties = public[0]["properties"]
    assert properties["zone_code"] == "HA-1" and "description" not in properties
    assert properties["casualties"][0] == {
        "outcome": "KILLED",
        "category": "CIVILIAN",
        "sex": "MALE",
        "age": 12,
    }
    assert public[2]["properties"]["casualties"] == []
    async with client_as(app, "editor") as editor:
        features = (await editor.get("/exports/incidents.geojson")).json()["features"]
    assert features[0]["properties"]["casualties"][1]["full_name"] == "Secret Name"
    assert features[0]["properties"]["description"] == "private description"


async def test_exports_take_the_filters_of_the_items_endpoint(
    client: httpx.AsyncClient, conn: Conn, app: Any
) -> None:
    await seed(conn)

    async def codes(url: str) -> list[str]:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["features"]]

    assert await codes("/exports/zones.geojson?bbox=30.5,10.5,32,12") == ["HA-2"]
    assert await codes("/exports/zones.geojson?hazard_type=CHA") == ["HA-1"]
    assert await codes("/exports/zones.geojson?sortby=-code") == ["HA-2", "HA-1"]
    assert await codes("/exports/zones.geojson?filter=priority%20%3C%202") == ["HA-1"]
    assert await codes("/exports/incidents.geojson?datetime=2024-03-10/..") == ["IN-2", "IN-3"]
    csv_rows = rows((await client.get("/exports/incidents.csv?admin1=Region%20B&hxl=0")).text)
    assert [line[0] for line in csv_rows[1:]] == ["IN-3"]
    # Casualty counts follow their incidents' filters; releases their zone's.
    header, _hxl, *lines = rows(
        (await client.get("/exports/casualties.csv?datetime=../2024-03-10")).text
    )
    (march,) = [dict(zip(header, line, strict=True)) for line in lines]
    assert march["total"] == "2"
    # A private property filters only for the roles that may read it.
    async with client_as(app, "partner") as partner:
        releases = await partner.get("/exports/releases.csv?hazard_type=CHA&hxl=false")
        assert rows(releases.text)[1:] == []
        fixed = await partner.get("/exports/releases.csv?sortby=code")
        assert fixed.status_code == 400 and fixed.json()["fields"][0]["field"] == "sortby"
        response = await partner.get("/exports/incidents.geojson?source=hospital")
    assert [f["id"] for f in response.json()["features"]] == ["IN-1"]


async def test_empty_exports(client: httpx.AsyncClient) -> None:
    assert (await client.get("/exports/zones.geojson")).json() == {
        "type": "FeatureCollection",
        "features": [],
    }
    assert len(rows((await client.get("/exports/incidents.csv")).text)) == 2


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/exports/teams.csv", 404, None),
        ("/exports/releases.geojson", 404, None),
        ("/exports/zones.csv?hxl=maybe", 400, "hxl"),
        ("/exports/zones.geojson?hxl=false", 400, "hxl"),
        ("/exports/zones.csv?colour=red", 400, "colour"),
        ("/exports/zones.csv?bbox=1,2,3", 400, "bbox"),
        ("/exports/zones.geojson?bbox=10,0,5,1,2", 400, "bbox"),
        ("/exports/incidents.csv?datetime=2024-13-01", 400, "datetime"),
        ("/exports/incidents.geojson?datetime=2024-05-01/2024-01-01", 400, "datetime"),
        ("/exports/zones.geojson?filter=priority%20%3D%3D", 400, "filter"),
        ("/exports/zones.csv?filter=colour%20%3D%20'red'", 400, "filter"),
        ("/exports/zones.geojson?sortby=colour", 400, "sortby"),
        ("/exports/casualties.csv?sortby=code", 400, "sortby"),
        ("/exports/zones.geojson?limit=10", 400, "limit"),
        ("/exports/incidents.csv?offset=10", 400, "offset"),
        ("/exports/incidents.csv?description=x", 400, "description"),
    ],
)
async def test_bad_parameters_are_problems_naming_the_parameter(
    client: httpx.AsyncClient, url: str, status: int, field: str | None
) -> None:
    response = await client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    if field is not None:
        assert problem["code"] == "BAD_USER_INPUT"
        assert [f["field"] for f in problem["fields"]] == [field]
    else:
        assert problem["code"] == "NOT_FOUND"


async def test_stream_batches_and_counts(conn: Conn) -> None:
    await seed(conn)
    export = export_service.geojson_export("zones", [], [], access=export_service.Access())
    seen: list[int] = []
    source = SingleConnectionSource(conn)
    chunks = [
        c async for c in export_service.stream(source, export, batch_rows=1, on_rows=seen.append)
    ]
    assert seen == [1, 1]
    assert len(chunks) == 4  # head, two batches, tail
    assert len(json.loads(b"".join(chunks))["features"]) == 2
    assert await export_service.count(source, export) == 2
    casualties = export_service.csv_export(
        "casualties", [], [], hxl=True, access=export_service.Access()
    )
    assert await export_service.count(source, casualties) is None


@pytest.mark.commits
async def test_a_client_that_leaves_gives_the_connection_back(
    fresh_db_url: str, settings: Settings
) -> None:
    setup = await connect(fresh_db_url)
    try:
        await setup.execute(
            "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
            "SELECT 'Z-' || n, repeat('x', 200), 'SHA', ARRAY['UXO'], "
            "ST_Multi(ST_Buffer(ST_MakePoint(30 + n * 0.0001, 10), 0.00005, 16)), 3 "
            "FROM generate_series(1, 3000) AS n"
        )
    finally:
        await setup.close()
    pool = await create_pool(fresh_db_url, min_size=1, max_size=2)
    try:
        app = create_app(settings, db=PoolSource(pool))
        disconnected = asyncio.Event()
        sent: list[bytes] = []

        async def receive() -> dict[str, Any]:
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sent.append(message["body"])
                disconnected.set()  # the client reads one chunk and leaves

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/exports/zones.geojson",
            "raw_path": b"/exports/zones.geojson",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"mar.test")],
            "client": ("127.0.0.1", 1),
            "server": ("mar.test", 80),
        }
        await asyncio.wait_for(app(scope, receive, send), timeout=30)
        assert sent and sent[0].startswith(b'{"type":"FeatureCollection"')
        assert sum(len(chunk) for chunk in sent) < 3000 * 200  # it stopped early
        for _ in range(50):
            if pool.get_idle_size() == pool.get_size():
                break
            await asyncio.sleep(0.05)
        assert pool.get_idle_size() == pool.get_size()
        async with pool.acquire() as conn:
            # The cursor's statement stops too (the reset of a returned connection may take a
            # moment): nothing else in this database keeps running.
            for _ in range(100):
                busy = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state <> 'idle'"
                )
                if busy == 0:
                    break
                await asyncio.sleep(0.05)
            assert busy == 0
    finally:
        await pool.close()
