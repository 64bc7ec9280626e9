"""The casualty summary tables stay exactly in step with the records, whatever changes them.

After every kind of write (inserts, moves of an incident in time or space, casualty changes,
deletes, truncation, a bulk load without triggers and its refresh, concurrent writers) the cubes
plus their pending changes must equal a count over the records.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from bench import generate
from db.pool import Connection as Conn
from tests.helpers import GraphQLClient
from tests.test_statistics_casualties import INCIDENTS, QUERY, WORLD, add_incident

KEY = "month, admin1, incident_type, device_category, outcome, category, sex, age_group"
PEOPLE = "month, outcome, category, sex, age_group"
FROM_RECORDS = f"""
SELECT {KEY}, count(*) AS n FROM (
  SELECT calendar_month(i.occurred_on) AS month, i.admin1, i.incident_type, i.device_category,
         c.outcome, c.category, c.sex, c.age_group
  FROM casualties AS c JOIN incidents AS i ON i.id = c.incident_id) AS r
GROUP BY {KEY} ORDER BY {KEY}
"""
FROM_CUBE = """
SELECT {key}, sum(n) AS n FROM (
  SELECT {key}, n FROM {table} UNION ALL SELECT {key}, n FROM casualty_count_changes) AS s
GROUP BY {key} HAVING sum(n) <> 0 ORDER BY {key}
"""
PEOPLE_FROM_RECORDS = f"""
SELECT {PEOPLE}, count(*) AS n FROM (
  SELECT calendar_month(i.occurred_on) AS month, c.outcome, c.category, c.sex, c.age_group
  FROM casualties AS c JOIN incidents AS i ON i.id = c.incident_id) AS r
GROUP BY {PEOPLE} ORDER BY {PEOPLE}
"""


async def assert_exact(conn: Conn) -> None:
    """Both cubes (with pending changes) equal the counts over the records."""
    records = [tuple(r) for r in await conn.fetch(FROM_RECORDS)]
    cube = await conn.fetch(FROM_CUBE.format(key=KEY, table="casualty_counts_all"))
    assert [tuple(r) for r in cube] == records
    records = [tuple(r) for r in await conn.fetch(PEOPLE_FROM_RECORDS)]
    cube = await conn.fetch(FROM_CUBE.format(key=PEOPLE, table="casualty_counts_people"))
    assert [tuple(r) for r in cube] == records


async def assert_same_answers(gql: GraphQLClient) -> None:
    """The API answers the same through the summaries and through the records."""
    for group_by in (["OUTCOME", "CATEGORY"], ["MONTH", "ADMIN1", "SEX"], ["INCIDENT_TYPE"]):
        for filter in ({}, {"from": "2020-11-15", "to": "2021-02-10"}, {"admin1": "North"}):
            fast = await gql(QUERY, {"filter": filter, "groupBy": group_by})
            slow = await gql(QUERY, {"filter": {**filter, "bbox": WORLD}, "groupBy": group_by})
            assert "errors" not in fast, fast
            assert fast == slow


async def test_every_kind_of_change_keeps_the_counts_exact(gql: GraphQLClient, conn: Conn) -> None:
    ids = {i[0]: await add_incident(conn, *i) for i in INCIDENTS}
    await assert_exact(conn)
    # An incident moves to another month, region, type and device: its casualties move along.
    await conn.execute(
        "UPDATE incidents SET occurred_on = '2021-01-20', admin1 = 'East', "
        "incident_type = 'IED_ACCIDENT', device_category = 'IED' WHERE id = $1",
        ids["I2"],
    )
    await assert_exact(conn)
    # A change within the same month, or of a field not counted, moves nothing.
    await conn.execute(
        "UPDATE incidents SET occurred_on = '2021-01-02', description = 'x' WHERE id = $1",
        ids["I2"],
    )
    await conn.execute("UPDATE incidents SET admin1 = NULL WHERE id = $1", ids["I1"])
    await assert_exact(conn)
    # Casualties change: outcome, age (age group), sex, and one moves to another incident.
    await conn.execute(
        "UPDATE casualties SET outcome = 'KILLED', age = 70 WHERE incident_id = $1", ids["I2"]
    )
    await conn.execute(
        "UPDATE casualties SET incident_id = $1, sex = 'FEMALE' "
        "WHERE id = (SELECT min(id) FROM casualties WHERE incident_id = $2)",
        ids["I5"],
        ids["I3"],
    )
    await conn.execute("UPDATE casualties SET notes = 'seen' WHERE incident_id = $1", ids["I4"])
    await assert_exact(conn)
    await assert_same_answers(gql)
    # Deletes: one casualty, then an incident with its casualties (cascade).
    await conn.execute(
        "DELETE FROM casualties WHERE id = (SELECT max(id) FROM casualties WHERE incident_id = $1)",
        ids["I4"],
    )
    await conn.execute("DELETE FROM incidents WHERE id = $1", ids["I2"])
    await assert_exact(conn)
    await assert_same_answers(gql)
    # More casualties on an existing incident, one statement per person as recordIncident does.
    for outcome in ("INJURED", "KILLED", "INJURED"):
        await conn.execute(
            "INSERT INTO casualties (incident_id, outcome, category) VALUES ($1, $2, 'CIVILIAN')",
            ids["I5"],
            outcome,
        )
    await assert_exact(conn)
    await assert_same_answers(gql)
    await conn.execute("DELETE FROM incidents")
    await assert_exact(conn)
    body = await gql(QUERY, {"groupBy": ["OUTCOME"]})
    assert body["data"]["casualtyStatistics"] == {
        "total": 0,
        "killed": 0,
        "injured": 0,
        "groups": [],
    }


async def test_truncating_empties_the_counts(conn: Conn) -> None:
    for incident in INCIDENTS:
        await add_incident(conn, *incident)
    await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred check left pending
    await conn.execute("TRUNCATE incidents CASCADE")
    assert await conn.fetchval("SELECT count(*) FROM casualty_counts_all") == 0
    assert await conn.fetchval("SELECT count(*) FROM casualty_counts_people") == 0
    await assert_exact(conn)


async def test_a_load_without_triggers_is_counted_by_the_refresh(conn: Conn) -> None:
    await add_incident(conn, *INCIDENTS[0])
    await conn.execute("SET LOCAL session_replication_role = replica")
    for incident in INCIDENTS[1:]:
        await add_incident(conn, *incident)
    await conn.execute("SET LOCAL session_replication_role = origin")
    cube_total = await conn.fetchval("SELECT sum(n) FROM casualty_counts_people")
    assert cube_total == 1  # the triggers did not run for the bulk load
    await conn.execute("SELECT casualty_counts_refresh()")
    await assert_exact(conn)
    assert await conn.fetchval("SELECT count(*) FROM casualty_count_changes") == 0
    assert await conn.fetchval("SELECT min(n) FROM casualty_counts_all") > 0


async def _casualty(conn: Conn, incident_id: int, outcome: str) -> None:
    await conn.execute(
        "INSERT INTO casualties (incident_id, outcome, category) VALUES ($1, $2, 'CIVILIAN')",
        incident_id,
        outcome,
    )


async def _totals(conn: Conn) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT sum(n) FILTER (WHERE outcome = 'KILLED') AS killed, "
        "sum(n) FILTER (WHERE outcome = 'INJURED') AS injured FROM ("
        "SELECT outcome, n FROM casualty_counts_people "
        "UNION ALL SELECT outcome, n FROM casualty_count_changes) AS s"
    )
    assert row is not None
    return dict(row)


async def test_concurrent_writers_neither_wait_nor_miscount(fresh_db_url: str) -> None:
    first = await asyncpg.connect(fresh_db_url)
    second = await asyncpg.connect(fresh_db_url)
    reader = await asyncpg.connect(fresh_db_url)
    try:
        incident_id = await add_incident(first, *INCIDENTS[4])
        await _casualty(first, incident_id, "KILLED")
        # The first writer stays open holding the summary rows it folded into.
        open_transaction = first.transaction()
        await open_transaction.start()
        await _casualty(first, incident_id, "INJURED")
        await _casualty(first, incident_id, "KILLED")
        # The second writer, on the same summary groups, goes through without waiting for the
        # first. It adds to a twin incident (same month, area, type and device): additions to
        # one incident are counted one after the other for its casualty cap (migration 0008).
        code, incident_type, day, admin1, device, _ = INCIDENTS[4]
        twin_id = await add_incident(second, f"{code}-twin", incident_type, day, admin1, device, [])
        async with second.transaction():
            await asyncio.wait_for(_casualty(second, twin_id, "INJURED"), timeout=5)
            await asyncio.wait_for(_casualty(second, twin_id, "KILLED"), timeout=5)
        assert await _totals(reader) == {"killed": 2, "injured": 1}
        await open_transaction.commit()
        assert await _totals(reader) == {"killed": 3, "injured": 2}
        await assert_exact(reader)
        # The next write folds what was left pending.
        await _casualty(second, incident_id, "KILLED")
        assert await reader.fetchval("SELECT count(*) FROM casualty_count_changes") == 0
        await assert_exact(reader)
        # A writer that rolls back leaves the counts as they were.
        rolled_back = second.transaction()
        await rolled_back.start()
        await _casualty(second, incident_id, "KILLED")
        await rolled_back.rollback()
        assert await _totals(reader) == {"killed": 4, "injured": 2}
        await assert_exact(reader)
    finally:
        for conn in (first, second, reader):
            await conn.close()


async def test_the_benchmark_load_leaves_exact_counts(fresh_db_url: str) -> None:
    # The generator copies rows with triggers off, then calls casualty_counts_refresh().
    conn = await asyncpg.connect(fresh_db_url)
    try:
        version = await conn.fetchval("SELECT n FROM data_version")
        await generate.load(conn, generate.TINY, say=lambda _step: None)
        assert await conn.fetchval("SELECT sum(n) FROM casualty_counts_people") == (
            generate.TINY.casualties
        )
        # No cached answer outlives the load, though it skipped the triggers that bump it.
        assert await conn.fetchval("SELECT n FROM data_version") == version + 1
        await assert_exact(conn)
    finally:
        await conn.close()
