"""A failed request leaves nothing on its pooled connection: the next users run as on a new one.

asyncpg prepares a statement (Parse, Describe, Flush) before it encodes the arguments; when one
cannot be encoded, no Sync follows and the server keeps the statement's implicit transaction, its
locks and its armed statement_timeout. These tests use a pool of one connection, so every request
after the failed one runs on the very connection it used.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from db.pool import Connection, PoolSource, connect, create_pool

# Midnight of 1 January of year 1 at +14:00 is 10:00 on 31 December of year 0 in UTC: a year
# Python's datetime (and so asyncpg's encoder) cannot hold.
BEFORE_YEAR_ONE_IN_UTC = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
STATEMENT_TIMEOUT_MS = 500


@pytest.fixture
async def watcher(fresh_db_url: str) -> AsyncIterator[Connection]:
    """A connection of its own, to look at the pool's backend from outside."""
    conn = await connect(fresh_db_url)
    try:
        yield conn
    finally:
        await conn.close()


async def backend_of_pool(watcher: Connection) -> int:
    """The process id of the one other client of the test's database: the pool's connection."""
    pid = await watcher.fetchval(
        """SELECT pid FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND backend_type = 'client backend'"""
    )
    assert isinstance(pid, int)
    return pid


async def idle_past_the_statement_timeout() -> None:
    """Leave the pool's connection unused until a timer armed by the failed statement has fired.

    What is tested is a server-side timer firing while the connection sits idle (the backend
    shows no change when it fires), so there is no event to wait for: the wait is the timeout
    itself, with a margin, and it is short.
    """
    await asyncio.sleep(STATEMENT_TIMEOUT_MS / 1000 * 1.4)


async def test_a_value_the_driver_cannot_encode_leaves_no_statement_behind(
    fresh_db_url: str, watcher: Connection
) -> None:
    pool = await create_pool(
        fresh_db_url, min_size=1, max_size=1, statement_timeout_ms=STATEMENT_TIMEOUT_MS
    )
    source = PoolSource(pool)
    try:
        with pytest.raises(asyncpg.DataError):
            async with source.acquire() as conn:
                await conn.fetch(
                    "SELECT id FROM zones WHERE updated_at >= $1", BEFORE_YEAR_ONE_IN_UTC
                )
        pid = await backend_of_pool(watcher)
        # At once: the failed statement holds no lock and no transaction on the server.
        locks = await watcher.fetch(
            "SELECT relation::regclass::text AS name FROM pg_locks "
            "WHERE pid = $1 AND locktype = 'relation'",
            pid,
        )
        assert [r["name"] for r in locks] == []
        activity = await watcher.fetchrow(
            "SELECT state, xact_start FROM pg_stat_activity WHERE pid = $1", pid
        )
        assert activity is not None and activity["xact_start"] is None
        # Past the failed statement's timeout, plain statements on the same connection run to
        # their end, each with a statement_timeout of its own.
        await idle_past_the_statement_timeout()
        for _ in range(5):
            async with source.acquire() as conn:
                assert conn.get_server_pid() == pid
                assert await conn.fetchval("SELECT 1 FROM pg_sleep(0.1)") == 1
                assert await conn.fetchval("SELECT count(*) FROM zones") == 0
    finally:
        pool.terminate()  # no graceful close: on failure the connection may be mid-statement


async def test_a_bad_date_time_then_plain_queries_on_the_same_connection(
    fresh_db_url: str, settings: Settings
) -> None:
    pool = await create_pool(
        fresh_db_url, min_size=1, max_size=1, statement_timeout_ms=STATEMENT_TIMEOUT_MS
    )
    app = create_app(settings, db=PoolSource(pool))
    transport = httpx.ASGITransport(app=app)
    query = "query($since: DateTime) { zones(filter: {updatedSince: $since}) { nodes { code } } }"
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mar.test") as http:
            bad = await http.post(
                "/graphql",
                json={"query": query, "variables": {"since": "0001-01-01T00:00:00+14:00"}},
            )
            (error,) = bad.json()["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT", error
            await idle_past_the_statement_timeout()
            for _ in range(5):
                good = await http.post(
                    "/graphql",
                    json={"query": query, "variables": {"since": "2020-01-01T00:00:00+14:00"}},
                    headers={"Cache-Control": "no-cache"},
                )
                assert good.json() == {"data": {"zones": {"nodes": []}}}
    finally:
        pool.terminate()  # no graceful close: on failure the connection may be mid-statement
