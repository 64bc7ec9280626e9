"""Re-importing what is stored changes nothing: no version, no audit entry, no event; the report
counts those records as unchanged, over REST and from the CLI."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from api.app import create_app
from api.cli import main
from api.settings import Settings
from db.pool import SingleConnectionSource, connect
from tests.test_exports import client_as, seed

pytestmark = pytest.mark.commits

CHANNELS = ("mar_zone_changed", "mar_incident_recorded")


class Events:
    """Every NOTIFY on the record channels, heard on a LISTEN connection of its own."""

    def __init__(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        self.conn = conn
        self.heard: list[tuple[str, str]] = []

    async def start(self) -> None:
        for channel in CHANNELS:
            await self.conn.add_listener(channel, self._hear)

    def _hear(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self.heard.append((channel, payload))

    async def since_mark(self, writer: asyncpg.Connection[asyncpg.Record]) -> list[tuple[str, str]]:
        """Send a mark after the writes and wait for it: what came before it is what they fired
        (notifications arrive in commit order)."""
        await writer.execute("SELECT pg_notify('mar_zone_changed', 'mark')")
        async with asyncio.timeout(10):
            while ("mar_zone_changed", "mark") not in self.heard:
                await asyncio.sleep(0.01)
        events = self.heard[: self.heard.index(("mar_zone_changed", "mark"))]
        self.heard.clear()
        return events


async def state(conn: asyncpg.Connection[asyncpg.Record]) -> tuple[Any, ...]:
    """Every record's version, and the length of the audit log."""
    zones = await conn.fetch("SELECT code, version FROM zones ORDER BY code")
    incidents = await conn.fetch("SELECT code, version FROM incidents ORDER BY code")
    audit = await conn.fetchval("SELECT count(*) FROM audit_log")
    return [tuple(r) for r in zones], [tuple(r) for r in incidents], audit


async def test_reimporting_an_export_is_a_no_op(fresh_db_url: str, settings: Settings) -> None:
    conn = await connect(fresh_db_url)
    listener = await connect(fresh_db_url)
    try:
        await seed(conn)
        events = Events(listener)
        await events.start()
        app = create_app(settings, db=SingleConnectionSource(conn))
        async with client_as(app, "editor") as http:
            zones = (await http.get("/exports/zones.geojson")).json()
            incidents = (await http.get("/exports/incidents.geojson")).json()
            await events.since_mark(conn)
            before = await state(conn)
            for kind, body in (("zones", zones), ("incidents", incidents)):
                response = await http.post(f"/imports/{kind}", json=body)
                assert response.status_code == 200, response.text
                assert response.json() == {
                    "created": 0,
                    "updated": 0,
                    "unchanged": len(body["features"]),
                    "errors": [],
                    "dryRun": False,
                }
            assert await state(conn) == before
            assert await events.since_mark(conn) == []

            # One changed value is one update, one audit entry, one event; the rest stay put.
            zones["features"][1]["properties"]["name"] = "Ridge, renamed"
            response = await http.post("/imports/zones", json=zones)
            assert response.json()["updated"] == 1 and response.json()["unchanged"] == 1
            zone_versions, incident_versions, audit = await state(conn)
            assert zone_versions == [("HA-1", 1), ("HA-2", 2)]
            assert incident_versions == before[1] and audit == before[2] + 1
            heard = await events.since_mark(conn)
            assert [channel for channel, _ in heard] == ["mar_zone_changed"]

            # A moved geometry or a changed casualty is a change, too.
            zones["features"][0]["geometry"]["coordinates"][0][0][0][0] += 0.001
            zones["features"][0]["geometry"]["coordinates"][0][0][-1][0] += 0.001
            assert (await http.post("/imports/zones", json=zones)).json()["updated"] == 1
            incidents["features"][0]["properties"]["casualties"][0]["age"] = 13
            answer = (await http.post("/imports/incidents", json=incidents)).json()
            assert (answer["updated"], answer["unchanged"]) == (1, 2), answer
    finally:
        await listener.close()
        await conn.close()


def test_cli_reimport_of_an_export_changes_nothing(
    fresh_db_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)

    async def seeded() -> tuple[Any, ...]:
        conn = await connect(fresh_db_url)
        try:
            if not await conn.fetchval("SELECT count(*) FROM zones"):
                await seed(conn)
            return await state(conn)
        finally:
            await conn.close()

    before = asyncio.run(seeded())
    for kind in ("zones", "incidents"):
        exported = tmp_path / f"{kind}.geojson"
        assert main(["export", kind, "--personal-data", "-o", str(exported)]) == 0
        count = len(json.loads(exported.read_text())["features"])
        capsys.readouterr()
        assert main(["import", kind, str(exported)]) == 0
        out = capsys.readouterr().out
        assert f"0 {kind} were created, 0 were updated, {count} unchanged" in out
    assert asyncio.run(seeded()) == before


def test_a_csv_file_is_refused_naming_the_format_imports_read(
    fresh_db_url: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    exported = tmp_path / "zones.csv"
    assert main(["export", "zones", "--format", "csv", "-o", str(exported)]) == 0
    capsys.readouterr()
    assert main(["import", "zones", str(exported)]) == 2
    err = capsys.readouterr().err
    assert "looks like CSV, which cannot be imported" in err
    assert "GeoJSON FeatureCollection" in err and "mar export zones -o zones.geojson" in err
    assert "Expecting value" not in err  # no raw decoder message for a CSV


async def test_rest_names_the_format_too(fresh_db_url: str, settings: Settings) -> None:
    conn = await connect(fresh_db_url)
    try:
        app = create_app(settings, db=SingleConnectionSource(conn))
        async with client_as(app, "editor") as http:
            csv = b"code,name\n#loc+id,#loc+name\nHA-1,Field\n"
            response = await http.post(
                "/imports/incidents", content=csv, headers={"content-type": "application/json"}
            )
            assert response.status_code == 400, response.text
            (problem,) = response.json()["fields"]
            assert problem["field"] == "body"
            assert "looks like CSV" in problem["message"]
            assert "/exports/incidents.geojson" in problem["message"]
            response = await http.post(
                "/imports/zones", content=b"{", headers={"content-type": "application/json"}
            )
            assert "GeoJSON FeatureCollection" in response.text
    finally:
        await conn.close()
