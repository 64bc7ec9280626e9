"""Under attack: GraphQL latency while 12 clients hold exports open and read nothing.

`measure(base_url)` times a small GraphQL list query (no cache) for a few seconds on a quiet
server, then opens 12 exports of `/exports/incidents.geojson` from raw sockets that send the
request, read the status line and never read again (a small receive buffer, so the server's
sends block as soon as the kernel's buffers are full), and times the same query again while they
are held. The answer must be larger than those buffers (a few MB: the bench data sets are; the
demo data is not). With the default caps (MAR_EXPORTS_PER_CLIENT=2, MAR_EXPORTS_MAX=4) most of
the 12 are refused with 429, which is the point of the caps; to hold all 12 stalled at once, start
the server with MAR_EXPORTS_PER_CLIENT=12 MAR_EXPORTS_MAX=12. Takes about 10 s.

`python -m bench.attack_exports [BASE_URL]` (default http://127.0.0.1:8000) prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import struct
import time
from urllib.parse import urlsplit

import httpx

STALLED = 12
EXPORT_PATH = "/exports/incidents.geojson"
QUERY = "{ zones(first: 10) { nodes { code name status } } }"
WINDOW_S = 4.0  # how long each latency sample is taken
SMALL_RCVBUF = 4096


async def _stalled_export(host: str, port: int) -> tuple[socket.socket, int]:
    """Open an export and read only its status line; return the socket and the status."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    await loop.sock_sendall(sock, f"GET {EXPORT_PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    line = b""
    async with asyncio.timeout(30):
        while not line.endswith(b"\r\n"):
            byte = await loop.sock_recv(sock, 1)
            if not byte:
                break
            line += byte
    parts = line.split()
    return sock, int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def _latencies(http: httpx.AsyncClient, seconds: float) -> tuple[list[float], int]:
    """Send the query one after another for `seconds`: the answered ones' times (ms), errors."""
    times: list[float] = []
    errors = 0
    body = {"query": QUERY}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        try:
            response = await http.post("/graphql", json=body, headers={"Cache-Control": "no-cache"})
            ok = response.status_code == 200 and "errors" not in response.json()
        except httpx.HTTPError:
            ok = False
        if ok:
            times.append((time.perf_counter() - started) * 1000)
        else:
            errors += 1
    return times, errors


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(base_url: str) -> dict[str, float]:
    """GraphQL p50/p99 (ms) quiet and while 12 exports are held stalled; how many were held."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        await _latencies(http, 0.5)  # warm up: connections, plans, the server's pool
        quiet, quiet_errors = await _latencies(http, WINDOW_S)
        opened = await asyncio.gather(
            *(_stalled_export(host, port) for _ in range(STALLED)), return_exceptions=True
        )
        sockets = [item[0] for item in opened if isinstance(item, tuple)]
        statuses = [item[1] for item in opened if isinstance(item, tuple)]
        try:
            busy, busy_errors = await _latencies(http, WINDOW_S)
        finally:
            for sock in sockets:
                _reset(sock)
    return {
        "exports_stalled": float(statuses.count(200)),
        "exports_refused_429": float(statuses.count(429)),
        "graphql_quiet_p50_ms": _percentile(quiet, 0.50),
        "graphql_quiet_p99_ms": _percentile(quiet, 0.99),
        "graphql_stalled_p50_ms": _percentile(busy, 0.50),
        "graphql_stalled_p99_ms": _percentile(busy, 0.99),
        "graphql_stalled_requests": float(len(busy)),
        "graphql_stalled_errors": float(busy_errors + quiet_errors),
        "graphql_stalled_median_vs_quiet": (
            statistics.median(busy) / statistics.median(quiet) if busy and quiet else float("nan")
        ),
    }


def main() -> None:
    """Measure against the server at the given base URL and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.attack_exports")
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:8000")
    figures = asyncio.run(measure(parser.parse_args().base_url))
    for name, value in figures.items():
        print(f"{name}: {value:.1f}")


if __name__ == "__main__":
    main()
