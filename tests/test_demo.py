"""`mar seed --demo`: the synthetic demo set is complete, plausible, idempotent and reproducible."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from api.demo import SeedResult, seed_demo
from api.demo.calendar import REFERENCE_DATE
from api.demo.dataset import DemoPlan, build_plan, plan_for
from api.migrations import upgrade

DEVDB_URL = "postgresql://mar:mar@127.0.0.1:54329/mar"
ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"
TABLES = (
    "organisations",
    "teams",
    "zones",
    "tasks",
    "task_teams",
    "progress_reports",
    "device_finds",
    "land_releases",
    "incidents",
    "casualties",
)

# Every column the seed decides (or a trigger derives from it), keyed by codes, not ids.
CHECKSUM = """
SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (
  SELECT concat_ws('|', 'o', code, name, org_type, country) FROM organisations
  UNION ALL
  SELECT concat_ws('|', 't', t.code, t.name, o.code, t.capabilities::text, t.size, t.status,
                   t.accreditation_expires_on)
  FROM teams AS t JOIN organisations AS o ON o.id = t.organisation_id
  UNION ALL
  SELECT concat_ws('|', 'z', code, name, description, hazard_type, status, contamination::text,
                   ST_AsText(geometry), estimated_area_m2, released_area_m2, remaining_area_m2,
                   priority, land_use, admin1, admin2, admin_pcode, recorded_on,
                   status_changed_on, version)
  FROM zones
  UNION ALL
  SELECT concat_ws('|', 'k', k.code, z.code, k.task_type, k.status, k.planned_start,
                   k.planned_end, k.started_on, k.completed_on, k.assets::text, k.version,
                   (SELECT string_agg(m.code, ',' ORDER BY m.code)
                    FROM task_teams AS tt JOIN teams AS m ON m.id = tt.team_id
                    WHERE tt.task_id = k.id))
  FROM tasks AS k JOIN zones AS z ON z.id = k.zone_id
  UNION ALL
  SELECT concat_ws('|', 'p', k.code, p.report_date, p.area_searched_m2, p.notes)
  FROM progress_reports AS p JOIN tasks AS k ON k.id = p.task_id
  UNION ALL
  SELECT concat_ws('|', 'd', k.code, p.report_date, f.category, f.quantity, f.disposal,
                   ST_AsText(f.location))
  FROM device_finds AS f JOIN progress_reports AS p ON p.id = f.progress_report_id
  JOIN tasks AS k ON k.id = p.task_id
  UNION ALL
  SELECT concat_ws('|', 'r', z.code, k.code, r.method, r.area_m2, r.released_on)
  FROM land_releases AS r JOIN zones AS z ON z.id = r.zone_id
  LEFT JOIN tasks AS k ON k.id = r.task_id
  UNION ALL
  SELECT concat_ws('|', 'i', i.code, i.incident_type, i.occurred_on, ST_AsText(i.location),
                   z.code, k.code, i.device_category, i.activity, i.admin1, i.admin2,
                   i.admin_pcode, i.description, i.source, i.verified)
  FROM incidents AS i LEFT JOIN zones AS z ON z.id = i.zone_id
  LEFT JOIN tasks AS k ON k.id = i.task_id
  UNION ALL
  SELECT concat_ws('|', 'c', i.code, c.outcome, c.category, c.sex, c.age, c.age_group,
                   c.full_name, c.notes)
  FROM casualties AS c JOIN incidents AS i ON i.id = c.incident_id
) AS rows(line)
"""


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEVDB_URL


def _url_of(name: str) -> str:
    return urlunsplit(urlsplit(_server_url())._replace(path=f"/{name}"))


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(_server_url())
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _clone(template: str) -> tuple[str, str]:
    name = f"mar_demo_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name, _url_of(name)


async def _counts(conn: asyncpg.Connection[asyncpg.Record]) -> dict[str, int]:
    return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


@pytest.fixture(scope="module")
async def demo_template() -> AsyncIterator[str]:
    """A freshly migrated, empty database to clone."""
    name = f"mar_demo_template_{os.getpid()}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(upgrade, ALEMBIC_INI, _url_of(name))
        yield name
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_db(demo_template: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A connection to a migrated database of the test's own, dropped afterwards."""
    name, url = await _clone(demo_template)
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
async def seeded(
    demo_template: str,
) -> AsyncIterator[tuple[asyncpg.Connection[asyncpg.Record], SeedResult]]:
    """A database seeded once with the demo set, shared by the read-only tests of this module."""
    name, url = await _clone(demo_template)
    conn = await asyncpg.connect(url)
    try:
        result = await seed_demo(conn, show_progress=False)
        yield conn, result
    finally:
        await conn.close()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_plan_is_the_same_on_every_build() -> None:
    assert build_plan.__wrapped__() == build_plan.__wrapped__()


def test_plan_has_no_date_after_the_reference() -> None:
    d = build_plan().dataset
    days = [
        *(z.recorded_on for z in d.zones),
        *(day for t in d.tasks for day in (t.planned_start, t.planned_end) if day),
        *(day for t in d.tasks for day in (t.started_on, t.suspended_on, t.completed_on) if day),
        *(r.report_date for r in d.progress_reports),
        *(r.released_on for r in d.land_releases),
        *(i.occurred_on for i in d.incidents),
    ]
    assert max(days) <= REFERENCE_DATE


def event_dates(plan: DemoPlan) -> list[date]:
    """Every date of an event in the plan: recordings, task dates, reports, releases, incidents."""
    d = plan.dataset
    return [
        *(z.recorded_on for z in d.zones),
        *(day for t in d.tasks for day in (t.planned_start, t.planned_end) if day),
        *(day for t in d.tasks for day in (t.started_on, t.suspended_on, t.completed_on) if day),
        *(r.report_date for r in d.progress_reports),
        *(r.released_on for r in d.land_releases),
        *(i.occurred_on for i in d.incidents),
    ]


@pytest.mark.parametrize("today", [date(2027, 1, 15), date(2031, 9, 1), date(2026, 2, 1)])
def test_the_plan_is_dated_relative_to_the_day_it_is_generated(today: date) -> None:
    plan = plan_for(today)
    days = event_dates(plan)
    # Incidents and work lie in the past, the latest of them recently.
    assert max(days) <= today
    assert max(i.occurred_on for i in plan.dataset.incidents) > today - timedelta(days=90)
    assert min(days) > today - timedelta(days=6 * 366)
    # Accreditations: six expired before today, the others valid for years after it.
    expiries = sorted(t.accreditation_expires_on for t in plan.dataset.teams)
    assert sum(day < today for day in expiries) == 6
    assert all(day > today + timedelta(days=365) for day in expiries[6:])
    assert plan.zone_status_changes and all(day <= today for _, day in plan.zone_status_changes)


def test_two_days_give_the_same_set_moved_by_the_days_between() -> None:
    first, second = plan_for(date(2027, 1, 15)), plan_for(date(2031, 9, 1))
    moved = date(2031, 9, 1) - date(2027, 1, 15)
    assert [day + moved for day in event_dates(first)] == event_dates(second)
    assert [t.accreditation_expires_on + moved for t in first.dataset.teams] == [
        t.accreditation_expires_on for t in second.dataset.teams
    ]
    assert first.dataset.casualties == second.dataset.casualties
    assert [z.geometry for z in first.dataset.zones] == [z.geometry for z in second.dataset.zones]


async def test_seed_writes_at_least_the_promised_counts(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
) -> None:
    conn, result = seeded
    counts = await _counts(conn)
    assert result.created
    assert counts == {table: getattr(result, table) for table in TABLES}
    assert counts["organisations"] >= 6
    assert counts["teams"] == 40
    assert counts["zones"] == 600
    assert counts["incidents"] == 400
    for table in ("tasks", "progress_reports", "device_finds", "land_releases", "casualties"):
        assert counts[table] > 0, table
    assert "600 zones" in result.summary()


async def test_every_code_is_demo_and_every_incident_synthetic(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
) -> None:
    conn, _ = seeded
    for table in ("organisations", "teams", "zones", "tasks", "incidents"):
        stray = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE code NOT LIKE 'DEMO-%'")
        assert stray == 0, table
    sources = await conn.fetch("SELECT DISTINCT source FROM incidents")
    assert [r["source"] for r in sources] == ["synthetic demo data"]


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        (
            "organisations",
            "org_type",
            "NMAA GOVERNMENT MILITARY COMMERCIAL NATIONAL_NGO INTERNATIONAL_NGO UN",
        ),
        ("teams", "status", "ACTIVE STANDBY INACTIVE"),
        ("zones", "hazard_type", "SHA CHA"),
        ("zones", "status", "OPEN WORKED_ON CLOSED"),
        ("zones", "unnest(contamination)", "AP_MINE AV_MINE CMR UXO AXO IED BOOBY_TRAP"),
        ("zones", "priority::text", "1 2 3 4 5"),
        ("tasks", "status", "PLANNED ONGOING SUSPENDED COMPLETED CANCELLED"),
        ("tasks", "task_type", "NTS TS CLEARANCE BAC EOD_SPOT"),
        ("land_releases", "method", "CANCELLED REDUCED CLEARED"),
        (
            "incidents",
            "incident_type",
            "DEMINING_ACCIDENT MINE_ACCIDENT CLUSTER_ACCIDENT "
            "IED_ACCIDENT UXO_AXO_ACCIDENT STORED_AMMUNITION_ACCIDENT OTHER",
        ),
        ("casualties", "outcome", "KILLED INJURED UNKNOWN"),
        ("casualties", "category", "CIVILIAN MILITARY DEMINER UNKNOWN"),
        ("casualties", "sex", "FEMALE MALE UNKNOWN"),
        ("casualties", "age_group", "CHILD ADULT UNKNOWN"),
    ],
)
async def test_every_value_is_represented(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
    table: str,
    column: str,
    values: str,
) -> None:
    conn, _ = seeded
    rows = await conn.fetch(f"SELECT DISTINCT {column} AS v FROM {table}")
    assert sorted(r["v"] for r in rows) == sorted(values.split())


async def test_some_accreditations_expired_but_none_on_a_task(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
) -> None:
    conn, _ = seeded
    expired = await conn.fetchval(
        "SELECT count(*) FROM teams WHERE accreditation_expires_on < current_date"
    )
    assert expired == 6
    misplaced = await conn.fetchval(
        """SELECT count(*) FROM task_teams AS tt JOIN teams AS t ON t.id = tt.team_id
           WHERE t.status = 'INACTIVE' OR t.accreditation_expires_on < current_date"""
    )
    assert misplaced == 0


async def test_zones_are_valid_apart_and_of_a_few_hectares(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
) -> None:
    conn, _ = seeded
    touching = await conn.fetchval(
        """SELECT count(*) FROM zones AS a JOIN zones AS b
           ON a.id < b.id AND ST_Intersects(a.geometry, b.geometry)"""
    )
    assert touching == 0
    row = await conn.fetchrow(
        """SELECT min(estimated_area_m2) AS smallest, max(estimated_area_m2) AS largest,
                  bool_and(ST_IsValid(geometry) AND ST_IsPolygonCCW(geometry)) AS valid_ccw,
                  min(ST_NPoints(geometry)) AS fewest, max(ST_NPoints(geometry)) AS most,
                  min(ST_XMin(geometry)) AS west, max(ST_XMax(geometry)) AS east,
                  min(ST_YMin(geometry)) AS south, max(ST_YMax(geometry)) AS north
           FROM zones"""
    )
    assert row is not None
    assert row["smallest"] >= 10_000 and row["largest"] <= 150_000
    assert row["valid_ccw"]
    assert (row["fewest"], row["most"]) == (6, 10)  # 5–9 vertices, ring closed
    assert row["west"] >= 0.2 and row["east"] <= 1.8
    assert row["south"] >= 0.2 and row["north"] <= 1.6


async def test_releases_close_some_zones_and_worked_zones_have_an_ongoing_task(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
) -> None:
    conn, _ = seeded
    closed = await conn.fetchval(
        "SELECT count(*) FROM zones WHERE status = 'CLOSED' AND remaining_area_m2 = 0"
    )
    assert closed > 0
    assert await conn.fetchval("SELECT count(*) FROM zones WHERE status = 'CLOSED'") == closed
    orphans = await conn.fetchval(
        """SELECT count(*) FROM zones AS z WHERE z.status = 'WORKED_ON' AND NOT EXISTS (
               SELECT 1 FROM tasks AS k WHERE k.zone_id = z.id AND k.status = 'ONGOING')"""
    )
    assert orphans == 0
    late_cancel = await conn.fetchval(
        """SELECT count(*) FROM land_releases AS c JOIN land_releases AS d
           ON d.zone_id = c.zone_id AND d.method = 'CLEARED' AND c.method = 'CANCELLED'
           AND (d.released_on < c.released_on OR d.id < c.id)"""
    )
    assert late_cancel == 0


async def test_incidents_and_casualties_are_plausible(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
) -> None:
    conn, _ = seeded
    row = await conn.fetchrow(
        """SELECT avg((outcome = 'KILLED')::int) AS killed,
                  avg((outcome = 'INJURED')::int) AS injured,
                  avg((category = 'CIVILIAN')::int) AS civilian,
                  avg((age_group = 'CHILD')::int)
                      FILTER (WHERE category = 'CIVILIAN' AND age_group <> 'UNKNOWN') AS children
           FROM casualties"""
    )
    assert row is not None
    assert 0.2 < row["killed"] < 0.4
    assert 0.55 < row["injured"] < 0.75
    assert row["civilian"] > 0.7
    assert 0.3 < row["children"] < 0.5
    inside = await conn.fetchval(
        """SELECT count(*) FROM incidents AS i JOIN zones AS z ON z.id = i.zone_id
           WHERE ST_Covers(z.geometry, i.location)"""
    )
    assert inside > 40
    today = await conn.fetchval("SELECT current_date")
    assert await conn.fetchval("SELECT max(occurred_on) FROM incidents") <= today
    assert await conn.fetchval("SELECT max(report_date) FROM progress_reports") <= today


async def test_a_second_seed_changes_nothing(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
) -> None:
    conn, _ = seeded
    before = await _counts(conn)
    checksum = await conn.fetchval(CHECKSUM)
    result = await seed_demo(conn, show_progress=False)
    assert result == SeedResult(created=False)
    assert result.summary() == "demo data already present; nothing changed"
    assert await _counts(conn) == before
    assert await conn.fetchval(CHECKSUM) == checksum


async def test_two_fresh_databases_get_identical_data(
    seeded: tuple[asyncpg.Connection[asyncpg.Record], SeedResult],
    empty_db: asyncpg.Connection[asyncpg.Record],
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn, _ = seeded
    result = await seed_demo(empty_db, show_progress=True)
    assert result.created
    assert "demo data" in capsys.readouterr().err  # the progress bar went to stderr
    assert await empty_db.fetchval(CHECKSUM) == await conn.fetchval(CHECKSUM)


async def test_a_failed_seed_leaves_nothing_behind(
    empty_db: asyncpg.Connection[asyncpg.Record],
) -> None:
    # A zone already holding a demo code makes the zone insert fail half-way through.
    await empty_db.execute(
        """INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority)
           VALUES ('DEMO-HA-000001', 'in the way', 'SHA', '{UXO}',
                   ST_GeomFromText('MULTIPOLYGON(((10 10, 10.01 10, 10 10.01, 10 10)))', 4326),
                   3)"""
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await seed_demo(empty_db, show_progress=False)
    counts = await _counts(empty_db)
    assert counts["organisations"] == counts["teams"] == 0
    assert counts["zones"] == 1
