"""OGC items benchmark: `/ogc/collections/zones/items?limit=1000` against its raw SQL twin.

The twin is the very statement the endpoint runs (db/queries/ogc.py `features_page`: the count
and the page of GeoJSON features, built in SQL), sent straight through asyncpg; the ratio of the
medians is what the HTTP layer and the envelope cost. Target: the endpoint within 2x the raw SQL.
Pages cycle through the first offsets so that both sides read the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bench import load
from bench.generate import Connection
from db.queries import ogc as ogc_sql
from db.queries.sql import Params

LIMIT = 1000
PAGES = 5
TARGET_RATIO = 2.0


def _statement(offset: int) -> tuple[str, list[Any]]:
    params = Params()
    wanted = ogc_sql.ItemFilter()  # the public role, no filter: what an anonymous GIS asks
    sql = ogc_sql.features_page(ogc_sql.ZONES, wanted, params, LIMIT, offset)
    return sql, params.values


def _http_calls(conns: Sequence[load.HttpConnection], requests: Sequence[bytes]) -> list[load.Call]:
    def make(conn: load.HttpConnection) -> load.Call:
        async def call(n: int) -> bool:
            status, body = await conn.send(requests[n % len(requests)])
            return status == 200

        return call

    return [make(c) for c in conns]


def _raw_calls(conns: Sequence[Connection], offsets: Sequence[int]) -> list[load.Call]:
    statements = [_statement(o) for o in offsets]

    def make(conn: Connection) -> load.Call:
        async def call(n: int) -> bool:
            sql, args = statements[n % len(statements)]
            await conn.fetchrow(sql, *args)
            return True

        return call

    return [make(c) for c in conns]


async def run(server: load.Server, url: str, options: Any) -> list[str]:
    """Measure both sides on a running server; return a Markdown section for the report."""
    raws = await load.raw_connections(url, options.concurrency)
    https: list[load.HttpConnection] = []
    try:
        zones = await raws[0].fetchval("SELECT count(*) FROM zones")
        offsets = [LIMIT * k for k in range(max(1, min(PAGES, zones // LIMIT)))]
        paths = [f"/ogc/collections/zones/items?limit={LIMIT}&offset={o}" for o in offsets]
        requests = [load.encode_get(server.host, server.port, p) for p in paths]
        https = [
            await load.HttpConnection.open(server.host, server.port)
            for _ in range(options.concurrency)
        ]
        status, body = await https[0].send(requests[0])
        sql, args = _statement(offsets[0])
        row = await raws[0].fetchrow(sql, *args)
        assert row is not None  # the statement aggregates: it always answers one row
        same = status == 200 and json.loads(body)["features"] == json.loads(row["features"])
        http = await load.measure(
            _http_calls(https, requests),
            warmup=options.warmup,
            seconds=options.seconds,
            rounds=options.rounds,
            meters=load.Meters([server.pid]),
        )
        raw = await load.measure(
            _raw_calls(raws, offsets),
            warmup=options.warmup,
            seconds=options.seconds,
            rounds=options.rounds,
            meters=load.Meters(),
        )
    finally:
        for h in https:
            h.close()
        for c in raws:
            await c.close()
    return section(http.median, raw.median, same, len(offsets), len(body))


def section(http: load.Round, raw: load.Round, same: bool, pages: int, size: int) -> list[str]:
    """The Markdown lines of the OGC items result."""
    ratio = http.percentile_ms(50) / raw.percentile_ms(50)
    met = "met" if ratio <= TARGET_RATIO else "**missed**"
    return [
        "",
        f"### OGC API – Features: zones/items?limit={LIMIT}",
        "",
        f"{pages} page(s) cycled (offsets 0, {LIMIT}, …), about {size / 1e6:.1f} MB of GeoJSON "
        f"each; answers equal to the raw SQL: {'yes' if same else '**no**'}.",
        "",
        "| side | req/s | p50 ms | p99 ms | server CPU ms/request |",
        "|---|--:|--:|--:|--:|",
        f"| HTTP items | {http.rps:.1f} | {http.percentile_ms(50):.1f} | "
        f"{http.percentile_ms(99):.1f} | {http.per_request_ms(http.server_cpu_s):.1f} |",
        f"| raw SQL (same statement) | {raw.rps:.1f} | {raw.percentile_ms(50):.1f} | "
        f"{raw.percentile_ms(99):.1f} | — |",
        "",
        f"HTTP p50 ÷ raw SQL p50 = {ratio:.2f} (target ≤ {TARGET_RATIO:g}: {met}).",
    ]
