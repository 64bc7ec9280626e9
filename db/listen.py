"""A connection that LISTENs for notifications, and notices when it is lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import asyncpg

from db.queries import health as health_sql

# How often a quiet listening connection checks that the server is still there (seconds).
PROBE_EVERY_S = 15.0
PROBE_TIMEOUT_S = 5.0

Deliver = Callable[[str, str], None]  # (channel, payload)


async def listen(
    dsn: str, channels: Iterable[str], deliver: Deliver, on_listening: Callable[[], None]
) -> None:
    """Call `deliver` for every notification on `channels` until the connection is lost.

    Returns when the server closes the connection; raises when it cannot connect, or when the
    server stops answering (a probe every PROBE_EVERY_S seconds finds a server that vanished
    without closing the connection).
    """
    conn = await asyncpg.connect(dsn)
    lost = asyncio.Event()
    conn.add_termination_listener(lambda _conn: lost.set())
    try:
        for channel in channels:
            await conn.add_listener(channel, lambda _c, _pid, ch, payload: deliver(ch, payload))
        on_listening()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=PROBE_EVERY_S)
            if not lost.is_set():
                await asyncio.wait_for(conn.fetchval(health_sql.PING), timeout=PROBE_TIMEOUT_S)
    finally:
        if not conn.is_closed():
            conn.terminate()
