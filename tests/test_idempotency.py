"""Idempotency-Key: a mutation runs once per (key holder, key); retries get the first answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.services import zones as zone_service
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import PoolSource, connect, create_pool
from tests.helpers import make_key
from tests.test_zones_graphql import zone_input

CREATE = "mutation($input: CreateZoneInput!) { createZone(input: $input) { id code version } }"


def create_body(code: str) -> dict[str, Any]:
    return {"query": CREATE, "variables": {"input": zone_input(code)}}


async def zone_count(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM zones"))


async def send(http: httpx.AsyncClient, body: dict[str, Any], key: str, **headers: str) -> Any:
    return await http.post("/graphql", json=body, headers={"Idempotency-Key": key, **headers})


@pytest.fixture
async def editor(app: Any, editor_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the in-process app with an editor's key."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://mar.test",
        headers={"Authorization": f"Bearer {editor_key}"},
    ) as http:
        yield http


async def test_a_retry_returns_the_first_answer_and_writes_once(
    editor: httpx.AsyncClient, conn: Conn
) -> None:
    before = await zone_count(conn)
    first = await send(editor, create_body("HA-ID1"), "k-1")
    assert first.status_code == 200 and "errors" not in first.json()
    retry = await send(editor, create_body("HA-ID1"), "k-1")
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert await zone_count(conn) == before + 1
    # The same key with another request: CONFLICT, nothing written.
    other = await send(editor, create_body("HA-ID2"), "k-1")
    (error,) = other.json()["errors"]
    assert error["extensions"]["code"] == "CONFLICT" and "different request" in error["message"]
    assert await zone_count(conn) == before + 1
    # Another key holder may use the same key for its own request.
    admin = await make_key(conn, "other holder", "admin")
    theirs = await send(editor, create_body("HA-ID2"), "k-1", Authorization=f"Bearer {admin}")
    assert theirs.json()["data"]["createZone"]["code"] == "HA-ID2"
    assert await zone_count(conn) == before + 2


async def test_a_refused_mutation_is_answered_the_same_on_retry(
    editor: httpx.AsyncClient, conn: Conn
) -> None:
    bad = create_body("HA-ID3")
    bad["variables"]["input"]["priority"] = 9
    first = await send(editor, bad, "k-bad")
    assert first.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    again = await send(editor, bad, "k-bad")
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


async def test_an_unexpected_failure_is_not_kept_so_a_retry_runs(
    editor: httpx.AsyncClient, conn: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = zone_service.create_zone
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("disk on fire")
        return await real(*args, **kwargs)

    monkeypatch.setattr(zone_service, "create_zone", flaky)
    failed = await send(editor, create_body("HA-ID4"), "k-flaky")
    assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'k-flaky'") == 0
    retried = await send(editor, create_body("HA-ID4"), "k-flaky")
    assert retried.json()["data"]["createZone"]["code"] == "HA-ID4"
    assert "idempotent-replayed" not in retried.headers


async def test_expired_entries_are_ignored_and_cleaned(
    editor: httpx.AsyncClient, conn: Conn
) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (key_holder, key, request_hash, expires_at) "
        "VALUES ('someone', 'stale', 'x', now() - interval '1 hour')"
    )
    first = await send(editor, create_body("HA-ID5"), "k-old")
    assert "errors" not in first.json()
    # Cleaned in passing (at most once a minute per process): this app's first claim did it.
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'stale'") == 0
    await conn.execute(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'k-old'"
    )
    # Expired: the request runs again (here it meets its own zone: CONFLICT on the code).
    again = await send(editor, create_body("HA-ID5"), "k-old")
    assert again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "idempotent-replayed" not in again.headers


async def age(conn: Conn, key: str, by: timedelta) -> None:
    """Make the entry of `key` as old as it would be `by` from now."""
    await conn.execute(
        "UPDATE idempotency_keys SET created_at = created_at - $2::interval, "
        "expires_at = expires_at - $2::interval "
        "WHERE key = $1",
        key,
        by,
    )


async def test_an_entry_lives_24_hours(editor: httpx.AsyncClient, conn: Conn) -> None:
    """Retried within 24 hours, the first answer comes back; after, the key is free again."""
    first = await send(editor, create_body("HA-TTL1"), "k-day")
    assert first.json()["data"]["createZone"]["code"] == "HA-TTL1"
    lifetime = await conn.fetchval(
        "SELECT expires_at - created_at FROM idempotency_keys WHERE key = 'k-day'"
    )
    assert lifetime == timedelta(hours=24)
    # A second short of a day old: still replayed, and still refusing another request.
    await age(conn, "k-day", timedelta(hours=24, seconds=-1))
    replayed = await send(editor, create_body("HA-TTL1"), "k-day")
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == first.json()
    other = await send(editor, create_body("HA-TTL2"), "k-day")
    assert "different request" in other.json()["errors"][0]["message"]
    # A second over a day old: not replayed; the key runs the request it comes with now.
    await age(conn, "k-day", timedelta(seconds=2))
    fresh = await send(editor, create_body("HA-TTL2"), "k-day")
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["data"]["createZone"]["code"] == "HA-TTL2"
    assert await conn.fetchval("SELECT count(*) FROM zones WHERE code LIKE 'HA-TTL%'") == 2
    again = await send(editor, create_body("HA-TTL2"), "k-day")
    assert again.headers["idempotent-replayed"] == "true" and again.json() == fresh.json()


async def test_queries_anonymous_requests_and_bad_keys(
    editor: httpx.AsyncClient, conn: Conn
) -> None:
    query = {"query": "{ zones { totalCount } }"}
    assert "errors" not in (await send(editor, query, "k-q")).json()
    assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    anonymous = await send(editor, create_body("HA-ID7"), "k-a", Authorization="")
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    too_long = await send(editor, create_body("HA-ID7"), "k" * 300)
    assert too_long.status_code == 400
    assert too_long.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.fixture
async def two_apps(
    fresh_db_url: str, settings: Settings
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, str]]:
    """Two app instances (as two server processes), each with its own pool, one database."""
    admin_conn = await connect(fresh_db_url)
    secret = await make_key(admin_conn, "racer", "editor")
    await admin_conn.close()
    pools = [await create_pool(fresh_db_url, min_size=0, max_size=3) for _ in range(2)]
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, db=PoolSource(pool))),
            base_url="http://mar.test",
            headers={"Authorization": f"Bearer {secret}"},
        )
        for pool in pools
    ]
    try:
        yield clients[0], clients[1], fresh_db_url
    finally:
        for client in clients:
            await client.aclose()
        for pool in pools:
            await pool.close()


async def test_two_identical_requests_racing_write_once(
    two_apps: tuple[httpx.AsyncClient, httpx.AsyncClient, str],
) -> None:
    one, two, url = two_apps
    for round_ in range(5):
        body = create_body(f"HA-RACE{round_}")
        answers = await asyncio.gather(
            send(one, body, f"race-{round_}"), send(two, body, f"race-{round_}")
        )
        assert answers[0].json() == answers[1].json()
        assert "errors" not in answers[0].json(), answers[0].json()
        assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 1
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM zones") == 5
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE entity = 'Zone'") == 5
    finally:
        await conn.close()
