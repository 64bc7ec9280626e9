"""recordLandRelease: never more than remains (even concurrently), the zone closes at 0."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from api.errors import BadUserInput
from api.services import land_releases as release_service
from api.services.rules import today
from db.pool import Connection as Conn
from db.pool import connect
from tests.helpers import GraphQLClient, error_fields
from tests.test_tasks import make_task, make_team, make_zone
from tests.test_zones_graphql import square

RECORD = """
mutation($input: LandReleaseInput!) {
  recordLandRelease(input: $input) {
    id method areaM2 geometry releasedOn
    task { code }
    zone { code status releasedAreaM2 remainingAreaM2 statusChangedOn }
  }
}
"""


async def zone_area(conn: Conn, zone_id: str) -> Decimal:
    area: Decimal = await conn.fetchval(
        "SELECT estimated_area_m2 FROM zones WHERE id = $1", int(zone_id)
    )
    return area


async def release_count(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM land_releases"))


def release(zone_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "zoneId": zone_id,
        "method": "REDUCED",
        "releasedOn": today().isoformat(),
    }
    values.update(overrides)
    return {"input": values}


async def record(gql: GraphQLClient, zone_id: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(RECORD, release(zone_id, **overrides))
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["recordLandRelease"]
    return created


async def test_releases_shrink_the_zone_until_it_closes(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-LR1")
    task = await make_task(gql, zone_id, [await make_team(conn, "TM-LR1")], code="LR-T1")
    estimated = await zone_area(conn, zone_id)
    released_on = (today() - timedelta(days=2)).isoformat()

    first = await record(gql, zone_id, areaM2=1000.25, taskId=task["id"], method="CANCELLED")
    assert (first["method"], first["areaM2"], first["geometry"]) == ("CANCELLED", 1000.25, None)
    assert first["task"] == {"code": "LR-T1"}
    assert first["zone"]["status"] == "OPEN"
    assert first["zone"]["releasedAreaM2"] == 1000.25
    assert first["zone"]["remainingAreaM2"] == float(estimated - Decimal("1000.25"))

    rest = float(estimated - Decimal("1000.25"))
    last = await record(gql, zone_id, areaM2=rest, method="CLEARED", releasedOn=released_on)
    assert last["task"] is None
    assert last["zone"]["status"] == "CLOSED"
    assert last["zone"]["remainingAreaM2"] == 0
    assert last["zone"]["statusChangedOn"] == released_on

    listed = await gql(
        "query($id: ID) { zone(id: $id) { releases { method areaM2 zone { code } } } }",
        {"id": zone_id},
    )
    assert [(r["method"], r["zone"]["code"]) for r in listed["data"]["zone"]["releases"]] == [
        ("CLEARED", "HA-LR1"),  # oldest release date first
        ("CANCELLED", "HA-LR1"),
    ]
    by_task = await gql(
        "query($id: ID) { task(id: $id) { releases { areaM2 } } }", {"id": task["id"]}
    )
    assert by_task["data"]["task"]["releases"] == [{"areaM2": 1000.25}]

    closed = await gql(RECORD, release(zone_id, areaM2=1))
    assert closed["errors"][0]["extensions"]["fields"] == [
        {
            "field": "input.areaM2",
            "message": "exceeds the remaining area of 0.00 m² (the zone is CLOSED)",
        }
    ]


async def test_more_than_remains_is_refused_with_the_remaining_area(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await make_zone(gql, "HA-LR2")
    estimated = await zone_area(conn, zone_id)
    await record(gql, zone_id, areaM2=2000)
    before = await release_count(conn)
    body = await gql(RECORD, release(zone_id, areaM2=float(estimated)))
    remaining = estimated - 2000
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["message"] == (
        f"input.areaM2: exceeds the remaining area of {remaining} m²"
    )
    assert await release_count(conn) == before
    released = await conn.fetchval("SELECT released_area_m2 FROM zones WHERE id = $1", int(zone_id))
    assert released == 2000


async def test_a_geometry_inside_the_zone_gives_the_area(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-LR3")  # the square 10..10.001
    half = {
        "type": "Polygon",
        "coordinates": [[[10, 10], [10.0005, 10], [10.0005, 10.001], [10, 10.001], [10, 10]]],
    }
    created = await record(gql, zone_id, geometry=half, method="CLEARED")
    expected = await conn.fetchval(
        "SELECT round(ST_Area(ST_GeomFromGeoJSON($1::text)::geography)::numeric, 2)",
        '{"type":"Polygon","coordinates":[[[10,10],[10.0005,10],[10.0005,10.001],[10,10.001],'
        "[10,10]]]}",
    )
    assert created["areaM2"] == float(expected)
    assert created["geometry"]["type"] == "MultiPolygon"
    assert created["zone"]["releasedAreaM2"] == float(expected)

    # The other half is released by geometry too; a third time nothing remains.
    other = {
        "type": "Polygon",
        "coordinates": [
            [[10.0005, 10], [10.001, 10], [10.001, 10.001], [10.0005, 10.001], [10.0005, 10]]
        ],
    }
    await record(gql, zone_id, geometry=other, method="CLEARED")
    again = await gql(RECORD, release(zone_id, geometry=half))
    assert error_fields(again) == ["input.geometry"]
    assert "exceeds the remaining area of" in again["errors"][0]["message"]


async def test_every_bad_field_of_a_release_is_named_and_nothing_is_written(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await make_zone(gql, "HA-LR4")
    other_zone = await make_zone(gql, "HA-LR5", lon=12)
    foreign_task = await make_task(gql, other_zone, [await make_team(conn, "TM-LR4")])
    before = await release_count(conn)

    async def fields(**overrides: Any) -> list[str]:
        body = await gql(RECORD, release(zone_id, **overrides))
        assert await release_count(conn) == before
        return error_fields(body)

    assert await fields() == ["input.areaM2", "input.geometry"]
    assert await fields(areaM2=10, geometry=square(10, 10, 0.0001)) == [
        "input.areaM2",
        "input.geometry",
    ]
    assert await fields(areaM2=0) == ["input.areaM2"]
    assert await fields(areaM2=-5) == ["input.areaM2"]
    assert await fields(areaM2=0.004) == ["input.areaM2"]  # rounds to 0.00 m²
    tomorrow = (today() + timedelta(days=1)).isoformat()
    assert await fields(areaM2=10, releasedOn=tomorrow) == ["input.releasedOn"]
    assert await fields(areaM2=10, taskId=foreign_task["id"]) == ["input.taskId"]
    assert await fields(areaM2=10, taskId="999999") == ["input.taskId"]
    outside = square(10.0008, 10.0008, 0.001)  # mostly east and north of the zone
    assert await fields(geometry=outside) == ["input.geometry"]
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[10, 10], [10.001, 10.001], [10.001, 10], [10, 10.001], [10, 10]]],
    }
    assert await fields(geometry=bowtie) == ["input.geometry"]
    assert await fields(geometry={"type": "Point", "coordinates": [10, 10]}) == ["input.geometry"]
    missing_zone = await gql(RECORD, release("999999", areaM2=10))
    assert error_fields(missing_zone) == ["input.zoneId"]
    malformed = await gql(RECORD, release("zone", areaM2=10, taskId="task"))
    assert error_fields(malformed) == ["input.zoneId", "input.taskId"]
    assert await release_count(conn) == before

    body = await gql(RECORD, release(zone_id, geometry=outside))
    assert "must lie inside the zone" in body["errors"][0]["message"]


async def test_no_cancelled_release_after_a_cleared_one(gql: GraphQLClient, conn: Conn) -> None:
    zone_id = await make_zone(gql, "HA-LR6")
    await record(gql, zone_id, areaM2=100, method="CANCELLED")
    await record(gql, zone_id, areaM2=100, method="CLEARED")
    await record(gql, zone_id, areaM2=100, method="REDUCED")
    before = await release_count(conn)
    body = await gql(RECORD, release(zone_id, areaM2=100, method="CANCELLED"))
    assert error_fields(body) == ["input.method"]
    assert "already has a CLEARED release" in body["errors"][0]["message"]
    assert await release_count(conn) == before


async def _committed_zone(conn: Conn) -> tuple[int, Decimal]:
    row = await conn.fetchrow(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, "
        "estimated_area_m2, priority) VALUES ('HA-RACE', 'Race', 'CHA', '{AP_MINE}', "
        "ST_Multi(ST_GeomFromText('POLYGON((0 0, 0.001 0, 0.001 0.001, 0 0.001, 0 0))', 4326)), "
        "0, 1) RETURNING id, estimated_area_m2"
    )
    assert row is not None
    return row["id"], row["estimated_area_m2"]


async def _wait_until_blocked(watcher: Conn, pid: int) -> None:
    """Return once the backend `pid` waits for a lock."""
    for _ in range(500):
        waiting = await watcher.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second release never waited for the first")


@pytest.mark.commits
async def test_concurrent_releases_never_exceed_the_zone(fresh_db_url: str) -> None:
    first, second, watcher = [await connect(fresh_db_url) for _ in range(3)]
    try:
        zone_id, estimated = await _committed_zone(watcher)
        share = float((estimated * Decimal("0.6")).quantize(Decimal("0.01")))
        new = release_service.NewLandRelease(
            zone_id=zone_id, method="REDUCED", released_on=today(), area_m2=share
        )
        holding = first.transaction()
        await holding.start()
        await release_service.record_land_release(first, new)  # locks the zone until commit
        racing = asyncio.create_task(release_service.record_land_release(second, new))
        await _wait_until_blocked(watcher, second.get_server_pid())
        await holding.commit()
        with pytest.raises(BadUserInput) as refused:
            await racing
        remaining = estimated - Decimal(str(share))
        assert [(f.field, f.message) for f in refused.value.fields] == [
            ("input.areaM2", f"exceeds the remaining area of {remaining} m²")
        ]
        row = await watcher.fetchrow(
            "SELECT released_area_m2, (SELECT count(*) FROM land_releases) AS n FROM zones "
            "WHERE id = $1",
            zone_id,
        )
        assert row is not None and (row["released_area_m2"], row["n"]) == (Decimal(str(share)), 1)
    finally:
        for conn in (first, second, watcher):
            await conn.close()


@pytest.mark.commits
async def test_the_database_alone_refuses_concurrent_excess(fresh_db_url: str) -> None:
    """Writers that bypass the service are held back by the trigger's lock on the zone."""
    first, second, watcher = [await connect(fresh_db_url) for _ in range(3)]
    insert = (
        "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
        "VALUES ($1, 'REDUCED', $2, current_date)"
    )
    try:
        zone_id, estimated = await _committed_zone(watcher)
        share = (estimated * Decimal("0.6")).quantize(Decimal("0.01"))
        holding = first.transaction()
        await holding.start()
        await first.execute(insert, zone_id, share)
        racing = asyncio.create_task(second.execute(insert, zone_id, share))
        await _wait_until_blocked(watcher, second.get_server_pid())
        await holding.commit()
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await racing
        assert refused.value.constraint_name == "land_releases_area_exceeds_remaining"
        released = await watcher.fetchval(
            "SELECT released_area_m2 FROM zones WHERE id = $1", zone_id
        )
        assert released == share
    finally:
        for conn in (first, second, watcher):
            await conn.close()


async def test_closing_is_dated_by_the_release_even_on_the_previous_change_day(
    gql: GraphQLClient, conn: Conn
) -> None:
    zone_id = await make_zone(gql, "HA-LR7")
    earlier = today() - timedelta(days=7)
    # As if the zone had last changed status a week ago (a task started that day).
    await conn.execute(
        "UPDATE zones SET status_changed_on = $2 WHERE id = $1", int(zone_id), earlier
    )
    estimated = await zone_area(conn, zone_id)
    closed = await record(gql, zone_id, areaM2=float(estimated), releasedOn=earlier.isoformat())
    assert closed["zone"]["status"] == "CLOSED"
    assert closed["zone"]["statusChangedOn"] == earlier.isoformat()
