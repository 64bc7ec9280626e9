"""The database itself refuses what DOMAIN.md forbids, each refusal under its constraint's name."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from alembic.config import Config

from alembic import command
from db.constraints import CONSTRAINTS

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_URL = "postgresql://mar:mar@127.0.0.1:54329/mar"

# A square of about 1.1 km x 1.1 km near the equator, and one inside it.
ZONE_WKT = "SRID=4326;MULTIPOLYGON(((30 10,30.01 10,30.01 10.01,30 10.01,30 10)))"
INNER_WKT = "SRID=4326;MULTIPOLYGON(((30 10,30.005 10,30.005 10.005,30 10.005,30 10)))"
OUTSIDE_WKT = "SRID=4326;MULTIPOLYGON(((31 10,31.005 10,31.005 10.005,31 10.005,31 10)))"
BOWTIE_WKT = "SRID=4326;MULTIPOLYGON(((0 0,1 1,1 0,0 1,0 0)))"


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or FALLBACK_URL


def _url_of(name: str) -> str:
    return urlunsplit(urlsplit(_server_url())._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
async def schema_url() -> AsyncIterator[str]:
    """Yield the URL of a scratch database migrated to head; drop it afterwards."""
    name = f"mar_constraints_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_server_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = _url_of(name)
        config = Config(str(ROOT / "alembic.ini"))
        config.set_main_option("script_location", str(ROOT / "alembic"))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        config.attributes["configure_logger"] = False
        await asyncio.to_thread(command.upgrade, config, "head")
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def conn(schema_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Yield a connection inside a transaction that is rolled back at the end."""
    connection = await asyncpg.connect(schema_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


async def refused(conn: asyncpg.Connection, constraint: str, sql: str, *args: Any) -> None:
    """Assert that `sql` is refused under the name `constraint`, which db.constraints knows."""
    assert constraint in CONSTRAINTS
    with pytest.raises(asyncpg.IntegrityConstraintViolationError) as caught:
        async with conn.transaction():
            await conn.execute(sql, *args)
    assert caught.value.constraint_name == constraint, str(caught.value)


async def organisation(conn: asyncpg.Connection) -> int:
    code = f"ORG-{uuid.uuid4().hex[:6]}"
    return int(
        await conn.fetchval(
            "INSERT INTO organisations (code, name, org_type, country) "
            "VALUES ($1, 'Operator', 'INTERNATIONAL_NGO', 'GB') RETURNING id",
            code,
        )
    )


async def team(
    conn: asyncpg.Connection, *, status: str = "ACTIVE", expires: str = "current_date + 30"
) -> int:
    org_id = await organisation(conn)
    return int(
        await conn.fetchval(
            "INSERT INTO teams (code, name, organisation_id, capabilities, size, status, "
            f"accreditation_expires_on) VALUES ($1, 'Team', $2, '{{MANUAL}}', 8, $3, {expires}) "
            "RETURNING id",
            f"TM-{uuid.uuid4().hex[:6]}",
            org_id,
            status,
        )
    )


async def zone(conn: asyncpg.Connection, wkt: str = ZONE_WKT) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
            "VALUES ($1, 'Field', 'CHA', '{AP_MINE}', $2::geometry, 2) RETURNING id",
            f"HA-{uuid.uuid4().hex[:6]}",
            wkt,
        )
    )


async def task(conn: asyncpg.Connection, zone_id: int, status: str = "PLANNED") -> int:
    task_id = int(
        await conn.fetchval(
            "INSERT INTO tasks (code, zone_id, task_type) VALUES ($1, $2, 'CLEARANCE') "
            "RETURNING id",
            f"TK-{uuid.uuid4().hex[:6]}",
            zone_id,
        )
    )
    await conn.execute("INSERT INTO task_teams VALUES ($1, $2)", task_id, await team(conn))
    if status != "PLANNED":
        await conn.execute("UPDATE tasks SET status = 'ONGOING' WHERE id = $1", task_id)
    if status not in ("PLANNED", "ONGOING"):
        await conn.execute("UPDATE tasks SET status = $2 WHERE id = $1", task_id, status)
    return task_id


async def zone_state(conn: asyncpg.Connection, zone_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, status_changed_on, estimated_area_m2, released_area_m2, "
        "remaining_area_m2, version FROM zones WHERE id = $1",
        zone_id,
    )
    assert row is not None
    return row


async def test_every_constraint_name_is_mapped(conn: asyncpg.Connection) -> None:
    declared = await conn.fetch(
        "SELECT conname FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
        "WHERE r.relnamespace = 'public'::regnamespace AND c.contype <> 't' "
        "AND r.relname NOT IN ('spatial_ref_sys', 'alembic_version')"
    )
    raised = await conn.fetch(
        "SELECT DISTINCT (regexp_matches(prosrc, 'CONSTRAINT = ''([a-z0-9_]+)''', 'g'))[1] "
        "AS conname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
    )
    # A unique index that is no constraint (a partial one) reports its own name as one.
    unique_indexes = await conn.fetch(
        "SELECT c.relname AS conname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indisunique AND c.relnamespace = 'public'::regnamespace "
        "AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "AND i.indrelid <> 'spatial_ref_sys'::regclass"
    )
    names = {row["conname"] for row in [*declared, *raised, *unique_indexes]}
    assert len(raised) >= 15
    assert names - CONSTRAINTS.keys() == set()
    assert CONSTRAINTS.keys() - names == set()


async def test_zone_priority_and_code(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    await refused(
        conn, "zones_priority_range", "UPDATE zones SET priority = 6 WHERE id = $1", zone_id
    )
    code = await conn.fetchval("SELECT code FROM zones WHERE id = $1", zone_id)
    await refused(
        conn,
        "zones_code_unique",
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
        "VALUES ($1, 'Copy', 'SHA', '{UXO}', $2::geometry, 1)",
        code,
        ZONE_WKT,
    )
    # Codes are case-sensitive: the lower-case twin is another zone.
    await conn.execute(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
        "VALUES ($1, 'Twin', 'SHA', '{UXO}', $2::geometry, 1)",
        code.lower(),
        ZONE_WKT,
    )


async def test_zone_enumerations(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    update = "UPDATE zones SET {} WHERE id = $1"
    await refused(conn, "zones_hazard_type_valid", update.format("hazard_type = 'X'"), zone_id)
    await refused(
        conn, "zones_contamination_valid", update.format("contamination = '{MINE}'"), zone_id
    )
    await refused(
        conn, "zones_contamination_not_empty", update.format("contamination = '{}'"), zone_id
    )
    await refused(
        conn,
        "zones_contamination_distinct",
        update.format("contamination = '{UXO,UXO}'"),
        zone_id,
    )
    await refused(conn, "zones_land_use_valid", update.format("land_use = 'farm'"), zone_id)


async def test_zone_area_computed_on_the_spheroid(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    state = await zone_state(conn, zone_id)
    expected = await conn.fetchval(
        "SELECT round(ST_Area($1::geometry::geography)::numeric, 2)", ZONE_WKT
    )
    assert state["estimated_area_m2"] == expected
    assert state["remaining_area_m2"] == expected
    assert state["status"] == "OPEN"


async def test_zone_geometry_rules(conn: asyncpg.Connection) -> None:
    insert = (
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
        "VALUES ('HA-GEOM', 'Bad', 'SHA', '{UXO}', $1::geometry, 3)"
    )
    await refused(conn, "zones_geometry_valid", insert, BOWTIE_WKT)
    await refused(conn, "zones_geometry_not_empty", insert, "SRID=4326;MULTIPOLYGON EMPTY")
    await refused(
        conn,
        "zones_geometry_in_bounds",
        insert,
        "SRID=4326;MULTIPOLYGON(((190 10,191 10,191 11,190 11,190 10)))",
    )
    with pytest.raises(asyncpg.DataError):  # the SRID is part of the column type
        async with conn.transaction():
            await conn.execute(insert, ZONE_WKT.replace("4326", "3857"))


async def test_version_and_updated_at_follow_updates(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    await conn.execute("UPDATE zones SET name = 'Renamed' WHERE id = $1", zone_id)
    row = await conn.fetchrow("SELECT version, updated_at FROM zones WHERE id = $1", zone_id)
    assert row is not None
    assert row["version"] == 2


async def test_organisation_and_team_ranges(conn: asyncpg.Connection) -> None:
    org_id = await organisation(conn)
    await refused(
        conn,
        "organisations_country_format",
        "UPDATE organisations SET country = 'gb' WHERE id = $1",
        org_id,
    )
    team_id = await team(conn)
    update = "UPDATE teams SET {} WHERE id = $1"
    await refused(conn, "teams_size_range", update.format("size = 501"), team_id)
    await refused(conn, "teams_size_range", update.format("size = 0"), team_id)
    await refused(conn, "teams_capabilities_valid", update.format("capabilities = '{X}'"), team_id)
    await refused(conn, "teams_status_valid", update.format("status = 'GONE'"), team_id)


async def test_task_moves(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    await refused(
        conn,
        "tasks_status_initial",
        "INSERT INTO tasks (code, zone_id, task_type, status) "
        "VALUES ('TK-NEW', $1, 'TS', 'ONGOING')",
        zone_id,
    )
    task_id = await task(conn, zone_id)
    move = "UPDATE tasks SET status = $2 WHERE id = $1"
    await refused(conn, "tasks_status_transition", move, task_id, "COMPLETED")
    await refused(conn, "tasks_status_transition", move, task_id, "SUSPENDED")
    await conn.execute(move, task_id, "ONGOING")
    await refused(conn, "tasks_status_transition", move, task_id, "CANCELLED")
    await conn.execute(move, task_id, "SUSPENDED")
    await refused(conn, "tasks_status_transition", move, task_id, "COMPLETED")
    await conn.execute(move, task_id, "ONGOING")
    await conn.execute(move, task_id, "COMPLETED")
    await refused(conn, "tasks_status_transition", move, task_id, "ONGOING")
    row = await conn.fetchrow("SELECT started_on, completed_on FROM tasks WHERE id = $1", task_id)
    assert row is not None
    assert row["started_on"] is not None
    assert row["completed_on"] is not None


async def test_task_dates(conn: asyncpg.Connection) -> None:
    task_id = await task(conn, await zone(conn))
    await refused(
        conn,
        "tasks_planned_end_after_start",
        "UPDATE tasks SET planned_start = '2024-05-02', planned_end = '2024-05-01' WHERE id = $1",
        task_id,
    )
    await refused(
        conn,
        "tasks_completed_after_started",
        "UPDATE tasks SET started_on = '2024-05-02', completed_on = '2024-05-01' WHERE id = $1",
        task_id,
    )


async def test_task_needs_a_team_at_commit(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    with pytest.raises(asyncpg.CheckViolationError) as caught:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO tasks (code, zone_id, task_type) VALUES ('TK-ALONE', $1, 'NTS')",
                zone_id,
            )
            # The check is deferred to commit; asking for it now runs it at once.
            await conn.execute("SET CONSTRAINTS tasks_require_team IMMEDIATE")
    assert caught.value.constraint_name == "tasks_teams_required"


async def test_zone_status_follows_tasks(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    first = await task(conn, zone_id)
    second = await task(conn, zone_id)
    move = "UPDATE tasks SET status = $2 WHERE id = $1"
    assert (await zone_state(conn, zone_id))["status"] == "OPEN"

    await conn.execute(move, first, "ONGOING")
    state = await zone_state(conn, zone_id)
    assert state["status"] == "WORKED_ON"
    assert state["status_changed_on"] == await conn.fetchval("SELECT current_date")

    await conn.execute(move, second, "ONGOING")
    await conn.execute(move, first, "SUSPENDED")
    assert (await zone_state(conn, zone_id))["status"] == "WORKED_ON"  # second still ongoing
    await conn.execute(move, second, "COMPLETED")
    assert (await zone_state(conn, zone_id))["status"] == "OPEN"

    await conn.execute("UPDATE zones SET status = 'CLOSED' WHERE id = $1", zone_id)
    await conn.execute(move, first, "ONGOING")
    assert (await zone_state(conn, zone_id))["status"] == "CLOSED"  # never touched once closed


async def test_team_must_be_available(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    task_id = await task(conn, zone_id)
    add = "INSERT INTO task_teams (task_id, team_id) VALUES ($1, $2)"
    expired = await team(conn, expires="current_date - 1")
    await refused(conn, "task_teams_team_accreditation_expired", add, task_id, expired)
    inactive = await team(conn, status="INACTIVE")
    await refused(conn, "task_teams_team_inactive", add, task_id, inactive)
    await conn.execute(add, task_id, await team(conn, status="STANDBY", expires="NULL"))


async def test_progress_reports(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    planned = await task(conn, zone_id)
    report = (
        "INSERT INTO progress_reports (task_id, report_date, area_searched_m2) VALUES ($1, {}, 10)"
    )
    await refused(conn, "progress_reports_task_not_ongoing", report.format("current_date"), planned)
    ongoing = await task(conn, zone_id, "ONGOING")
    await refused(
        conn, "progress_reports_report_date_not_future", report.format("current_date + 1"), ongoing
    )
    await refused(
        conn,
        "progress_reports_report_date_before_start",
        report.format("current_date - 1"),
        ongoing,
    )
    report_id = await conn.fetchval(report.format("current_date") + " RETURNING id", ongoing)
    find = (
        "INSERT INTO device_finds (progress_report_id, category, quantity, disposal) "
        "VALUES ($1, 'AP_MINE', $2, 'DESTROYED_IN_SITU')"
    )
    await refused(conn, "device_finds_quantity_positive", find, report_id, 0)
    await conn.execute(find, report_id, 3)


async def test_release_cancelled_after_cleared(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    release = (
        "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
        "VALUES ($1, $2, 100, current_date)"
    )
    await conn.execute(release, zone_id, "CANCELLED")  # before any clearance: fine
    await conn.execute(release, zone_id, "CLEARED")
    await refused(conn, "land_releases_cancelled_after_cleared", release, zone_id, "CANCELLED")
    await conn.execute(release, zone_id, "REDUCED")


async def test_release_exceeding_the_area(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    estimated = (await zone_state(conn, zone_id))["estimated_area_m2"]
    release = (
        "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
        "VALUES ($1, 'REDUCED', $2, current_date)"
    )
    await conn.execute(release, zone_id, estimated / 2)
    await refused(conn, "land_releases_area_exceeds_remaining", release, zone_id, estimated)
    await refused(conn, "land_releases_area_positive", release, zone_id, 0)
    # The zone's own CHECK holds the total even when the trigger is bypassed by a direct write.
    await refused(
        conn,
        "zones_released_within_estimated",
        "UPDATE zones SET released_area_m2 = estimated_area_m2 + 1 WHERE id = $1",
        zone_id,
    )


async def test_release_closes_the_zone_at_zero(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    await task(conn, zone_id, "ONGOING")
    estimated = (await zone_state(conn, zone_id))["estimated_area_m2"]
    release = (
        "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
        "VALUES ($1, 'CLEARED', $2, $3)"
    )
    await conn.execute(release, zone_id, estimated - 1, date(2024, 3, 1))
    state = await zone_state(conn, zone_id)
    assert (state["status"], state["remaining_area_m2"]) == ("WORKED_ON", 1)
    await conn.execute(release, zone_id, 1, date(2024, 3, 5))
    state = await zone_state(conn, zone_id)
    assert state["status"] == "CLOSED"
    assert state["remaining_area_m2"] == 0
    assert state["status_changed_on"] == date(2024, 3, 5)


async def test_release_geometry(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    release = (
        "INSERT INTO land_releases (zone_id, method, geometry, released_on) "
        "VALUES ($1, 'REDUCED', $2::geometry, current_date) RETURNING area_m2"
    )
    await refused(conn, "land_releases_geometry_within_zone", release, zone_id, OUTSIDE_WKT)
    await refused(conn, "land_releases_geometry_valid", release, zone_id, BOWTIE_WKT)
    await refused(
        conn,
        "land_releases_area_required",
        "INSERT INTO land_releases (zone_id, method, released_on) "
        "VALUES ($1, 'REDUCED', current_date)",
        zone_id,
    )
    area = await conn.fetchval(release, zone_id, INNER_WKT)
    expected = await conn.fetchval(
        "SELECT round(ST_Area($1::geometry::geography)::numeric, 2)", INNER_WKT
    )
    assert area == expected
    assert (await zone_state(conn, zone_id))["released_area_m2"] == expected


async def test_release_task_in_same_zone(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    other_task = await task(conn, await zone(conn))
    await refused(
        conn,
        "land_releases_task_zone_mismatch",
        "INSERT INTO land_releases (zone_id, task_id, method, area_m2, released_on) "
        "VALUES ($1, $2, 'CLEARED', 10, current_date)",
        zone_id,
        other_task,
    )


async def test_release_is_not_edited(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    release_id = await conn.fetchval(
        "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
        "VALUES ($1, 'CLEARED', 10, current_date) RETURNING id",
        zone_id,
    )
    await refused(
        conn,
        "land_releases_immutable",
        "UPDATE land_releases SET area_m2 = 5 WHERE id = $1",
        release_id,
    )
    await conn.execute("DELETE FROM land_releases WHERE id = $1", release_id)
    assert (await zone_state(conn, zone_id))["released_area_m2"] == 0


async def test_incident_rules(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    insert = (
        "INSERT INTO incidents (code, incident_type, occurred_on, location) "
        "VALUES ($1, 'MINE_ACCIDENT', {}, ST_SetSRID(ST_MakePoint($2, $3), 4326)) "
        "RETURNING zone_id"
    )
    await refused(
        conn,
        "incidents_occurred_on_not_future",
        insert.format("current_date + 1"),
        "INC-FUT",
        30.005,
        10.005,
    )
    linked = await conn.fetchval(insert.format("current_date"), "INC-IN", 30.005, 10.005)
    assert linked == zone_id
    overlapping = await zone(conn)
    assert overlapping > zone_id
    again = await conn.fetchval(insert.format("current_date"), "INC-IN2", 30.002, 10.002)
    assert again == zone_id  # lowest id on ties
    outside = await conn.fetchval(insert.format("'2020-11-10'"), "INC-OUT", 50.0, 10.0)
    assert outside is None
    await refused(
        conn,
        "incidents_location_in_bounds",
        insert.format("current_date"),
        "INC-FAR",
        200.0,
        10.0,
    )


async def test_casualty_age_group(conn: asyncpg.Connection) -> None:
    incident_id = await conn.fetchval(
        "INSERT INTO incidents (code, incident_type, occurred_on, location) "
        "VALUES ('INC-AGE', 'UXO_AXO_ACCIDENT', '2024-01-01', 'SRID=4326;POINT(50 10)') "
        "RETURNING id"
    )
    groups = await conn.fetch(
        "INSERT INTO casualties (incident_id, outcome, age) "
        "SELECT $1, 'KILLED', a FROM unnest($2::smallint[]) WITH ORDINALITY AS t(a, n) "
        "ORDER BY n RETURNING age_group",
        incident_id,
        [None, 0, 17, 18, 120],
    )
    assert [row["age_group"] for row in groups] == ["UNKNOWN", "CHILD", "CHILD", "ADULT", "ADULT"]
    await refused(
        conn,
        "casualties_age_range",
        "INSERT INTO casualties (incident_id, age) VALUES ($1, 121)",
        incident_id,
    )


async def test_concurrent_releases_never_exceed_the_area(schema_url: str) -> None:
    """Two committed releases of 60 % each: the zone lock lets exactly one in."""
    setup = await asyncpg.connect(schema_url)
    try:
        zone_id = await zone(setup)
        estimated = (await zone_state(setup, zone_id))["estimated_area_m2"]
    finally:
        await setup.close()

    async def release() -> str:
        connection = await asyncpg.connect(schema_url)
        try:
            await connection.execute(
                "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
                "VALUES ($1, 'REDUCED', $2, current_date)",
                zone_id,
                estimated * 6 / 10,
            )
            return "ok"
        except asyncpg.CheckViolationError as error:
            return error.constraint_name or ""
        finally:
            await connection.close()

    outcomes = await asyncio.gather(release(), release())
    assert sorted(outcomes) == ["land_releases_area_exceeds_remaining", "ok"]


async def test_event_dates_from_1900(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    await refused(
        conn,
        "zones_recorded_on_from_1900",
        "UPDATE zones SET recorded_on = '1899-12-31' WHERE id = $1",
        zone_id,
    )
    await conn.execute("UPDATE zones SET recorded_on = '1900-01-01' WHERE id = $1", zone_id)
    await refused(
        conn,
        "incidents_occurred_on_from_1900",
        "INSERT INTO incidents (code, incident_type, occurred_on, location) "
        "VALUES ('ACC-1899', 'MINE_ACCIDENT', '0024-05-01', 'SRID=4326;POINT(10 10)')",
    )
    await refused(
        conn,
        "land_releases_released_on_from_1900",
        "INSERT INTO land_releases (zone_id, method, area_m2, released_on) "
        "VALUES ($1, 'REDUCED', 1, '1899-12-31')",
        zone_id,
    )


async def test_release_not_before_its_task_started(conn: asyncpg.Connection) -> None:
    zone_id = await zone(conn)
    task_id = await task(conn, zone_id, "ONGOING")
    await conn.execute("UPDATE tasks SET started_on = '2024-03-10' WHERE id = $1", task_id)
    release = (
        "INSERT INTO land_releases (zone_id, task_id, method, area_m2, released_on) "
        "VALUES ($1, $2, 'CLEARED', 1, $3)"
    )
    await refused(
        conn,
        "land_releases_released_before_task_started",
        release,
        zone_id,
        task_id,
        date(2024, 3, 9),
    )
    await conn.execute(release, zone_id, task_id, date(2024, 3, 10))


async def test_casualties_per_incident_are_capped(conn: asyncpg.Connection) -> None:
    incident_id = await conn.fetchval(
        "INSERT INTO incidents (code, incident_type, occurred_on, location) "
        "VALUES ('ACC-CAP', 'MINE_ACCIDENT', '2024-05-01', 'SRID=4326;POINT(10 10)') RETURNING id"
    )
    add = "INSERT INTO casualties (incident_id, outcome) VALUES ($1, 'INJURED')"
    # Without the service's setting, a writer gets the default of 1000.
    await conn.execute(
        "INSERT INTO casualties (incident_id, outcome) "
        "SELECT $1, 'KILLED' FROM generate_series(1, 1000)",
        incident_id,
    )
    await refused(conn, "casualties_per_incident_cap", add, incident_id)
    await conn.execute("SET LOCAL mar.max_casualties_per_incident = 1001")
    await conn.execute(add, incident_id)
    await refused(conn, "casualties_per_incident_cap", add, incident_id)


async def test_zone_area_below_10_to_the_12_square_metres(conn: asyncpg.Connection) -> None:
    huge = "SRID=4326;MULTIPOLYGON(((0 0, 20 0, 20 60, 0 60, 0 0)))"  # about 1.4e13 m2
    await refused(
        conn,
        "zones_estimated_area_max",
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
        "VALUES ('HA-HUGE', 'Huge', 'SHA', '{AP_MINE}', $1::geometry, 2)",
        huge,
    )
    zone_id = await zone(conn)
    await refused(
        conn,
        "zones_estimated_area_max",
        "UPDATE zones SET geometry = $2::geometry WHERE id = $1",
        zone_id,
        huge,
    )


async def test_no_edge_spans_180_degrees_of_longitude(conn: asyncpg.Connection) -> None:
    insert = (
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
        "VALUES ($1, 'Pacific', 'SHA', '{UXO}', $2::geometry, 2)"
    )
    band = "SRID=4326;MULTIPOLYGON(((170 0, -170 0, -170 1, 170 1, 170 0)))"
    antipodal = "SRID=4326;MULTIPOLYGON(((-90 0, 90 0, 90 1, -90 1, -90 0)))"
    for wkt in (band, antipodal):
        await refused(conn, "zones_geometry_antimeridian", insert, "HA-BAND", wkt)
    # Split at the antimeridian, the same area is a zone of two parts, each measured correctly.
    split = (
        "SRID=4326;MULTIPOLYGON(((170 0, 180 0, 180 1, 170 1, 170 0)),"
        "((-180 0, -170 0, -170 1, -180 1, -180 0)))"
    )
    await conn.execute(insert, "HA-SPLIT", split)
    area, part = await conn.fetchrow(
        "SELECT estimated_area_m2, ST_Area('SRID=4326;POLYGON((0 0, 10 0, 10 1, 0 1, 0 0))'"
        "::geography) FROM zones WHERE code = 'HA-SPLIT'"
    )
    assert abs(float(area) - 2 * part) < 1
    zone_id = await zone(conn)
    await refused(
        conn,
        "land_releases_geometry_antimeridian",
        "INSERT INTO land_releases (zone_id, method, geometry, released_on) "
        "VALUES ($1, 'REDUCED', $2::geometry, current_date)",
        zone_id,
        band,
    )
