"""Tile pyramid benchmark: render z0–z14 of both tile layers from the real server, cold.

The pyramid: every tile of zooms 0–6 that covers the data's extent, then at zooms 7–14 a sample
of the tiles that hold records (the tiles of SAMPLE records drawn with a fixed seed, per layer and
zoom: what a map panning over the data asks). Each tile is asked once, with `Accept-Encoding:
gzip` as a browser sends it and no `If-None-Match`, so every request renders its tile in
PostgreSQL (the server keeps no tile cache). Printed: tiles, tiles/s, p50/p99 ms, total seconds,
MB sent, empty tiles, per zoom and overall.

Budget, from CONCURRENCY connections (a map fetches 6 tiles at once per host): the whole pyramid
within BUDGET_TOTAL_S, and the tiles of zooms 7–14 (where a map spends nearly all its requests)
with a p99 under BUDGET_P99_MS; none failing. The few tiles of zooms 0–6 hold every record
(each with its id), so their time grows with the data; they are reported, and a CDN keeps them.

`python -m bench.tiles --size small` runs it alone; `python -m bench` runs it after the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import generate, load

LAYERS = ("zones", "incidents")
FULL_ZOOMS = range(0, 7)
SAMPLED_ZOOMS = range(7, 15)
SAMPLE = 24  # tiles per layer and sampled zoom
CONCURRENCY = 6
BUDGET_TOTAL_S = 60.0
BUDGET_P99_MS = 500.0  # zooms 7-14
SEED = 14

# A point of each record to sample tiles from: zones by their point on surface.
POINTS = {
    "zones": "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geometry) AS p FROM zones "
    "ORDER BY id) AS s",
    "incidents": "SELECT ST_X(location), ST_Y(location) FROM incidents ORDER BY id",
}
EXTENT = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(g) AS e FROM (SELECT geometry AS g FROM zones
      UNION ALL SELECT location FROM incidents) AS u) AS x
"""


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """x, y of the XYZ tile holding lon/lat at `zoom`."""
    n = 1 << zoom
    lat = max(-85.0511, min(85.0511, lat))
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return min(n - 1, int((lon + 180) / 360 * n)), min(n - 1, max(0, int(y * n)))


def pyramid(
    extent: tuple[float, float, float, float], points: dict[str, list[tuple[float, float]]]
) -> list[tuple[str, int, int, int]]:
    """(layer, z, x, y) of every tile to render, lowest zoom first."""
    west, south, east, north = extent
    rng = random.Random(SEED)
    tiles: list[tuple[str, int, int, int]] = []
    for layer in LAYERS:
        for z in FULL_ZOOMS:
            x0, y0 = tile_of(west, north, z)
            x1, y1 = tile_of(east, south, z)
            tiles += [(layer, z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        chosen = rng.sample(points[layer], min(SAMPLE, len(points[layer])))
        for z in SAMPLED_ZOOMS:
            seen = {tile_of(lon, lat, z) for lon, lat in chosen}
            tiles += [(layer, z, x, y) for x, y in sorted(seen)]
    return sorted(tiles, key=lambda t: (t[1], t[0], t[2], t[3]))


def encode(host: str, port: int, path: str) -> bytes:
    """A GET asking for gzip, as a browser's map does."""
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: gzip\r\n\r\n").encode()


@dataclass
class Rendered:
    """What rendering the pyramid measured."""

    seconds: float
    by_zoom: dict[int, list[float]] = field(default_factory=dict)  # request seconds
    sizes: dict[int, list[int]] = field(default_factory=dict)
    failures: int = 0

    @property
    def latencies(self) -> list[float]:
        """Every request's seconds."""
        return [s for values in self.by_zoom.values() for s in values]


def percentile_ms(values: Sequence[float], q: float) -> float:
    """The q-th percentile of `values` (seconds), in milliseconds."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] * 1000


async def render(server: load.Server, tiles: Sequence[tuple[str, int, int, int]]) -> Rendered:
    """Ask for every tile once over CONCURRENCY keep-alive connections."""
    queue: asyncio.Queue[tuple[str, int, int, int]] = asyncio.Queue()
    for t in tiles:
        queue.put_nowait(t)
    result = Rendered(seconds=0.0)
    conns = [await load.HttpConnection.open(server.host, server.port) for _ in range(CONCURRENCY)]

    async def worker(conn: load.HttpConnection) -> None:
        while not queue.empty():
            layer, z, x, y = queue.get_nowait()
            request = encode(server.host, server.port, f"/tiles/{layer}/{z}/{x}/{y}.pbf")
            started = time.perf_counter()
            try:
                status, body = await conn.send(request)
            except load.HttpError:  # the server closed the connection: a failure, go on
                status, body = 0, b""
                conn.close()
                conn = await load.HttpConnection.open(server.host, server.port)
                conns.append(conn)
            result.by_zoom.setdefault(z, []).append(time.perf_counter() - started)
            result.sizes.setdefault(z, []).append(len(body))
            if status != 200:
                result.failures += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    result.seconds = time.perf_counter() - started
    return result


async def run(server: load.Server, url: str, options: Any = None) -> list[str]:
    """Render the pyramid on a running server; return a Markdown section for the report."""
    del options  # the pyramid is asked once: its own shape, not the rounds of the rest
    (conn,) = await load.raw_connections(url, 1)
    try:
        row = await conn.fetchrow(EXTENT)
        assert row is not None
        extent = (row[0], row[1], row[2], row[3])
        points = {
            layer: [(r[0], r[1]) for r in await conn.fetch(POINTS[layer])] for layer in LAYERS
        }
    finally:
        await conn.close()
    tiles = pyramid(extent, points)
    rendered = await render(server, tiles)
    return section(rendered, len(tiles))


def section(rendered: Rendered, count: int) -> list[str]:
    """The Markdown lines of the pyramid's result."""
    every = rendered.latencies
    rate = count / rendered.seconds
    high = [s for z, values in rendered.by_zoom.items() if z >= SAMPLED_ZOOMS[0] for s in values]
    p99_high = percentile_ms(high, 99)
    met = rendered.seconds <= BUDGET_TOTAL_S and p99_high <= BUDGET_P99_MS and not rendered.failures
    lines = [
        "",
        f"### Tiles: a z0–z14 pyramid of zones and incidents ({count} tiles, cold, gzip)",
        "",
        f"Every tile of z0–z6 over the data's extent, and at z7–z14 the tiles of {SAMPLE} "
        f"records per layer; {CONCURRENCY} connections, each tile asked once.",
        "",
        "| zoom | tiles | p50 ms | p99 ms | mean KB (gzip) | empty |",
        "|--:|--:|--:|--:|--:|--:|",
    ]
    for z in sorted(rendered.by_zoom):
        times, sizes = rendered.by_zoom[z], rendered.sizes[z]
        lines.append(
            f"| {z} | {len(times)} | {percentile_ms(times, 50):.1f} | "
            f"{percentile_ms(times, 99):.1f} | {statistics.mean(sizes) / 1024:.1f} | "
            f"{sum(1 for s in sizes if s == 0)} |"
        )
    lines += [
        "",
        f"Total {rendered.seconds:.2f} s: {rate:.1f} tiles/s, p50 {percentile_ms(every, 50):.1f} "
        f"ms, p99 {percentile_ms(every, 99):.1f} ms (z7–z14: p99 {p99_high:.1f} ms), "
        f"{rendered.failures} failed. Budget: the pyramid within {BUDGET_TOTAL_S:g} s, z7–z14 "
        f"p99 ≤ {BUDGET_P99_MS:g} ms, none failed: {'met' if met else '**missed**'}.",
    ]
    return lines


async def main(size_name: str) -> None:
    """Prepare the data set, serve it, render the pyramid, print the section."""
    prepared = await generate.prepare_named(size_name)
    server = await load.start_server(prepared.url)
    try:
        print("\n".join(await run(server, prepared.url)))
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.tiles")
    parser.add_argument("--size", choices=tuple(generate.SIZES), default="large")
    asyncio.run(main(parser.parse_args().size))
