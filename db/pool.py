"""Connection pool and connection sources; the only place that opens database connections."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeAlias, cast

import asyncpg

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# Errors that mean the connection, not the statement, failed: the server went away.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    ConnectionError,
    OSError,
)


async def init_connection(conn: Connection) -> None:
    """Register the codecs every connection needs: json and jsonb as Python objects."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


# What settle() sends: a simple query, answered at once, that ends the server's unfinished
# extended-protocol sequence (if any) and with it that sequence's statement timer and locks.
# (asyncpg cannot take the answer to an empty query.)
SETTLE = "SELECT 1"
# How long settle() waits for that answer before it closes the connection instead.
SETTLE_TIMEOUT_S = 2.0


async def settle(conn: Connection) -> None:
    """Leave nothing of a failed user's last statement on `conn`, or close it.

    asyncpg prepares a statement with Parse, Describe and Flush, and sends Bind, Execute and Sync
    only once it has encoded the arguments. When an argument cannot be encoded (a date-time that
    is out of range in UTC, say), or the task is cancelled between the two, no Sync follows: the
    server keeps that statement's implicit transaction open, with its locks and its armed
    statement_timeout. Handed to the next user, the connection then fails that user's statement
    with `canceling statement due to statement timeout` when the old timer fires, however short
    the new statement is. A simple query ends the unfinished sequence (the server disarms the
    timer and closes the implicit transaction when it finishes it); if even that fails, the
    connection is closed, and the pool opens a fresh one for the next user.
    """
    if conn.is_closed() or conn.is_in_transaction():
        return  # closed, or asyncpg's release sends ROLLBACK: a simple query too
    try:
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            await conn.execute(SETTLE)
    except Exception:
        conn.terminate()
    except BaseException:
        conn.terminate()
        raise  # a cancellation of the task itself goes on


class PoolExhausted(Exception):
    """No connection of the pool became free within the acquire timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no database connection became free within {timeout:g} s")
        self.timeout = timeout


# Planner settings of every connection the service opens. The records of a mine action centre
# fit in memory many times over, so a random read costs about what a sequential one does: with
# the default random_page_cost (4, for spinning disks) the planner scans a 200-row table once
# per parent row rather than looking rows up by key, which made nested reads 2-3x slower. JIT
# compilation costs tens of milliseconds to save less on queries of this size.
SERVER_SETTINGS = {"random_page_cost": "1.1", "jit": "off"}


def session_settings(max_casualties_per_incident: int | None) -> dict[str, str]:
    """SERVER_SETTINGS, and the casualty cap the database's trigger reads (migration 0008)."""
    settings = dict(SERVER_SETTINGS)
    if max_casualties_per_incident is not None:
        settings["mar.max_casualties_per_incident"] = str(max_casualties_per_incident)
    return settings


async def _keep_session(_conn: Connection) -> None:
    """Reset a connection returned to the pool: nothing beyond what asyncpg always does.

    asyncpg always rolls back a transaction left open and drops Python-side listeners. Its
    default reset also runs `RESET ALL`, `CLOSE ALL`, `UNLISTEN *` and unlocks advisory locks,
    a round trip on every release; the service sets nothing that outlives a transaction on a
    pooled connection (settings with set_config(..., true), transaction-scoped locks; LISTEN
    has a connection of its own), so it skips that round trip.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    command_timeout: float | None = None,
    statement_timeout_ms: int = 0,
    max_casualties_per_incident: int | None = None,
) -> Pool:
    """Open a pool whose connections have the project's codecs registered.

    With `statement_timeout_ms`, the server cancels any statement of these connections running
    longer (asyncpg.QueryCanceledError), so a runaway query cannot hold a connection for long.
    """
    settings = session_settings(max_casualties_per_incident)
    if statement_timeout_ms:
        settings["statement_timeout"] = str(statement_timeout_ms)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        command_timeout=command_timeout,
        max_inactive_connection_lifetime=300.0,
        server_settings=settings,
        reset=_keep_session,
    )
    assert pool is not None  # create_pool returns None only when awaited lazily
    return pool


async def connect(dsn: str, *, max_casualties_per_incident: int | None = None) -> Connection:
    """Open one connection with the project's codecs registered."""
    conn = await asyncpg.connect(dsn, server_settings=session_settings(max_casualties_per_incident))
    await init_connection(conn)
    return conn


class ConnectionSource(Protocol):
    """Where a request borrows its connections from."""

    def acquire(self) -> AbstractAsyncContextManager[Connection]: ...


class PoolSource:
    """Borrow connections from a pool; a lost server makes the pool reconnect."""

    def __init__(self, pool: Pool, *, acquire_timeout: float = 10.0) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        """Yield a pooled connection; after a connection failure, drop every stale one.

        Waits at most `acquire_timeout` seconds for a free connection, then raises PoolExhausted.
        """
        acquired = False
        try:
            async with self.pool.acquire(timeout=self.acquire_timeout) as proxy:
                acquired = True
                # The proxy forwards every Connection method; the stubs do not say so.
                conn = cast(Connection, proxy)
                try:
                    yield conn
                except BaseException:
                    # The user failed, perhaps half-way through a statement: the next one
                    # must not inherit what it left on the connection.
                    await settle(conn)
                    raise
        except TimeoutError:
            if acquired:
                raise
            raise PoolExhausted(self.acquire_timeout) from None
        except CONNECTION_ERRORS:
            # Every other idle connection died with the server too: replace them on next use.
            await self.pool.expire_connections()
            raise


class SingleConnectionSource:
    """Share one connection, one user at a time (tests run each case inside one transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        """Yield the shared connection once no one else holds it, settled after a failure."""
        async with self._lock:
            try:
                yield self.conn
            except BaseException:
                await settle(self.conn)
                raise
