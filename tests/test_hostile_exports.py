"""Hostile clients of the exports, against the real server (`mar serve`) over real sockets: clients
that ask for an export and never read hold no database connection and no transaction, cannot
take more than their share of export slots, are cut off after the send timeout (their slot
freed), and GraphQL and OGC reads keep answering meanwhile; a client that goes away is an INFO
line in the server's log, never an error with a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import connect
from tests.helpers import make_key, server_process, serving

pytestmark = [pytest.mark.commits, pytest.mark.timeout(180)]

ZONES = 1500  # ~10 KB of GeoJSON each: an answer far larger than the sockets' buffers
EXPORT = "/exports/zones.geojson"
SMALL_RCVBUF = 4096


async def seed_large_zones(url: str) -> None:
    """Commit ZONES zones with round, finely drawn outlines (257 vertices each)."""
    conn = await connect(url)
    try:
        await conn.execute(
            "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
            "SELECT 'Z-' || n, 'Zone ' || n, 'SHA', ARRAY['UXO'], "
            "ST_Multi(ST_Buffer(ST_MakePoint(30 + n * 0.0001, 10), 0.00005, 64)), 3 "
            f"FROM generate_series(1, {ZONES}) AS n"
        )
    finally:
        await conn.close()


def stalled_export(base_url: str, path: str = EXPORT, headers: str = "") -> socket.socket:
    """A client that asks for `path`, reads the status line, and then reads nothing more."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)  # before connect
    sock.settimeout(15)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
    return sock


def status_of(sock: socket.socket) -> int:
    """The HTTP status of the answer on `sock`, reading no more than its first line."""
    line = b""
    while not line.endswith(b"\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise AssertionError(f"the connection closed before a status line: {line!r}")
        line += byte
    return int(line.split()[1])


def reset(sock: socket.socket) -> None:
    """Close with a reset, as a client that crashes does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    """Poll `check` until it holds; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:g} s: {what}")
        await asyncio.sleep(0.1)


async def export_transactions(admin: asyncpg.Connection[asyncpg.Record], db: str) -> list[str]:
    """The states of the server's connections to `db` that are inside a transaction."""
    rows = await admin.fetch(
        "SELECT state FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() "
        "AND xact_start IS NOT NULL AND query NOT ILIKE '%LISTEN%'",
        db,
    )
    return [r["state"] for r in rows]


async def test_stalled_exports_hold_nothing_and_reads_keep_answering(fresh_db_url: str) -> None:
    await seed_large_zones(fresh_db_url)
    setup = await connect(fresh_db_url)
    try:
        secret = await make_key(setup, "partner exports", "partner")
    finally:
        await setup.close()
    db = fresh_db_url.rsplit("/", 1)[1]
    settings = {
        "MAR_POOL_MAX_SIZE": "3",
        "MAR_POOL_ACQUIRE_TIMEOUT": "3",
        "MAR_EXPORTS_PER_CLIENT": "5",
        "MAR_EXPORTS_MAX": "10",
        "MAR_EXPORT_SEND_TIMEOUT": "300",
        "MAR_RATE_LIMIT": "0",
    }
    admin = await connect(fresh_db_url)
    stalled: list[socket.socket] = []
    async with serving(fresh_db_url, **settings) as base_url:
        try:
            # More stalled exports than the pool has connections, all from this address.
            for _ in range(5):
                stalled.append(stalled_export(base_url))
            assert [await asyncio.to_thread(status_of, s) for s in stalled] == [200] * 5

            async def written() -> bool:
                return not await export_transactions(admin, db)

            # Each export is read at the database's speed, whatever its client does: once the
            # rows are spooled, no connection of the server is left in a transaction.
            await eventually(written, "the stalled exports' transactions end")
            assert "idle in transaction" not in await export_transactions(admin, db)

            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                # The exports are still running (their clients read nothing): their slots are
                # held, so this address's sixth is refused.
                refused = await http.get(EXPORT)
                assert refused.status_code == 429, refused.text[:300]
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["code"] == "RATE_LIMITED"
                assert int(refused.headers["retry-after"]) >= 1
                # Another caller (a key) has slots of its own.
                async with http.stream(
                    "GET", EXPORT, headers={"Authorization": f"Bearer {secret}"}
                ) as keyed:
                    assert keyed.status_code == 200
                # Reads answer meanwhile, from the same small pool.
                answer = await http.post(
                    "/graphql",
                    json={"query": "{ zones(first: 3) { nodes { code } } }"},
                    headers={"Cache-Control": "no-cache"},
                )
                assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
                assert len(answer.json()["data"]["zones"]["nodes"]) == 3
                items = await http.get("/ogc/collections/zones/items", params={"limit": 2})
                assert items.status_code == 200, items.text[:300]
                assert len(items.json()["features"]) == 2
            assert "idle in transaction" not in await export_transactions(admin, db)
        finally:
            for sock in stalled:
                reset(sock)
            await admin.close()


async def test_a_client_that_does_not_read_is_cut_off_and_its_slot_freed(
    fresh_db_url: str,
) -> None:
    await seed_large_zones(fresh_db_url)
    settings = {
        "MAR_EXPORTS_PER_CLIENT": "1",
        "MAR_EXPORT_SEND_TIMEOUT": "3",
        "MAR_RATE_LIMIT": "0",
    }
    async with serving(fresh_db_url, **settings) as base_url:
        sock = stalled_export(base_url)
        try:
            assert await asyncio.to_thread(status_of, sock) == 200
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                assert (await http.get(EXPORT)).status_code == 429

                async def admitted() -> bool:
                    async with http.stream("GET", EXPORT) as response:
                        return response.status_code == 200

                # After the send timeout the stalled client is cut off and its slot is free.
                await eventually(admitted, "the stalled export's slot is freed")
            assert time.monotonic() - started >= 3 - 0.5
            received, ended = await asyncio.to_thread(read_to_the_end, sock)
            # Reset, not ended: what the client got is not the whole (chunked) answer.
            assert ended == "reset" or not received.endswith(b"0\r\n\r\n")
            assert len(received) < ZONES * 10_000
        finally:
            reset(sock)


def read_to_the_end(sock: socket.socket) -> tuple[bytes, str]:
    """Everything `sock` still delivers, and how it ended: `eof` or `reset`."""
    received = bytearray()
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        return bytes(received), "reset"
    return bytes(received), "eof"


@contextlib.asynccontextmanager
async def serving_with_log(database_url: str, log: Path, **settings: str) -> AsyncIterator[str]:
    """`mar serve` as tests.helpers.serving starts it, its log (JSON lines) written to `log`."""
    with log.open("wb") as out:
        async with server_process(
            database_url, stderr=out, **{**settings, "MAR_LOG_JSON": "true"}
        ) as (base_url, _process):
            yield base_url


def log_records(log: Path) -> list[dict[str, Any]]:
    """The server's log lines so far; a line that is not JSON (a bare traceback) as such."""
    records = []
    for line in log.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append({"level": "RAW", "message": line})
    return records


async def test_a_client_that_goes_away_is_an_info_line_without_a_traceback(
    fresh_db_url: str, tmp_path: Path
) -> None:
    await seed_large_zones(fresh_db_url)
    log = tmp_path / "server.log"
    async with serving_with_log(fresh_db_url, log, MAR_RATE_LIMIT="0") as base_url:
        # Mid-answer: a client reads part of an export and drops the connection.
        for path in (EXPORT, "/exports/zones.csv"):
            sock = stalled_export(base_url, path)
            assert await asyncio.to_thread(status_of, sock) == 200
            await asyncio.to_thread(sock.recv, 65536)
            reset(sock)
        # Mid-request: a client sends half of its body and leaves.
        host, port = base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n" + b'{"query": "' + b" " * 5000
            )

        async def all_noted() -> bool:
            records = log_records(log)
            served = [r for r in records if r.get("logger") == "mar.access"]
            # Each disconnect leaves a line: "went away" (INFO), or (before the fix) an error.
            noted = [r for r in records if "went away" in r["message"] or r["level"] == "ERROR"]
            return len(served) >= 3 and len(noted) >= 3

        await eventually(all_noted, "the three requests served and their disconnects logged")
    # The server has stopped: whatever the disconnects caused is in the log now.
    records = log_records(log)
    loud = [r for r in records if r["level"] not in ("INFO", "DEBUG")]
    assert loud == [], loud
    assert not any("Traceback" in json.dumps(r) for r in records)
    gone = [r for r in records if "went away" in r["message"]]
    assert len(gone) == 3, records
    assert all(r["level"] == "INFO" and "exception" not in r for r in gone), gone
