"""A connection that LISTENs for notifications, and notices when it is lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

import asyncpg

from db.pool import Connection
from db.queries import health as health_sql

# How often a quiet listening connection checks that the server is still there (seconds).
PROBE_EVERY_S = 15.0
PROBE_TIMEOUT_S = 5.0
# How the listening connection is named in pg_stat_activity, for operators (and tests).
APPLICATION_NAME = "mar-listen"

Deliver = Callable[[str, str], None]  # (channel, payload)
# Awaited once LISTEN is in place, with the connection: what it reads there, and the
# notifications from then on, miss no change between them.
OnListening = Callable[[Connection], Awaitable[None]]


async def listen(
    dsn: str, channels: Iterable[str], deliver: Deliver, on_listening: OnListening
) -> None:
    """Call `deliver` for every notification on `channels` until the connection is lost.

    Returns when the server closes the connection; raises when it cannot connect, or when the
    server stops answering (a probe every PROBE_EVERY_S seconds finds a server that vanished
    without closing the connection).
    """
    conn = await asyncpg.connect(dsn, server_settings={"application_name": APPLICATION_NAME})
    lost = asyncio.Event()
    conn.add_termination_listener(lambda _conn: lost.set())
    try:
        for channel in channels:
            await conn.add_listener(channel, lambda _c, _pid, ch, payload: deliver(ch, payload))
        await on_listening(conn)
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=PROBE_EVERY_S)
            if not lost.is_set():
                await asyncio.wait_for(conn.fetchval(health_sql.PING), timeout=PROBE_TIMEOUT_S)
    finally:
        if not conn.is_closed():
            conn.terminate()
