"""The benchmark's tools: the data generator (counts, rules, determinism) and the load harness.

A timed result is never asserted here: the harness only has to run and report numbers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from api.settings import Settings
from bench import generate, load, run
from bench.generate import TINY
from bench.scenarios import Scenario, no_params
from tests.conftest import drop_database, server_url

TABLES = generate.COUNTED_TABLES


async def digest(url: str) -> dict[str, str]:
    """An md5 of every row of every table of the data set, in id order."""
    conn = await asyncpg.connect(url)
    try:
        out = {}
        for table in TABLES:
            order = "task_id, team_id" if table == "task_teams" else "id"
            out[table] = await conn.fetchval(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY {order}), '')) "
                f"FROM {table} AS t"
            )
        return out
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def tiny(settings: Settings) -> AsyncIterator[generate.Prepared]:
    """A TINY data set in a scratch database of its own."""
    name = f"mar_bench_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    prepared = await generate.prepare(server_url(), TINY, settings.alembic_ini, name=name)
    yield prepared
    await drop_database(name)


async def test_the_generator_makes_the_asked_counts(tiny: generate.Prepared) -> None:
    """Counted in the database, not in the generator's own lists; what it reports is what it
    stored."""
    assert tiny.load_seconds is not None
    conn = await asyncpg.connect(tiny.url)
    try:
        stored = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
        tasks_per_zone = await conn.fetchval(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM tasks GROUP BY zone_id) AS z"
        )
        teams_per_task = await conn.fetchrow(
            "SELECT min(n), max(n) FROM (SELECT count(x.team_id) AS n FROM tasks AS t "
            "LEFT JOIN task_teams AS x ON x.task_id = t.id GROUP BY t.id) AS c"
        )
    finally:
        await conn.close()
    asked = {
        "organisations": TINY.organisations,
        "teams": TINY.teams,
        "zones": TINY.zones,
        "incidents": TINY.incidents,
        "casualties": TINY.casualties,
        "progress_reports": TINY.progress_reports,
    }
    assert {table: stored[table] for table in asked} == asked
    assert tiny.counts == stored
    # Tasks, their teams, releases and finds follow from the zones: 0 to 3 tasks a zone, 1 to 3
    # teams a task, and some of each kind.
    assert teams_per_task is not None
    assert tasks_per_zone <= 3 and tuple(teams_per_task) == (1, 3)
    assert all(stored[t] > 0 for t in ("tasks", "land_releases", "device_finds"))


# Each query counts rows that break a rule the triggers would have enforced.
BROKEN_RULES = {
    "zone status follows tasks and releases": """
        SELECT count(*) FROM zones AS z WHERE status <> CASE
            WHEN remaining_area_m2 <= 0 THEN 'CLOSED'
            WHEN EXISTS (SELECT 1 FROM tasks AS t WHERE t.zone_id = z.id AND t.status = 'ONGOING')
                THEN 'WORKED_ON'
            ELSE 'OPEN' END""",
    "estimated area is the area on the spheroid": """
        SELECT count(*) FROM zones
        WHERE estimated_area_m2 <> round(ST_Area(geometry::geography)::numeric, 2)""",
    "released area is the sum of the releases": """
        SELECT count(*) FROM zones AS z WHERE released_area_m2 <> coalesce(
            (SELECT sum(area_m2) FROM land_releases AS r WHERE r.zone_id = z.id), 0)""",
    "a CANCELLED release never follows a CLEARED one": """
        SELECT count(*) FROM land_releases AS c JOIN land_releases AS k
            ON k.zone_id = c.zone_id AND k.method = 'CLEARED' AND k.id < c.id
        WHERE c.method = 'CANCELLED'""",
    "a release's task is on its zone": """
        SELECT count(*) FROM land_releases AS r JOIN tasks AS t ON t.id = r.task_id
        WHERE t.zone_id <> r.zone_id""",
    "reports are dated while the task worked": """
        SELECT count(*) FROM progress_reports AS p JOIN tasks AS t ON t.id = p.task_id
        WHERE t.started_on IS NULL OR p.report_date < t.started_on
           OR p.report_date > coalesce(t.completed_on, current_date)""",
    "teams on tasks are neither INACTIVE nor expired": """
        SELECT count(*) FROM task_teams AS x JOIN teams AS m ON m.id = x.team_id
        WHERE m.status = 'INACTIVE' OR m.accreditation_expires_on < $1""",
    "every task has a team": """
        SELECT count(*) FROM tasks AS t
        WHERE NOT EXISTS (SELECT 1 FROM task_teams AS x WHERE x.task_id = t.id)""",
    "an incident's point lies in its zone": """
        SELECT count(*) FROM incidents AS i JOIN zones AS z ON z.id = i.zone_id
        WHERE NOT ST_Covers(z.geometry, i.location)""",
    "an incident without zone lies in none": """
        SELECT count(*) FROM incidents AS i WHERE i.zone_id IS NULL
        AND EXISTS (SELECT 1 FROM zones AS z WHERE ST_Covers(z.geometry, i.location))""",
    "a demining accident's task is on its zone": """
        SELECT count(*) FROM incidents AS i JOIN tasks AS t ON t.id = i.task_id
        WHERE t.zone_id <> i.zone_id OR i.incident_type <> 'DEMINING_ACCIDENT'""",
    "no date lies in the future": """
        SELECT (SELECT count(*) FROM incidents WHERE occurred_on > current_date)
             + (SELECT count(*) FROM progress_reports WHERE report_date > current_date)
             + (SELECT count(*) FROM land_releases WHERE released_on > current_date)""",
    "dangling references": """
        SELECT (SELECT count(*) FROM tasks AS t
                WHERE NOT EXISTS (SELECT 1 FROM zones AS z WHERE z.id = t.zone_id))
             + (SELECT count(*) FROM casualties AS c
                WHERE NOT EXISTS (SELECT 1 FROM incidents AS i WHERE i.id = c.incident_id))
             + (SELECT count(*) FROM device_finds AS d WHERE NOT EXISTS (
                    SELECT 1 FROM progress_reports AS p WHERE p.id = d.progress_report_id))""",
}


async def test_the_data_keeps_every_rule_of_the_schema(tiny: generate.Prepared) -> None:
    conn = await asyncpg.connect(tiny.url)
    try:
        broken = {}
        for rule, sql in BROKEN_RULES.items():
            args = (generate.ANCHOR,) if "$1" in sql else ()
            count = await conn.fetchval(sql, *args)
            if count:
                broken[rule] = count
        if await conn.fetchval("SELECT to_regclass('casualty_counts_all') IS NOT NULL"):
            # Summaries that triggers keep were rebuilt after the load (migration 0002).
            counted = await conn.fetchval("SELECT sum(n) FROM casualty_counts_all")
            assert counted == TINY.casualties
        statuses = {r["status"] for r in await conn.fetch("SELECT DISTINCT status FROM tasks")}
        # The API can write on top of the data set: identities continue after the copied ids.
        next_zone = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('zones', 'id'))")
    finally:
        await conn.close()
    assert broken == {}
    assert statuses == {"PLANNED", "ONGOING", "SUSPENDED", "COMPLETED", "CANCELLED"}
    assert next_zone == TINY.zones + 1


async def test_the_generator_is_deterministic_and_reruns_reuse_it(
    tiny: generate.Prepared, settings: Settings
) -> None:
    again = await generate.prepare(
        server_url(), TINY, settings.alembic_ini, name=tiny.url.rsplit("/", 1)[1]
    )
    assert again.load_seconds is None  # the complete data set was recognised and kept

    name = f"mar_bench_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        twin = await generate.prepare(server_url(), TINY, settings.alembic_ini, name=name)
        assert await digest(twin.url) == await digest(tiny.url)
    finally:
        await drop_database(name)


async def test_the_harness_measures_a_scenario_and_reports_it(
    tiny: generate.Prepared, settings: Settings, tmp_path: Path
) -> None:
    options = run.Options(seconds=1.0, rounds=1, warmup=0.2, only=("a",))
    report = await run.run_size(
        TINY,
        options,
        server_url=server_url(),
        settings=settings,
        database=tiny.url.rsplit("/", 1)[1],
        results_dir=tmp_path,
    )
    assert report is not None
    (result,) = report.results
    assert result.raw is not None and result.raw.median.requests > 0
    assert result.raw.median.percentile_ms(99) >= result.raw.median.percentile_ms(50) > 0
    # The API answers (a): measured, without errors, and its answer is the raw SQL's.
    assert result.unavailable is None
    assert result.graphql is not None
    assert result.graphql.median.requests > 0 and result.graphql.median.errors == 0
    assert result.answers_equal == result.answers_checked == 1
    (written,) = tmp_path.glob("tiny-*.md")
    text = written.read_text()
    assert "| (a) 50 OPEN zones by priority" in text and "raw÷GraphQL" in text


async def test_a_question_the_api_cannot_answer_is_reported_not_fatal(
    tiny: generate.Prepared,
) -> None:
    scenario = Scenario(
        key="z",
        title="a field that does not exist",
        query="{ zones(first: 1) { nodes { noSuchField } } }",
        sql="SELECT json_build_object('zones', json_build_object('nodes', '[]'::json))",
        params=no_params,
    )
    options = run.Options(seconds=0.3, rounds=1, warmup=0)
    server = await load.start_server(tiny.url)
    admin = await asyncpg.connect(server_url())
    try:
        result = await run.run_scenario(scenario, server, tiny.url, admin, options, None)
        assert result.graphql is None
        assert result.unavailable is not None and "noSuchField" in result.unavailable
        assert result.raw is not None and result.raw.median.requests > 0
    finally:
        await admin.close()
        await server.stop()
