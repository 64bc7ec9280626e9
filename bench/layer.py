"""Whole-layer benchmark: `ogr2ogr` of every zone from `OAPIF:` to GeoPackage, as a GIS user runs
it, against reading the same rows as raw SQL.

The server runs with the default rate limit (not the other benchmarks' "off"): the point is that
a client paging through the whole layer finishes without a 429. GDAL reads it twice: at its own
default page size (10 features a request in GDAL 3.6) and with PAGE_SIZE=1000. The raw SQL twin
reads the zones' GeoJSON features (db/queries/exports.py, the same rows and columns) through an
asyncpg cursor. Reported per run: seconds, features/s, requests answered by the server, and its
429s (from /metrics; the target is none).

`python -m bench.layer --size small` runs it alone; `python -m bench` runs it after the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from api.settings import Settings
from bench import generate, load
from bench.exports import raw_twin
from db.queries import exports as export_sql

RUNS = 3
PAGE_SIZES = (None, 1000)  # None: GDAL's own default


@dataclass(frozen=True)
class LayerRun:
    """One ogr2ogr of the whole zones layer."""

    seconds: float
    features: int
    requests: int
    refused: int


def default_limits() -> dict[str, str]:
    """The rate limit of a server started with no setting: the benchmark asks for it."""
    defaults = Settings()
    return {
        "MAR_RATE_LIMIT": str(defaults.rate_limit_per_s),
        "MAR_RATE_BURST": str(defaults.rate_limit_burst),
    }


async def answered(base: str) -> tuple[int, int]:
    """Requests the server has answered so far (not counting /metrics), and how many were 429."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        text = (await http.get("/metrics")).text
    total = refused = 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != "mar_http_requests_total":
                continue
            if sample.labels.get("route") == "/metrics":
                continue
            total += int(sample.value)
            if sample.labels.get("status") == "429":
                refused += int(sample.value)
    return total, refused


async def _command(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {text[-2000:]}")
    return text


async def ogr2ogr_once(base: str, page_size: int | None, directory: Path) -> LayerRun:
    """Copy the whole zones layer to a fresh GeoPackage; count what arrived and what was asked."""
    target = directory / f"zones-{page_size or 'default'}-{time.monotonic_ns()}.gpkg"
    options = ["-oo", f"PAGE_SIZE={page_size}"] if page_size else []
    before, refused_before = await answered(base)
    started = time.perf_counter()
    await _command("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{base}/ogc", "zones", *options)
    seconds = time.perf_counter() - started
    after, refused_after = await answered(base)
    info = await _command("ogrinfo", "-ro", "-so", str(target), "zones")
    features = next(
        int(line.split(":")[1]) for line in info.splitlines() if line.startswith("Feature Count:")
    )
    target.unlink()
    return LayerRun(seconds, features, after - before, refused_after - refused_before)


async def run(url: str, options: Any = None) -> list[str]:
    """Serve the data set with the default rate limit, measure both sides, return Markdown."""
    del options  # a whole-layer read is one long client session: its own number of runs
    if shutil.which("ogr2ogr") is None:
        return ["", "### Whole layer via ogr2ogr", "", "Skipped: ogr2ogr (gdal-bin) is missing."]
    conn = await load.raw_connections(url, 1)
    try:
        zones = int(await conn[0].fetchval("SELECT count(*) FROM zones"))
        raw = [await raw_twin(conn[0], export_sql.zones_geojson([])) for _ in range(RUNS)]
    finally:
        await conn[0].close()
    raw_s = statistics.median(seconds for seconds, _ in raw)
    server = await load.start_server(url, extra_env=default_limits())
    base = f"http://{server.host}:{server.port}"
    results: dict[int | None, list[LayerRun]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="mar-bench-layer-") as directory:
            for page_size in PAGE_SIZES:
                results[page_size] = [
                    await ogr2ogr_once(base, page_size, Path(directory)) for _ in range(RUNS)
                ]
    finally:
        await server.stop()
    return section(zones, results, raw_s)


def section(zones: int, results: dict[int | None, list[LayerRun]], raw_s: float) -> list[str]:
    """The Markdown lines of the whole-layer results."""
    limits = default_limits()
    lines = [
        "",
        f"### Whole layer: ogr2ogr OAPIF → GeoPackage of all {zones} zones ({RUNS} runs, median)",
        "",
        f"Server with the default rate limit ({limits['MAR_RATE_LIMIT']} tokens/s, burst "
        f"{limits['MAR_RATE_BURST']}), anonymous client.",
        "",
        "| GDAL page size | features | requests | 429s (all runs) | seconds | features/s "
        "| ÷ raw SQL |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    complete = True
    for page_size, runs in results.items():
        median = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
        refused = sum(r.refused for r in runs)
        complete = complete and refused == 0 and all(r.features == zones for r in runs)
        lines.append(
            f"| {page_size or 'default (10)'} | {median.features} | {median.requests} | "
            f"{refused} | {median.seconds:.2f} | {median.features / median.seconds:.0f} | "
            f"{median.seconds / raw_s:.1f} |"
        )
    met = "met" if complete else "**missed**"
    lines += [
        "",
        f"Raw SQL twin (the zones' GeoJSON features through an asyncpg cursor): {raw_s:.2f} s, "
        f"{zones / raw_s:.0f} features/s.",
        f"Every run read all {zones} zones with no 429: {met}.",
    ]
    return lines


async def main(size_name: str) -> None:
    """Prepare the data set, measure the whole-layer read, print the section."""
    prepared = await generate.prepare_named(size_name)
    print("\n".join(await run(prepared.url)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.layer")
    parser.add_argument("--size", choices=tuple(generate.SIZES), default="large")
    asyncio.run(main(parser.parse_args().size))
