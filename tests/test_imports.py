"""Bulk imports: upsert by code, all or nothing, dry runs, a report naming every bad feature,
the editor role, the body limit, and the round trip export -> empty database -> same records.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.cli import main
from api.services.imports import report_field, run_import
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource, connect
from tests.test_exports import client_as, seed, square


@pytest.fixture
async def client(app: Any, editor_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """Importing needs a writer: this module's client sends an editor's key."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://mar.test",
        headers={"Authorization": f"Bearer {editor_key}"},
    ) as http:
        yield http


def zone(code: str, **properties: Any) -> dict[str, Any]:
    values = {"code": code, "name": f"Zone {code}", "hazard_type": "SHA", "contamination": ["UXO"]}
    return {
        "type": "Feature",
        "geometry": properties.pop("geometry", square(20.0, 5.0)),
        "properties": {**values, **properties},
    }


def incident(code: str, **properties: Any) -> dict[str, Any]:
    values = {"code": code, "incident_type": "MINE_ACCIDENT", "occurred_on": "2024-02-02"}
    return {
        "type": "Feature",
        "geometry": properties.pop("geometry", {"type": "Point", "coordinates": [50.0, 5.0]}),
        "properties": {**values, **properties},
    }


def collection(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


async def count(conn: Conn, table: str) -> int:
    total: int = await conn.fetchval(f"SELECT count(*) FROM {table}")  # table: a test constant
    return total


async def test_zones_are_created_then_updated_by_code(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    response = await client.post("/imports/zones", json=collection(zone("I-1"), zone("I-2")))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "dryRun": False,
    }
    changed = zone("I-2", name="Renamed", priority=1, geometry=square(21.0, 6.0))
    response = await client.post("/imports/zones", json=collection(changed, zone("I-3")))
    assert response.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "errors": [],
        "dryRun": False,
    }
    row = await conn.fetchrow(
        "SELECT name, priority, version, ST_XMin(geometry) AS west FROM zones WHERE code = 'I-2'"
    )
    assert (row["name"], row["priority"], row["version"], row["west"]) == ("Renamed", 1, 2, 21.0)
    assert await count(conn, "zones") == 3


async def test_an_update_changes_only_the_properties_sent(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    await client.post("/imports/zones", json=collection(zone("I-1", admin1="North")))
    feature = {"type": "Feature", "properties": {"code": "I-1", "priority": 5}}
    response = await client.post("/imports/zones", json=collection(feature))
    assert response.json()["updated"] == 1
    row = await conn.fetchrow("SELECT admin1, priority, name FROM zones WHERE code = 'I-1'")
    assert tuple(row) == ("North", 5, "Zone I-1")


async def test_dry_run_reports_and_writes_nothing(client: httpx.AsyncClient, conn: Conn) -> None:
    await client.post("/imports/zones", json=collection(zone("I-1")))
    body = collection(zone("I-1", name="Changed"), zone("I-9"))
    response = await client.post("/imports/zones?dry_run=true", json=body)
    assert response.status_code == 200
    assert response.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "errors": [],
        "dryRun": True,
    }
    assert await count(conn, "zones") == 1
    assert await conn.fetchval("SELECT name FROM zones WHERE code = 'I-1'") == "Zone I-1"
    bad = await client.post("/imports/zones?dry_run=1", json=collection(zone("I-8", priority=9)))
    assert bad.status_code == 200
    assert bad.json()["errors"] == [
        {"index": 0, "field": "properties.priority", "message": "must be between 1 (highest) and 5"}
    ]


async def test_every_bad_feature_is_reported_and_nothing_is_written(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    features = [
        zone("OK-1"),
        zone("B-1", hazard_type="XXX", priority=0),
        zone("B-2", geometry={"type": "Point", "coordinates": [1, 1]}),
        zone("OK-2", colour="red"),
        {"type": "Feature", "properties": {"name": "no code"}},
        zone("OK-1", admin1="nul\x00"),
        "not a feature",
        zone("B-3", recorded_on="yesterday", contamination="UXO"),
        {"type": "Feature", "properties": {"code": "NEW", "name": "no geometry"}},
    ]
    response = await client.post("/imports/zones", json=collection(*features))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "BAD_USER_INPUT"
    assert (body["created"], body["updated"]) == (0, 0)
    found = {(e["index"], e["field"]) for e in body["errors"]}
    assert found == {
        (1, "properties.hazard_type"),
        (1, "properties.priority"),
        (2, "geometry"),
        (3, "properties.colour"),
        (4, "properties.code"),
        (5, "properties.code"),
        (5, "properties.admin1"),
        (6, "type"),
        (7, "properties.recorded_on"),
        (7, "properties.contamination"),
        (8, "properties.hazard_type"),
        (8, "properties.contamination"),
        (8, "geometry"),
    }
    assert [e["index"] for e in body["errors"]] == sorted(e["index"] for e in body["errors"])
    assert "features[1].properties.priority" in [f["field"] for f in body["fields"]]
    assert await count(conn, "zones") == 0


async def test_incidents_with_casualties_and_references_by_code(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    await client.post("/imports/zones", json=collection(zone("Z-1", geometry=square(50, 5))))
    casualties = [{"outcome": "KILLED", "age": 8}, {"sex": "FEMALE", "age_group": "ADULT"}]
    first = incident(
        "E-1", casualties=casualties, geometry={"type": "Point", "coordinates": [60, 5]}
    )
    response = await client.post(
        "/imports/incidents", json=collection(first, incident("E-2", zone_code="Z-1"))
    )
    assert response.json() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "dryRun": False,
    }
    rows = await conn.fetch(
        "SELECT c.outcome, c.sex, c.age_group FROM casualties AS c JOIN incidents AS i "
        "ON i.id = c.incident_id WHERE i.code = 'E-1' ORDER BY c.id"
    )
    assert [tuple(r) for r in rows] == [
        ("KILLED", "UNKNOWN", "CHILD"),
        ("UNKNOWN", "FEMALE", "UNKNOWN"),
    ]
    zone_of = (
        "SELECT z.code FROM incidents AS i JOIN zones AS z ON z.id = i.zone_id WHERE i.code = $1"
    )
    assert await conn.fetchval(zone_of, "E-2") == "Z-1"
    # An update replaces the casualties it lists, and keeps them when it lists none.
    again = incident("E-1", casualties=[{"outcome": "INJURED"}], verified=True)
    response = await client.post("/imports/incidents", json=collection(again, incident("E-2")))
    assert (response.json()["updated"], response.json()["unchanged"]) == (1, 1)  # E-2 as stored
    assert await count(conn, "casualties") == 1
    assert await conn.fetchval("SELECT verified FROM incidents WHERE code = 'E-1'") is True


async def test_bad_incidents_name_each_field(client: httpx.AsyncClient, conn: Conn) -> None:
    features = [
        incident("E-1", zone_code="NOPE", task_code="NOTASK"),
        incident(
            "E-2", casualties=[{"age": 200, "outcome": "DEAD"}, "x"], occurred_on="2999-01-01"
        ),
        incident("E-3", incident_type="BAD", verified="yes", geometry=square(1, 1)),
    ]
    response = await client.post("/imports/incidents", json=collection(*features))
    assert response.status_code == 400
    found = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert found == {
        (0, "properties.zone_code"),
        (0, "properties.task_code"),
        (1, "properties.casualties[1]"),
        (2, "properties.verified"),
    }
    # Once the file's types are right, the use-case's rules speak, with the file's names.
    casualties = [{"age": 200, "outcome": "DEAD"}]
    features = [incident("E-2", occurred_on="2999-01-01", casualties=casualties)]
    features.append(incident("E-3", incident_type="BAD", geometry=square(1, 1)))
    response = await client.post("/imports/incidents", json=collection(*features))
    found = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert found == {
        (0, "properties.occurred_on"),
        (0, "properties.casualties[0].age"),
        (0, "properties.casualties[0].outcome"),
        (1, "properties.incident_type"),
        (1, "geometry"),
    }
    assert await count(conn, "incidents") == 0


@pytest.mark.parametrize(
    ("url", "body", "status", "field"),
    [
        ("/imports/teams", b"{}", 404, None),
        ("/imports/zones?dry_run=perhaps", b"{}", 400, "dry_run"),
        ("/imports/zones?mode=fast", b"{}", 400, "mode"),
        ("/imports/zones", b"{not json", 400, "body"),
        ("/imports/zones", b'{"type": "Feature"}', 400, "body"),
        ("/imports/zones", b"[]", 400, "body"),
        ("/imports/zones", b'{"type": "FeatureCollection", "features": {}}', 400, "body.features"),
    ],
)
async def test_bad_requests_are_problems_naming_the_parameter(
    client: httpx.AsyncClient, url: str, body: bytes, status: int, field: str | None
) -> None:
    response = await client.post(url, content=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert [f["field"] for f in response.json()["fields"]] == [field]


async def test_only_editors_and_admins_import(app: Any, conn: Conn) -> None:
    for role, status in (("public", 403), ("partner", 403), ("editor", 200), ("admin", 200)):
        async with client_as(app, role) as http:
            response = await http.post("/imports/zones", json=collection(zone(f"R-{role}")))
        assert response.status_code == status, role
    assert await count(conn, "zones") == 2


async def test_the_body_limit_is_413(settings: Settings, conn: Conn, editor_key: str) -> None:
    small = dataclasses.replace(settings, import_max_bytes=2048)
    app = create_app(small, db=SingleConnectionSource(conn))
    big = json.dumps(collection(*[zone(f"Z-{n}") for n in range(40)])).encode()

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    transport = httpx.ASGITransport(app=app)
    editor = {"Authorization": f"Bearer {editor_key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://mar.test", headers=editor
    ) as http:
        declared = await http.post("/imports/zones", content=big)
        streamed = await http.post("/imports/zones", content=chunked())
        fits = await http.post("/imports/zones", json=collection(zone("Z-1")))
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert fits.status_code == 200
    assert await count(conn, "zones") == 1


def test_report_fields_use_the_files_names() -> None:
    assert report_field("input.hazardType") == "properties.hazard_type"
    assert report_field("input.casualties[2].age") == "properties.casualties[2].age"
    assert report_field("input.location") == "geometry"
    assert report_field("input.zoneId") == "properties.zone_code"


async def test_progress_is_reported_per_feature(conn: Conn) -> None:
    seen: list[int] = []
    report = await run_import(
        conn, "zones", collection(zone("P-1"), zone("P-2")), on_feature=lambda: seen.append(1)
    )
    assert (report.created, len(seen)) == (2, 2)


def comparable(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Features without what a new database gives anew: version and timestamps."""
    out = []
    for feature in features:
        properties = {
            k: v
            for k, v in feature["properties"].items()
            if k not in ("version", "created_at", "updated_at")
        }
        out.append({**feature, "properties": properties})
    return out


@pytest.mark.commits
async def test_round_trip_export_import_gives_the_same_records(
    app: Any, conn: Conn, fresh_db_url: str, settings: Settings
) -> None:
    await seed(conn)
    async with client_as(app, "editor") as source:
        zones = (await source.get("/exports/zones.geojson")).json()
        incidents = (await source.get("/exports/incidents.geojson")).json()
    target_conn = await connect(fresh_db_url)
    try:
        target = create_app(settings, db=SingleConnectionSource(target_conn))
        async with client_as(target, "editor") as http:
            for kind, body in (("zones", zones), ("incidents", incidents)):
                response = await http.post(f"/imports/{kind}", json=body)
                assert response.status_code == 200, response.text
                assert response.json()["created"] == len(body["features"])
            zones_again = (await http.get("/exports/zones.geojson")).json()
            incidents_again = (await http.get("/exports/incidents.geojson")).json()
    finally:
        await target_conn.close()
    assert comparable(zones_again["features"]) == comparable(zones["features"])
    assert comparable(incidents_again["features"]) == comparable(incidents["features"])


@pytest.mark.commits
def test_cli_export_then_import_round_trip(
    fresh_db_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = collection(zone("C-1"), zone("C-2", name='with "quotes", commas'))
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    source = tmp_path / "in.geojson"
    source.write_text(json.dumps(body))
    assert main(["import", "zones", str(source), "--dry-run"]) == 0
    assert "2 zones would be created" in capsys.readouterr().out
    assert main(["import", "zones", str(source)]) == 0
    assert "2 zones were created, 0 were updated" in capsys.readouterr().out
    exported = tmp_path / "zones.geojson"
    assert main(["export", "zones", "-o", str(exported)]) == 0
    assert "2 zones written" in capsys.readouterr().err
    features = json.loads(exported.read_text())["features"]
    assert [f["id"] for f in features] == ["C-1", "C-2"]
    as_csv = tmp_path / "zones.csv"
    assert main(["export", "zones", "--format", "csv", "-o", str(as_csv)]) == 0
    lines = as_csv.read_text().splitlines()
    assert lines[1].startswith("#loc+id,") and len(lines) == 4
    assert main(["import", "zones", str(exported)]) == 0
    assert "0 zones were created, 0 were updated, 2 unchanged" in capsys.readouterr().out
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(collection(zone("C-3", priority=7), zone("C-4"))))
    assert main(["import", "zones", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "feature 0: properties.priority" in err and "nothing was imported" in err
    bad.write_text("{")
    assert main(["import", "incidents", str(bad)]) == 2
    bad.write_text("[]")
    assert main(["import", "incidents", str(bad)]) == 1
    assert "must be a GeoJSON FeatureCollection" in capsys.readouterr().err
