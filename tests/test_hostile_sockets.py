"""Hostile WebSocket clients against the real server (`mar serve`): a key withdrawn while its
socket is open loses it within a second, in every server process and by any path (the CLI, plain
SQL, a listener that was away); sockets are capped per key and per address; every read of
casualties' personal data over a socket, and through the audit log, is counted for the key."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.cli import main
from db.listen import APPLICATION_NAME
from tests.conftest import server_url
from tests.helpers import make_key, metric_samples, serving
from tests.test_subscriptions import (
    INCIDENT,
    next_events,
    open_socket,
    subscribe,
    subscriptions_open,
)

pytestmark = pytest.mark.commits

# What the brief promises: a withdrawn key's sockets are closed within this many seconds.
CLOSED_WITHIN_S = 1.0
NAMES = "query { incidents(first: 50) { nodes { code casualties { fullName notes } } } }"
LIVE_CODES = "subscription { incidentRecorded { code } }"
LIVE_NAMES = "subscription { incidentRecorded { code casualties { fullName notes } } }"
CASUALTIES = (
    "INSERT INTO casualties (incident_id, outcome, full_name, notes) "
    "VALUES ($1, 'KILLED', 'A Person', NULL), ($1, 'INJURED', NULL, 'left arm'), "
    "($1, 'INJURED', NULL, NULL)"
)


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    async with serving(fresh_db_url) as base_url:
        yield base_url


async def closing(ws: ClientConnection, within: float) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes `ws` (at most `within` seconds): its close code, and every
    message that came before it. Fails when it is still open by then."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"still open after {within} s; received {received}")
            try:
                received.append(json.loads(await asyncio.wait_for(ws.recv(), remaining)))
            except TimeoutError:
                raise AssertionError(f"still open after {within} s; received {received}") from None
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), received


async def subscribed(ws: ClientConnection, server: str, query: str = LIVE_NAMES) -> None:
    """Open a subscription to incidents on `ws` and wait until the server follows it."""
    await subscribe(ws, "live", query)
    await subscriptions_open(server, "incident", 1)


async def personal_reads(db: asyncpg.Connection[asyncpg.Record], name: str) -> int:
    value: int = await db.fetchval("SELECT personal_data_reads FROM api_keys WHERE name = $1", name)
    return value


async def reads_become(
    db: asyncpg.Connection[asyncpg.Record], name: str, expected: int, within: float = 5.0
) -> None:
    """Wait until the key's counter of personal data reads is `expected` (bounded)."""
    deadline = time.monotonic() + within
    while (got := await personal_reads(db, name)) != expected:
        assert got < expected, f"counted {got}, more than the {expected} reads made"
        if time.monotonic() > deadline:
            raise AssertionError(f"counted {got} of {expected} personal data reads")
        await asyncio.sleep(0.05)


async def incident_with_casualties(db: asyncpg.Connection[asyncpg.Record], code: str) -> int:
    async with db.transaction():
        incident: int = await db.fetchval(INCIDENT + " RETURNING id", code, "OTHER")
        await db.execute(CASUALTIES, incident)
    return incident


async def sockets_open(base_url: str, count: int) -> None:
    """Wait (10 s at most) until the server holds `count` WebSockets."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(100):
            figures = metric_samples((await http.get("/metrics")).text)
            if figures.get(("mar_websockets", ())) == count:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"the server does not hold {count} WebSockets")


# --- revocation reaches open sockets ---------------------------------------------------------


async def test_a_key_revoked_with_the_cli_loses_its_open_socket_within_a_second(
    server: str,
    db: asyncpg.Connection[asyncpg.Record],
    fresh_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = await make_key(db, "field laptop", "editor")
    ws = await open_socket(server, key)
    try:
        await subscribed(ws, server)
        monkeypatch.setenv("DATABASE_URL", fresh_db_url)
        assert await asyncio.to_thread(main, ["keys", "revoke", "field laptop"]) == 0
        revoked_at = time.monotonic()
        # Recorded after the revocation: the subscription must not carry it.
        await incident_with_casualties(db, "AFTER-REVOKE")
        code, received = await closing(ws, CLOSED_WITHIN_S)
        assert code == 4401
        assert time.monotonic() - revoked_at < CLOSED_WITHIN_S
        assert received == []
    finally:
        await ws.close()
    await subscriptions_open(server, "incident", 0)
    # Neither can the key open a new socket.
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(server, key)
    assert refused.value.response.status_code == 401


async def test_a_key_revoked_in_sql_with_a_change_in_the_same_commit_sends_nothing_more(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "sql revoked", "editor")
    ws = await open_socket(server, key)
    try:
        await subscribed(ws, server)
        async with db.transaction():
            await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'sql revoked'")
            incident = await db.fetchval(INCIDENT + " RETURNING id", "SAME-COMMIT", "OTHER")
            await db.execute(CASUALTIES, incident)
        code, received = await closing(ws, CLOSED_WITHIN_S)
        assert (code, received) == (4401, [])
    finally:
        await ws.close()


async def test_a_deleted_key_loses_its_socket(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "deleted", "partner")
    ws = await open_socket(server, key)
    try:
        await subscribed(ws, server, "subscription { incidentRecorded { code } }")
        await db.execute("DELETE FROM api_keys WHERE name = 'deleted'")
        code, _ = await closing(ws, CLOSED_WITHIN_S)
        assert code == 4401
    finally:
        await ws.close()


async def test_a_role_change_closes_the_socket_with_4403_and_other_keys_keep_theirs(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    demoted = await make_key(db, "demoted", "editor")
    other = await make_key(db, "untouched", "editor")
    ws = await open_socket(server, demoted)
    bystander = await open_socket(server, other)
    try:
        await subscribed(ws, server)
        await db.execute("UPDATE api_keys SET role = 'partner' WHERE name = 'demoted'")
        code, received = await closing(ws, CLOSED_WITHIN_S)
        assert (code, received) == (4403, [])
        # The other key's socket still answers.
        await subscribe(bystander, "q", "query { zones(first: 1) { totalCount } }")
        answer = json.loads(await asyncio.wait_for(bystander.recv(), 5))
        assert answer["type"] == "next" and "errors" not in answer["payload"], answer
    finally:
        await ws.close()
        await bystander.close()


async def test_revocation_reaches_a_socket_on_another_server_process(
    fresh_db_url: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "two servers", "editor")
    async with serving(fresh_db_url) as first, serving(fresh_db_url) as second:
        on_first = await open_socket(first, key)
        on_second = await open_socket(second, key)
        try:
            await subscribed(on_second, second)
            # Revoked through the first process's own connection's database, heard by both.
            await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'two servers'")
            revoked_at = time.monotonic()
            (code_second, received), (code_first, _) = await asyncio.gather(
                closing(on_second, CLOSED_WITHIN_S), closing(on_first, CLOSED_WITHIN_S)
            )
            assert time.monotonic() - revoked_at < CLOSED_WITHIN_S
            assert (code_second, received, code_first) == (4401, [], 4401)
        finally:
            await on_first.close()
            await on_second.close()


async def listening(base_url: str, expected: bool) -> None:
    """Wait (10 s at most) until the server says it listens for changes, or that it does not."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(200):
            figures = metric_samples((await http.get("/metrics")).text)
            if figures.get(("mar_live_listening", ())) == (1 if expected else 0):
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"the server's listening is not {expected}")


@contextlib.asynccontextmanager
async def listener_away(
    db: asyncpg.Connection[asyncpg.Record], base_url: str
) -> AsyncIterator[None]:
    """End the server's listening connection, and keep it from connecting again (the database
    takes no new connection; those already open go on) until the block ends."""
    name = await db.fetchval("SELECT current_database()")
    # A database cannot be closed to connections from inside itself.
    admin = await asyncpg.connect(server_url())
    pid = await db.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
        name,
        APPLICATION_NAME,
    )
    assert pid is not None, "the server has no listening connection"
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            assert await db.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
            await listening(base_url, False)
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


async def test_a_key_revoked_while_the_listener_is_away_runs_no_further_operation(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    """The announcement is lost: the key is read again before the next operation runs."""
    await incident_with_casualties(db, "BEFORE")
    key = await make_key(db, "missed", "editor")
    ws = await open_socket(server, key)
    try:
        # The socket has run an operation: its key was checked while the listener was up.
        await subscribe(ws, "first", "query { zones(first: 1) { totalCount } }")
        replies = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        assert [m["type"] for m in replies] == ["next", "complete"]
        async with listener_away(db, server):
            await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'missed'")
            await subscribe(ws, "names", NAMES)
            code, received = await closing(ws, CLOSED_WITHIN_S)
            assert (code, received) == (4401, [])
    finally:
        await ws.close()


async def test_a_key_revoked_while_the_listener_is_away_loses_its_subscriptions_on_reconnect(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "quiet", "editor")
    ws = await open_socket(server, key)
    try:
        await subscribed(ws, server)
        async with listener_away(db, server):
            await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'quiet'")
        # Back after its retry pauses (0.5 s, 1 s, ...), the listener reads the keys again.
        await listening(server, True)
        code, received = await closing(ws, CLOSED_WITHIN_S)
        assert (code, received) == (4401, [])
    finally:
        await ws.close()


# --- sockets per key and per address ---------------------------------------------------------


async def test_sockets_are_capped_per_key_and_per_address(
    fresh_db_url: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "greedy", "partner")
    other = await make_key(db, "modest", "partner")
    limits = {"MAR_WS_MAX_PER_KEY": "2", "MAR_WS_MAX_PER_ADDRESS": "3"}
    async with serving(fresh_db_url, **limits) as server:
        held = [await open_socket(server, key) for _ in range(2)]
        held += [await open_socket(server) for _ in range(3)]
        try:
            for extra_key in (key, None):
                with pytest.raises(InvalidStatus) as refused:
                    await open_socket(server, extra_key)
                response = refused.value.response
                assert response.status_code == 429
                assert int(response.headers["retry-after"]) >= 1
                (error,) = json.loads(response.body)["errors"]
                assert error["extensions"]["code"] == "RATE_LIMITED"
                assert "WebSockets" in error["message"]
            # Another key is not held back by the first one's sockets, nor by the address's.
            modest = await open_socket(server, other)
            await modest.close()
            # A socket closed makes room for one more.
            await held.pop(0).close()
            await sockets_open(server, 4)
            held.append(await open_socket(server, key))
        finally:
            for ws in held:
                await ws.close()


async def test_websocket_handshakes_spend_the_callers_rate_budget(fresh_db_url: str) -> None:
    # Opening and closing sockets in a loop costs a key lookup each: it is limited like requests.
    async with serving(fresh_db_url, MAR_RATE_LIMIT="1", MAR_RATE_BURST="3") as server:
        for _ in range(3):
            await (await open_socket(server)).close()
        with pytest.raises(InvalidStatus) as refused:
            await open_socket(server)
        response = refused.value.response
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        (error,) = json.loads(response.body)["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["requestId"] == response.headers["x-request-id"]


async def test_one_socket_runs_at_most_the_configured_operations_at_once(
    fresh_db_url: str,
) -> None:
    async with serving(fresh_db_url, MAR_WS_MAX_OPERATIONS="2") as server:
        ws = await open_socket(server)
        try:
            for sid in ("one", "two", "three"):
                await subscribe(ws, sid, LIVE_CODES)
            (refusal,) = await next_events(ws, 1)
            assert refusal["id"] == "three" and refusal["type"] == "error"
            assert refusal["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
            await subscriptions_open(server, "incident", 2)
            # Completing one makes room for another.
            await ws.send(json.dumps({"id": "one", "type": "complete"}))
            await subscriptions_open(server, "incident", 1)
            await subscribe(ws, "four", LIVE_CODES)
            await subscriptions_open(server, "incident", 2)
        finally:
            await ws.close()


# --- personal data read over a socket or through the audit log --------------------------------


async def test_personal_data_read_by_a_query_over_a_socket_is_counted(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    await incident_with_casualties(db, "WS-QUERY")
    key = await make_key(db, "socket reader", "editor")
    ws = await open_socket(server, key)
    try:
        for run in (1, 2):
            await subscribe(ws, f"q{run}", NAMES)
            answer, done = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            (incident,) = answer["payload"]["data"]["incidents"]["nodes"]
            assert {c["fullName"] for c in incident["casualties"]} == {"A Person", None}
            assert done["type"] == "complete"
            # Three casualties' personal data each time, as the same query over HTTP counts.
            await reads_become(db, "socket reader", 3 * run)
    finally:
        await ws.close()


async def test_personal_data_in_subscription_events_is_counted_per_event(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    key = await make_key(db, "event reader", "editor")
    ws = await open_socket(server, key)
    try:
        await subscribed(ws, server)
        for code in ("EVENT-1", "EVENT-2"):
            await incident_with_casualties(db, code)
        events = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        assert [e["payload"]["data"]["incidentRecorded"]["code"] for e in events] == [
            "EVENT-1",
            "EVENT-2",
        ]
        await reads_become(db, "event reader", 6)
    finally:
        await ws.close()


AUDIT = """query {
  auditLog(entity: "Casualty", first: 50) { nodes { entity entityId action before after } }
}"""


async def test_personal_data_read_through_the_audit_log_is_counted(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    incident = await incident_with_casualties(db, "AUDITED")
    # An update that touches no personal data shows none; one that does shows it again.
    await db.execute("UPDATE casualties SET age = 30 WHERE incident_id = $1", incident)
    await db.execute(
        "UPDATE casualties SET notes = 'both legs' WHERE incident_id = $1 AND notes IS NOT NULL",
        incident,
    )
    key = await make_key(db, "auditor", "admin")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server, headers=headers) as http:
        body = (await http.post("/graphql", json={"query": AUDIT})).json()
    entries = body["data"]["auditLog"]["nodes"]
    assert len(entries) == 7 and "errors" not in body  # 3 created, 3 + 1 updated
    # Every created row carries full_name and notes: all three casualties were read.
    await reads_become(db, "auditor", 3)
    # Over a socket: entries that show no personal data count nothing, the same read as
    # over HTTP counts the same.
    ws = await open_socket(server, key)
    try:
        zones = 'query { auditLog(entity: "Zone") { nodes { before after } } }'
        for sid, query in (("zones", zones), ("casualties", AUDIT)):
            await subscribe(ws, sid, query)
            answer, done = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            assert done == {"id": sid, "type": "complete"}
        assert len(answer["payload"]["data"]["auditLog"]["nodes"]) == 7
        await reads_become(db, "auditor", 6)
    finally:
        await ws.close()


async def test_each_operation_of_a_socket_reads_the_records_as_they_are_then(
    server: str, db: asyncpg.Connection[asyncpg.Record]
) -> None:
    """Nested fields come from the operation's own loaders, never from an earlier one's."""
    incident = await incident_with_casualties(db, "FRESH")
    ws = await open_socket(server)
    query = "query { incidents(first: 5) { nodes { casualties { outcome } } } }"
    try:
        outcomes = []
        for run in (1, 2):
            await subscribe(ws, f"q{run}", query)
            answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
            (node,) = answer["payload"]["data"]["incidents"]["nodes"]
            outcomes.append(sorted(c["outcome"] for c in node["casualties"]))
            await asyncio.wait_for(ws.recv(), 5)  # complete
            await db.execute(
                "UPDATE casualties SET outcome = 'KILLED' WHERE incident_id = $1", incident
            )
        assert outcomes == [["INJURED", "INJURED", "KILLED"], ["KILLED", "KILLED", "KILLED"]]
    finally:
        await ws.close()
