"""The load generator: the real server in a subprocess, a minimal HTTP/1.1 client, timed rounds.

The client shares the machine's cores with the server and PostgreSQL, so it is kept cheap: an
asyncio Protocol per keep-alive connection, requests encoded once beforehand, responses framed by
Content-Length and checked with a substring search for `"errors"` rather than parsed. Its own CPU
time is measured (`client_ms`) together with the server's and PostgreSQL's, per request.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg

from bench.generate import Connection
from db.pool import SERVER_SETTINGS

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


class HttpError(Exception):
    """The server answered something the client cannot use."""


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends a request and waits for its response."""

    # Responses, over all connections, that the server answered from its response cache.
    cache_hits = 0

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.status = 0
        self.body_start = -1
        self.body_end = -1

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        """Connect to host:port."""
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpError(f"connection closed: {exc}"))
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.body_end < 0:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = bytes(self.buffer[:head_end]).lower()
            self.status = int(head[9:12])
            if b"\r\nx-cache: hit" in head:
                HttpConnection.cache_hits += 1
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self._fail("a response without Content-Length")
                return
            end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : end if end > 0 else len(head)])
            self.body_start = head_end + 4
            self.body_end = self.body_start + length
        if len(self.buffer) >= self.body_end:
            body = bytes(self.buffer[self.body_start : self.body_end])
            del self.buffer[: self.body_end]
            self.body_start = self.body_end = -1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result((self.status, body))

    def _fail(self, reason: str) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(HttpError(reason))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one encoded request; return the status and body of its response."""
        if self.transport is None:
            raise HttpError("not connected")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter

    def close(self) -> None:
        """Close the connection."""
        if self.transport is not None:
            self.transport.close()


def encode_post(
    host: str, port: int, path: str, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> bytes:
    """A complete HTTP/1.1 POST of `payload` as JSON, with extra `headers`."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def encode_get(host: str, port: int, path: str) -> bytes:
    """A complete HTTP/1.1 GET."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


# ---------------------------------------------------------------------------------------------
# CPU time of processes


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_of(pids: Sequence[int]) -> float:
    """The CPU seconds used by all of `pids`."""
    return sum(cpu_seconds(pid) for pid in pids)


# ---------------------------------------------------------------------------------------------
# Rounds


@dataclass(frozen=True)
class Round:
    """One timed round: completed requests, their latencies, and the CPU each side used."""

    requests: int
    errors: int
    seconds: float
    latencies_ns: list[int]
    client_cpu_s: float
    server_cpu_s: float
    db_cpu_s: float
    db_transactions: int
    cache_hits: int = 0

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0..100) of the latencies, in milliseconds (nearest rank)."""
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] / 1e6

    def per_request_ms(self, cpu_s: float) -> float:
        """CPU milliseconds per request."""
        return cpu_s * 1000 / self.requests if self.requests else float("nan")


Call = Callable[[int], Awaitable[bool]]  # send request number n; answers whether it succeeded


@dataclass
class Meters:
    """Where CPU time and database transactions are read from during a round."""

    server_pids: Sequence[int] = ()
    db_pids: Sequence[int] = ()
    transactions: Callable[[], Awaitable[int]] | None = None


async def timed_round(calls: Sequence[Call], seconds: float, meters: Meters) -> Round:
    """Run each of `calls` in its own worker, back to back, for `seconds`."""
    latencies: list[int] = []
    counts = [0, 0]  # requests, errors
    deadline = time.perf_counter_ns() + int(seconds * 1e9)

    async def worker(call: Call, start: int) -> None:
        n = start
        clock = time.perf_counter_ns
        while True:
            t0 = clock()
            if t0 >= deadline:
                return
            ok = await call(n)
            latencies.append(clock() - t0)
            counts[0] += 1
            if not ok:
                counts[1] += 1
            n += 1

    xacts0 = await meters.transactions() if meters.transactions else 0
    hits0 = HttpConnection.cache_hits
    server0, db0 = cpu_of(meters.server_pids), cpu_of(meters.db_pids)
    client0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(call, i * 7919) for i, call in enumerate(calls)))
    wall = time.perf_counter() - wall0
    client = time.process_time() - client0
    server, db = cpu_of(meters.server_pids) - server0, cpu_of(meters.db_pids) - db0
    xacts = (await meters.transactions() - xacts0) if meters.transactions else 0
    hits = HttpConnection.cache_hits - hits0
    return Round(counts[0], counts[1], wall, latencies, client, server, db, xacts, hits)


@dataclass(frozen=True)
class Measured:
    """The rounds of one side (GraphQL or raw SQL) of a scenario, and the median round."""

    rounds: list[Round]

    @property
    def median(self) -> Round:
        """The round with the median requests per second."""
        ordered = sorted(self.rounds, key=lambda r: r.rps)
        return ordered[len(ordered) // 2]

    @property
    def rps_spread(self) -> tuple[float, float]:
        """The lowest and highest req/s of the rounds."""
        values = [r.rps for r in self.rounds]
        return min(values), max(values)


async def measure(
    calls: Sequence[Call], *, warmup: float, seconds: float, rounds: int, meters: Meters
) -> Measured:
    """A warm-up, then `rounds` timed rounds of `seconds` each."""
    if warmup > 0:
        await timed_round(calls, warmup, Meters())
    return Measured([await timed_round(calls, seconds, meters) for _ in range(rounds)])


def median(values: Sequence[float]) -> float:
    """The median of values."""
    return statistics.median(values)


# ---------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """`mar serve` in a subprocess."""

    process: asyncio.subprocess.Process
    host: str
    port: int

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    async def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_server(
    database_url: str,
    *,
    pool_max_size: int = 4,
    extra_env: dict[str, str] | None = None,
    command: Sequence[str] | None = None,
) -> Server:
    """Start `python -m api.cli serve` on a free port and wait until /readyz answers 200."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAR_HOST": "127.0.0.1",
        "MAR_PORT": str(port),
        "MAR_LOG_LEVEL": "WARNING",
        "MAR_POOL_MAX_SIZE": str(pool_max_size),
        "MAR_RATE_LIMIT": "0",  # off: the load comes from one key at hundreds of requests a second
        **(extra_env or {}),
    }
    argv = list(command or (sys.executable, "-m", "api.cli", "serve"))
    process = await asyncio.create_subprocess_exec(*argv, env=env, cwd=REPO)
    server = Server(process, "127.0.0.1", port)
    try:
        await wait_until_ready(server)
    except BaseException:
        await server.stop()
        raise
    return server


async def wait_until_ready(server: Server, timeout: float = 30.0) -> None:
    """Poll /readyz until it answers 200; fail when the process exits or time runs out."""
    give_up = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < give_up:
        if server.process.returncode is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}")
        try:
            conn = await HttpConnection.open(server.host, server.port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            status, body = await asyncio.wait_for(
                conn.send(encode_get(server.host, server.port, "/readyz")), 5
            )
        except (HttpError, TimeoutError) as exc:
            last = str(exc)
        else:
            if status == 200:
                return
            last = f"{status} {body.decode(errors='replace')}"
        finally:
            conn.close()
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s: {last}")


async def create_key(database_url: str, name: str, role: str) -> str:
    """Make an API key with `mar keys create` and return its secret."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "keys",
        "create",
        "--name",
        name,
        "--role",
        role,
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(err.decode(errors="replace").strip() or f"exit {process.returncode}")
    return out.decode().strip().splitlines()[-1]


async def revoke_key(database_url: str, name: str) -> None:
    """Revoke a key made by create_key (quietly: the data set only keeps it as revoked)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "keys",
        "revoke",
        name,
        env={**os.environ, "DATABASE_URL": database_url},
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await process.wait()


async def database_pids(admin: Connection, database: str, exclude: Sequence[int] = ()) -> list[int]:
    """The backend processes connected to `database`, except `exclude`."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' "
        "AND pid <> ALL($2::int[])",
        database,
        list(exclude),
    )
    return [r["pid"] for r in rows]


def transactions_counter(admin: Connection, database: str) -> Callable[[], Awaitable[int]]:
    """A reader of the database's committed transactions (each autocommitted statement is one).

    PostgreSQL publishes backends' counters about once a second, so a 10 s round reads them
    within a few per cent.
    """

    async def read() -> int:
        await admin.execute("SELECT pg_stat_clear_snapshot()")
        value = await admin.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", database
        )
        return int(value or 0)

    return read


async def raw_connections(url: str, count: int) -> list[Connection]:
    """`count` plain asyncpg connections (json comes back as text, as the HTTP client gets it),
    with the planner settings the service's own connections have."""
    return [await asyncpg.connect(url, server_settings=SERVER_SETTINGS) for _ in range(count)]
