"""The pieces of a streamed export: the spool (the database's side, at its own speed), the slots
(how many exports at once), their settings; and, in-process, that an export's connection is given
back while its client still has not read the answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.rest.export_slots import ExportSlots
from api.services.spool import Spool
from api.settings import Settings, SettingsError
from db.pool import PoolSource, connect, create_pool


async def chunks_of(
    parts: list[bytes], *, fail: Exception | None = None
) -> AsyncGenerator[bytes, None]:
    for part in parts:
        await asyncio.sleep(0)
        yield part
    if fail is not None:
        raise fail


async def read_all(spool: Spool) -> bytes:
    return b"".join([chunk async for chunk in spool.read()])


async def test_the_spool_gives_back_every_byte_in_order() -> None:
    parts = [bytes([n % 256]) * (n * 997 % 70_000) for n in range(60)]
    spool = Spool(chunks_of(parts), read_bytes=4096)
    await spool.start()
    try:
        assert await read_all(spool) == b"".join(parts)
        assert spool.done and spool.written == sum(map(len, parts))
    finally:
        await spool.close()


async def test_a_failure_before_the_first_chunk_is_raised_by_start() -> None:
    spool = Spool(chunks_of([], fail=LookupError("no such statement")))
    with pytest.raises(LookupError, match="no such statement"):
        await spool.start()
    await spool.close()


async def test_a_failure_half_way_reaches_the_reader_after_what_was_written() -> None:
    spool = Spool(chunks_of([b"head", b"rows"], fail=TimeoutError("statement timeout")))
    await spool.start()
    seen: list[bytes] = []
    with pytest.raises(TimeoutError, match="statement timeout"):
        async for chunk in spool.read():
            seen.append(chunk)
    assert b"".join(seen) == b"headrows"
    await spool.close()


async def test_closing_stops_the_source_and_runs_its_cleanup(tmp_path: Path) -> None:
    cleaned = asyncio.Event()
    more = asyncio.Event()

    async def endless() -> AsyncGenerator[bytes, None]:
        try:
            yield b"head"
            await more.wait()  # a statement that never ends
            yield b"never"
        finally:
            cleaned.set()

    spool = Spool(endless(), folder=str(tmp_path))
    await spool.start()
    await spool.close()
    assert cleaned.is_set()
    assert list(tmp_path.iterdir()) == []  # the spool file was never visible


def test_slots_per_caller_and_in_all() -> None:
    slots = ExportSlots(per_client=2, total=3)
    a1, a2 = slots.take("addr:a"), slots.take("addr:a")
    assert not isinstance(a1, str) and not isinstance(a2, str)
    assert "per client" in str(slots.take("addr:a"))
    b1 = slots.take("key:b")
    assert not isinstance(b1, str)
    assert "at most 3" in str(slots.take("key:c"))
    a1.release()
    a1.release()  # once only
    assert slots.running == 2
    assert not isinstance(slots.take("key:c"), str)
    assert isinstance(slots.take("addr:a"), str)  # the process is full again


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAR_EXPORTS_PER_CLIENT": "0"}, "MAR_EXPORTS_PER_CLIENT must be between"),
        ({"MAR_EXPORTS_MAX": "many"}, "MAR_EXPORTS_MAX must be a whole number"),
        ({"MAR_EXPORT_SEND_TIMEOUT": "0"}, "MAR_EXPORT_SEND_TIMEOUT must be between"),
        ({"MAR_EXPORT_SPOOL_DIR": "/no/such/folder"}, "MAR_EXPORT_SPOOL_DIR must name"),
    ],
)
def test_bad_export_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_export_settings_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MAR_EXPORTS_PER_CLIENT": "3",
            "MAR_EXPORTS_MAX": "7",
            "MAR_EXPORT_SEND_TIMEOUT": "9",
            "MAR_EXPORT_SPOOL_DIR": str(tmp_path),
        }
    )
    assert (settings.exports_per_client, settings.exports_max) == (3, 7)
    assert (settings.export_send_timeout_s, settings.export_spool_dir) == (9, str(tmp_path))
    defaults = Settings.from_env({})
    assert (defaults.exports_per_client, defaults.exports_max) == (2, 4)
    assert (defaults.export_send_timeout_s, defaults.export_spool_dir) == (30, "")


@pytest.mark.commits
async def test_the_connection_is_back_before_the_client_reads_anything(
    fresh_db_url: str, settings: Settings
) -> None:
    setup = await connect(fresh_db_url)
    try:
        await setup.execute(
            "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
            "SELECT 'Z-' || n, 'Zone ' || n, 'SHA', ARRAY['UXO'], "
            "ST_Multi(ST_Buffer(ST_MakePoint(30 + n * 0.0001, 10), 0.00005, 16)), 3 "
            "FROM generate_series(1, 500) AS n"
        )
    finally:
        await setup.close()
    pool = await create_pool(fresh_db_url, min_size=1, max_size=1)
    exports: list[asyncio.Task[None]] = []
    try:
        app = create_app(settings, db=PoolSource(pool, acquire_timeout=5))
        started, may_read, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            started.set()
            if message["type"] == "http.response.body":
                await may_read.wait()  # a client that does not read until told to
                body.append(message["body"])
                if not message.get("more_body"):
                    finished.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/exports/zones.geojson",
            "raw_path": b"/exports/zones.geojson",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"mar.test")],
            "client": ("127.0.0.1", 1),
            "server": ("mar.test", 80),
        }
        export = asyncio.create_task(app(scope, receive, send))
        exports.append(export)
        # The one connection of the pool comes back while the client has read nothing...
        async with asyncio.timeout(30):
            await started.wait()  # the export has its connection and its statement open
            while pool.get_idle_size() != pool.get_size() or not pool.get_size():
                await asyncio.sleep(0.02)
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM zones") == 500
        assert body == [] and not export.done()
        # ... and the answer, read afterwards, is whole.
        may_read.set()
        await asyncio.wait_for(export, 30)
        assert len(json.loads(b"".join(body))["features"]) == 500
    finally:
        for task in exports:
            task.cancel()
        pool.terminate()  # whatever still holds a connection (a failure of this test)


async def test_head_answers_the_headers_and_gives_its_slot_back(client: httpx.AsyncClient) -> None:
    for _ in range(3):  # more than the default two exports per client: each slot came back
        response = await client.head("/exports/zones.csv")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.content == b""
