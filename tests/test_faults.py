"""Faults: a database restarted under the app, racing writers, a write failing halfway, an
exhausted pool and a runaway statement. Each ends in a clean answer and consistent data."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.migrations import upgrade
from api.services.rules import today
from api.settings import Settings
from db.pool import Connection, Pool, PoolSource, connect, create_pool
from tests.helpers import GraphQLClient, free_port
from tests.test_outage import DEVDB, Cluster

COUNT = {"query": "{ zones(first: 1) { totalCount } }"}
CREATE_ZONE = """
mutation($input: CreateZoneInput!) { createZone(input: $input) { id version estimatedAreaM2 } }
"""
UPDATE_ZONE = """
mutation($id: ID!, $version: Int!, $name: String!) {
  updateZone(id: $id, version: $version, input: {name: $name}) { name version }
}
"""
RELEASE = """
mutation($input: LandReleaseInput!) { recordLandRelease(input: $input) { id areaM2 } }
"""
RECORD_INCIDENT = """
mutation($input: RecordIncidentInput!) { recordIncident(input: $input) { id casualties { id } } }
"""


async def editor_headers(conn: Connection) -> dict[str, str]:
    """The Authorization header of an editor's key, once keys exist (issue 5); else none."""
    try:
        from tests.helpers import make_key
    except ImportError:
        return {}
    return {"Authorization": f"Bearer {await make_key(conn, 'faults editor', 'editor')}"}


class WatchedSource(PoolSource):
    """A pool source that also counts the callers waiting for one of its connections."""

    def __init__(self, pool: Pool, *, acquire_timeout: float) -> None:
        super().__init__(pool, acquire_timeout=acquire_timeout)
        self.waiting = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        self.waiting += 1
        counted = True
        try:
            async with super().acquire() as conn:
                self.waiting -= 1
                counted = False
                yield conn
        finally:
            if counted:
                self.waiting -= 1


async def until(condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
    """Return once `condition()` holds; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        await asyncio.sleep(0.01)


class Served:
    """The app over a real pool on a database of its own, and a client with an editor's key."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str], source: WatchedSource):
        self.http = http
        self.headers = headers
        self.source = source

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=self.headers
        )
        return response.json()


@asynccontextmanager
async def serving(
    settings: Settings, url: str, *, max_size: int = 8, acquire_timeout: float = 5.0, **pool: Any
) -> AsyncIterator[Served]:
    setup = await connect(url)
    try:
        headers = await editor_headers(setup)
    finally:
        await setup.close()
    db_pool = await create_pool(url, min_size=0, max_size=max_size, **pool)
    source = WatchedSource(db_pool, acquire_timeout=acquire_timeout)
    app = create_app(replace(settings, rate_limit_per_s=0), db=source)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
        ) as http:
            yield Served(http, headers, source)
    finally:
        await db_pool.close()


def square(size: float) -> dict[str, Any]:
    ring = [[30, 30], [30 + size, 30], [30 + size, 30 + size], [30, 30 + size], [30, 30]]
    return {"type": "Polygon", "coordinates": [ring]}


async def new_zone(served: Served, code: str) -> dict[str, Any]:
    zone_input = {
        "code": code,
        "name": code,
        "hazardType": "SHA",
        "contamination": ["AP_MINE"],
        "geometry": square(0.001),
    }
    body = await served(CREATE_ZONE, {"input": zone_input})
    assert "errors" not in body, body
    zone: dict[str, Any] = body["data"]["createZone"]
    return zone


# --- racing writers -------------------------------------------------------------------------


@pytest.mark.commits
async def test_two_updates_of_the_same_version_one_wins_the_other_conflicts(
    settings: Settings, fresh_db_url: str
) -> None:
    async with serving(settings, fresh_db_url) as served:
        for round_ in range(5):
            zone = await new_zone(served, f"HA-RACE-{round_}")
            answers = await asyncio.gather(
                *(
                    served(UPDATE_ZONE, {"id": zone["id"], "version": 1, "name": name})
                    for name in ("left", "right")
                )
            )
            won = [a["data"]["updateZone"] for a in answers if a.get("data")]
            lost = [a["errors"][0] for a in answers if a.get("errors")]
            assert len(won) == 1 and len(lost) == 1, answers
            assert won[0]["version"] == 2
            assert lost[0]["extensions"]["code"] == "CONFLICT"
            assert "version 1" in lost[0]["message"]
            check = await connect(fresh_db_url)
            try:
                row = await check.fetchrow(
                    "SELECT name, version FROM zones WHERE id = $1", int(zone["id"])
                )
            finally:
                await check.close()
            assert row is not None and (row["name"], row["version"]) == (won[0]["name"], 2)


@pytest.mark.commits
async def test_concurrent_releases_never_release_more_than_the_zone(
    settings: Settings, fresh_db_url: str
) -> None:
    async with serving(settings, fresh_db_url) as served:
        zone = await new_zone(served, "HA-RELEASES")
        area = Decimal(str(zone["estimatedAreaM2"]))
        share = float((area * Decimal("0.3")).quantize(Decimal("0.01")))
        release = {
            "zoneId": zone["id"],
            "method": "REDUCED",
            "areaM2": share,
            "releasedOn": today().isoformat(),
        }
        answers = await asyncio.gather(*(served(RELEASE, {"input": release}) for _ in range(12)))
    succeeded = [a for a in answers if a.get("data")]
    refused = [a["errors"][0] for a in answers if a.get("errors")]
    assert len(succeeded) == 3, answers
    assert {e["extensions"]["code"] for e in refused} == {"BAD_USER_INPUT"}
    check = await connect(fresh_db_url)
    try:
        total = await check.fetchval("SELECT sum(area_m2) FROM land_releases")
        released = await check.fetchval("SELECT released_area_m2 FROM zones")
    finally:
        await check.close()
    assert total == released == Decimal(str(share)) * 3
    assert total <= area


# --- a write failing halfway ----------------------------------------------------------------


async def stored(conn: Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM incidents) AS i, (SELECT count(*) FROM casualties) AS c"
    )
    assert row is not None
    return row["i"], row["c"]


def incident(code: str) -> dict[str, Any]:
    return {
        "input": {
            "code": code,
            "incidentType": "MINE_ACCIDENT",
            "occurredOn": "2024-03-01",
            "location": {"type": "Point", "coordinates": [41.0, 41.0]},
            "casualties": [
                {"outcome": "INJURED", "fullName": "First"},
                {"outcome": "KILLED", "fullName": "Refused"},
            ],
        }
    }


async def test_a_casualty_refused_by_the_database_leaves_no_incident(
    gql: GraphQLClient, conn: Connection
) -> None:
    """The incident row is written, then the database refuses the second casualty."""
    before = await stored(conn)
    await conn.execute(
        "ALTER TABLE casualties ADD CONSTRAINT casualties_test_refusal "
        "CHECK (full_name IS DISTINCT FROM 'Refused')"
    )
    body = await gql(RECORD_INCIDENT, incident("ACC-HALF-1"))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["data"] is None
    assert await stored(conn) == before


async def test_an_unexpected_failure_halfway_leaves_nothing_and_is_masked(
    gql: GraphQLClient, conn: Connection
) -> None:
    before = await stored(conn)
    await conn.execute(
        "CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.full_name = 'Refused' THEN RAISE EXCEPTION 'disk on fire at /srv/secret'; "
        "END IF; RETURN NEW; END $$"
    )
    await conn.execute(
        "CREATE TRIGGER refuse_for_test BEFORE INSERT ON casualties "
        "FOR EACH ROW EXECUTE FUNCTION refuse_for_test()"
    )
    body = await gql(RECORD_INCIDENT, incident("ACC-HALF-2"))
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret" not in str(body) and "fire" not in str(body)
    assert await stored(conn) == before
    assert await conn.fetchval("SELECT count(*) FROM incidents WHERE code = 'ACC-HALF-2'") == 0


# --- an exhausted pool and a runaway statement ------------------------------------------------


async def test_an_exhausted_pool_makes_requests_wait_a_bound_then_fail_cleanly(
    settings: Settings, shared_db_url: str
) -> None:
    async with serving(settings, shared_db_url, max_size=1, acquire_timeout=0.5) as served:
        async with served.source.acquire():  # the only connection is busy
            started = time.monotonic()
            body = await served(COUNT["query"])
            waited = time.monotonic() - started
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
            assert "busy" in error["message"] and "0.5 s" in error["message"]
            assert 0.4 < waited < 3
        # A request waiting less than the bound is served once the connection is free.
        holder = served.source.acquire()
        await holder.__aenter__()
        waiting = asyncio.create_task(served(COUNT["query"]))
        await until(lambda: served.source.waiting == 1, "the request waiting for a connection")
        await holder.__aexit__(None, None, None)
        assert "errors" not in await waiting
        # Many at once: each either served or refused cleanly, none hangs, none is a 500.
        answers = await asyncio.wait_for(
            asyncio.gather(*(served(COUNT["query"]) for _ in range(20))), timeout=30
        )
        assert all("data" in a for a in answers)


@pytest.mark.commits
async def test_a_statement_over_the_timeout_is_cancelled_with_a_clear_error(
    settings: Settings, fresh_db_url: str
) -> None:
    blocker = await connect(fresh_db_url)
    try:
        async with serving(settings, fresh_db_url, statement_timeout_ms=300) as served:
            assert (await served(COUNT["query"]))["data"]["zones"]["totalCount"] == 0
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("LOCK TABLE zones IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            body = await served(COUNT["query"])
            assert time.monotonic() - started < 3
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
            assert "ran longer" in error["message"]
            await transaction.rollback()
            assert (await served(COUNT["query"]))["data"]["zones"]["totalCount"] == 0
    finally:
        await blocker.close()


async def test_the_app_sets_the_configured_statement_timeout(
    settings: Settings, shared_db_url: str
) -> None:
    assert Settings.from_env({}).statement_timeout_ms == 5000
    app = create_app(replace(settings, database_url=shared_db_url, statement_timeout_ms=1234))
    async with app.router.lifespan_context(app), app.state.db.acquire() as conn:
        assert await conn.fetchval("SHOW statement_timeout") == "1234ms"


# --- the database restarted under a running app -----------------------------------------------


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    folder = tempfile.mkdtemp(prefix="mar-faults-")
    own = Cluster(folder, free_port())
    own.run("start")
    try:
        yield own
    finally:
        subprocess.run([str(DEVDB), "stop"], env=own.env, capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", folder], check=False)


async def test_after_a_database_restart_no_request_fails(
    cluster: Cluster, settings: Settings
) -> None:
    url = cluster.run("url")
    await asyncio.to_thread(upgrade, settings.alembic_ini, url)
    async with serving(settings, url, max_size=4) as served:

        async def busy() -> None:
            """Use every connection of the pool at once, so all of them go stale."""
            answers = await asyncio.gather(*(served(COUNT["query"]) for _ in range(8)))
            assert all("errors" not in a for a in answers), answers

        await busy()
        # Restarted with no request in between: every pooled connection is dead.
        await asyncio.to_thread(cluster.run, "stop")
        await asyncio.to_thread(cluster.run, "start")
        await busy()
        for _ in range(5):
            assert "errors" not in await served(COUNT["query"])

        # Down for a while: requests fail fast and clean, and the first after recovery succeeds.
        await busy()
        await asyncio.to_thread(cluster.run, "stop")
        for _ in range(3):
            started = time.monotonic()
            body = await served(COUNT["query"])
            assert time.monotonic() - started < 3
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
            assert "database is unavailable" in error["message"]
        await asyncio.to_thread(cluster.run, "start")
        await busy()
