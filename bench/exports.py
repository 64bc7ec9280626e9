"""Export benchmark: the full `/exports/zones.geojson` (and `.csv`) streamed by the real server.

Measured per run: time to the first byte of the answer, total time, MB/s and records/s, and the
server process's resident memory (sampled every 5 ms from /proc) above what it held before the
request. Target: the 50 000-zone GeoJSON export streams with the server's memory growing by
less than 50 MiB. The raw SQL twin reads the very same statement through a server-side cursor
with asyncpg, so the ratio is what HTTP and the server's batching cost.

`python -m bench.exports --size large` runs it alone; `python -m bench` runs it after the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import generate, load
from bench.generate import Connection
from db.queries import exports as export_sql

TARGET_GROWTH_MIB = 50.0
RUNS = 3
PATHS = ("/exports/zones.geojson", "/exports/zones.csv?hxl=false")
FEATURE = b'{"type" : "Feature"'  # how json_build_object writes each feature's start


def resident_bytes(pid: int) -> int:
    """The process's resident set size now (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Run:
    """One streamed export, seen by the client and by /proc."""

    first_byte_s: float
    total_s: float
    size_bytes: int
    records: int
    rss_before: int
    rss_peak: int

    @property
    def growth_mib(self) -> float:
        """How far above its starting memory the server went, in MiB."""
        return (self.rss_peak - self.rss_before) / 2**20


async def _sample_peak(pid: int, stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], resident_bytes(pid))
        await asyncio.sleep(0.005)


async def stream_once(base: str, path: str, pid: int) -> Run:
    """GET `path`, read the body as it comes, and watch the server's memory meanwhile."""
    before = resident_bytes(pid)
    peak = [before]
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_peak(pid, stop, peak))
    size = records = 0
    tail = b""
    lines = path.endswith("hxl=false")
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        started = time.perf_counter()
        first = 0.0
        async with client.stream("GET", path) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                if not first:
                    first = time.perf_counter() - started
                size += len(chunk)
                if lines:
                    records += chunk.count(b"\n")
                else:
                    joined = tail + chunk
                    records += joined.count(FEATURE)
                    # The last bytes seen, across chunks shorter than the marker too.
                    tail = joined[-(len(FEATURE) - 1) :]
        total = time.perf_counter() - started
    stop.set()
    await sampler
    if lines:
        records -= 1  # the header line
    return Run(first, total, size, records, before, peak[0])


async def raw_twin(conn: Connection, sql: str) -> tuple[float, int]:
    """Read every line of the statement through a cursor in batches: seconds and bytes."""
    started = time.perf_counter()
    size = 0
    async with conn.transaction(readonly=True):
        cursor = await conn.cursor(sql)
        while rows := await cursor.fetch(1000):
            size += sum(len(r["line"]) for r in rows)
    return time.perf_counter() - started, size


async def run(server: load.Server, url: str, options: Any) -> list[str]:
    """Measure the exports on a running server; return a Markdown section for the report."""
    del options  # the export is one long request: its own number of runs
    base = f"http://{server.host}:{server.port}"
    conn = await load.raw_connections(url, 1)
    try:
        zones = await conn[0].fetchval("SELECT count(*) FROM zones")
        raw_s = [(await raw_twin(conn[0], export_sql.zones_geojson([])))[0] for _ in range(RUNS)]
    finally:
        await conn[0].close()
    results: dict[str, list[Run]] = {}
    for path in PATHS:
        results[path] = [await stream_once(base, path, server.pid) for _ in range(RUNS)]
    return section(zones, results, statistics.median(raw_s))


def section(zones: int, results: dict[str, list[Run]], raw_s: float) -> list[str]:
    """The Markdown lines of the export results."""
    lines = [
        "",
        f"### Exports: all {zones} zones, streamed ({RUNS} runs each, median shown)",
        "",
        "| export | records | MB | first byte ms | total s | MB/s | records/s "
        "| server memory growth MiB (max of runs) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    worst = 0.0
    for path, runs in results.items():
        median = sorted(runs, key=lambda r: r.total_s)[len(runs) // 2]
        growth = max(r.growth_mib for r in runs)
        if path.endswith(".geojson"):
            worst = growth
        lines.append(
            f"| `{path}` | {median.records} | {median.size_bytes / 1e6:.1f} | "
            f"{median.first_byte_s * 1000:.0f} | {median.total_s:.2f} | "
            f"{median.size_bytes / 1e6 / median.total_s:.1f} | "
            f"{median.records / median.total_s:.0f} | {growth:.1f} |"
        )
    geojson = sorted(results[PATHS[0]], key=lambda r: r.total_s)[RUNS // 2]
    met = "met" if worst < TARGET_GROWTH_MIB and geojson.records == zones else "**missed**"
    lines += [
        "",
        f"Raw SQL twin (the GeoJSON statement read through an asyncpg cursor, 1000 rows a "
        f"batch): {raw_s:.2f} s; HTTP total ÷ raw = {geojson.total_s / raw_s:.2f}.",
        f"GeoJSON export: {geojson.records} of {zones} features; server memory growth "
        f"{worst:.1f} MiB (target < {TARGET_GROWTH_MIB:g} MiB: {met}).",
    ]
    return lines


async def main(size_name: str) -> None:
    """Prepare the data set, serve it, measure the exports, print the section."""
    prepared = await generate.prepare_named(size_name)
    server = await load.start_server(prepared.url)
    try:
        print("\n".join(await run(server, prepared.url, None)))
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.exports")
    parser.add_argument("--size", choices=tuple(generate.SIZES), default="large")
    asyncio.run(main(parser.parse_args().size))
