"""`python -m bench`: make the data sets, serve them, measure every scenario, write the tables."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from api.settings import Settings
from bench import attack, exports, generate, layer, load, ogc, tiles
from bench.generate import Connection, Size
from bench.report import Report, Result, render
from bench.scenarios import SCENARIOS, Request, Scenario
from bench.statistics import STATISTICS

SCENARIOS = {**SCENARIOS, **STATISTICS}  # the dashboards' statistics: bench/statistics.py
RESULTS = Path(__file__).resolve().parent / "results"
ANSWERS_CHECKED = 5  # parameter sets whose GraphQL and raw SQL answers are compared


@dataclass(frozen=True)
class Options:
    """How long and how hard to measure."""

    seconds: float = 10.0
    rounds: int = 3
    warmup: float = 2.0
    concurrency: int = 2
    pool_max_size: int = 4
    only: tuple[str, ...] = tuple(SCENARIOS)
    py_spy: str | None = None  # py-spy executable: record a flame graph of the server
    role: str = "partner"  # the API key the requests carry; "public": none (anonymous)
    cache: bool = True  # False: every request says Cache-Control: no-cache (the engine alone)

    def describe(self) -> str:
        """One line for the report."""
        who = (
            f"Requests carry a {self.role} key"
            if self.role != "public"
            else "Requests are anonymous (public)"
        )
        return (
            f"Load: one `mar serve` process (uvicorn, pool of at most {self.pool_max_size} "
            f"connections), {self.concurrency} concurrent keep-alive connections; warm-up "
            f"{self.warmup:g} s, then {self.rounds} round(s) of {self.seconds:g} s; the round "
            f"with the median req/s is shown. Raw SQL: the same question as one statement from "
            f"{self.concurrency} asyncpg connections, same durations. {who}; the server's rate "
            f"limit is off. Response cache: "
            + (
                "on (repeated parameter sets are answered from it once seen)."
                if self.cache
                else "bypassed (`Cache-Control: no-cache` on every request: the engine alone)."
            )
        )


def environment(server_url: str) -> list[str]:
    """What the numbers depend on: code version, machine, interpreter."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=load.REPO,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    dirty = ""
    if commit:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=load.REPO,
            check=False,
        ).stdout
        dirty = " (with uncommitted changes)" if status.strip() else ""
    server = urlsplit(server_url)
    return [
        f"Code: commit {commit or 'unknown'}{dirty}",
        f"Machine: {os.cpu_count()} CPUs shared by server, PostgreSQL and client; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"Database server: {server.hostname}:{server.port}",
    ]


def graphql_calls(
    conns: Sequence[load.HttpConnection], encoded: Sequence[bytes]
) -> list[load.Call]:
    """One call per connection, cycling through the encoded requests."""

    def make(conn: load.HttpConnection) -> load.Call:
        async def call(n: int) -> bool:
            status, body = await conn.send(encoded[n % len(encoded)])
            return status == 200 and b'"errors"' not in body

        return call

    return [make(c) for c in conns]


def raw_calls(
    conns: Sequence[Connection], sql: str, requests: Sequence[Request]
) -> list[load.Call]:
    """One call per connection, cycling through the parameter sets."""

    def make(conn: Connection) -> load.Call:
        async def call(n: int) -> bool:
            await conn.fetchval(sql, *requests[n % len(requests)].args)
            return True

        return call

    return [make(c) for c in conns]


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON values first differ, as a short path."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key} only on one side"
            if a[key] != b[key]:
                return first_difference(a[key], b[key], f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {json.dumps(a)[:60]} vs {json.dumps(b)[:60]}"


async def check_answers(
    scenario: Scenario,
    result: Result,
    http: load.HttpConnection,
    encoded: Sequence[bytes],
    raw: Connection,
    requests: Sequence[Request],
) -> None:
    """Ask the first parameter sets both ways; mark the scenario unavailable if GraphQL fails."""
    for i in range(min(ANSWERS_CHECKED, len(requests))):
        status, body = await http.send(encoded[i])
        try:
            answer = json.loads(body)
        except ValueError:
            result.unavailable = f"HTTP {status}, not JSON"
            return
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if status != 200 or errors or answer.get("data") is None:
            message = errors[0].get("message", "") if errors else f"HTTP {status}"
            result.unavailable = message.replace("|", "/")[:120]
            return
        expected = json.loads(await raw.fetchval(scenario.sql, *requests[i].args))
        result.answers_checked += 1
        if answer["data"] == expected:
            result.answers_equal += 1
        elif result.first_difference is None:
            result.first_difference = first_difference(answer["data"], expected)


async def run_scenario(
    scenario: Scenario,
    server: load.Server,
    url: str,
    admin: Connection,
    options: Options,
    profile_dir: Path | None,
    headers: dict[str, str] | None = None,
) -> Result:
    """Measure one scenario both ways on a running server; `headers` go with every request."""
    database = urlsplit(url).path.lstrip("/")
    raws = await load.raw_connections(url, options.concurrency)
    https: list[load.HttpConnection] = []
    try:
        requests = await scenario.params(raws[0])
        result = Result(scenario, parameter_sets=len(requests))
        if not requests:
            result.unavailable = "no parameter sets in this data set"
            return result
        encoded = [
            load.encode_post(
                server.host,
                server.port,
                "/graphql",
                {"query": scenario.query, "variables": r.variables},
                headers,
            )
            for r in requests
        ]
        https = [
            await load.HttpConnection.open(server.host, server.port)
            for _ in range(options.concurrency)
        ]
        await check_answers(scenario, result, https[0], encoded, raws[0], requests)
        counter = load.transactions_counter(admin, database)
        if result.unavailable is None:
            calls = graphql_calls(https, encoded)
            if options.warmup > 0:
                await load.timed_round(calls, options.warmup, load.Meters())
            raw_pids = [c.get_server_pid() for c in raws]
            pool_pids = await load.database_pids(admin, database, exclude=raw_pids)
            meters = load.Meters([server.pid], pool_pids, counter)
            spy = start_py_spy(options, server, scenario, profile_dir)
            result.graphql = await load.measure(
                calls, warmup=0, seconds=options.seconds, rounds=options.rounds, meters=meters
            )
            await stop_py_spy(spy)
        raw_meters = load.Meters([], [c.get_server_pid() for c in raws], counter)
        result.raw = await load.measure(
            raw_calls(raws, scenario.sql, requests),
            warmup=options.warmup,
            seconds=options.seconds,
            rounds=options.rounds,
            meters=raw_meters,
        )
        return result
    finally:
        for h in https:
            h.close()
        for c in raws:
            await c.close()


def start_py_spy(
    options: Options, server: load.Server, scenario: Scenario, profile_dir: Path | None
) -> asyncio.Task[int] | None:
    """Record the server with py-spy during the GraphQL rounds, when asked to."""
    if not options.py_spy or profile_dir is None:
        return None
    profile_dir.mkdir(parents=True, exist_ok=True)
    out = profile_dir / f"{scenario.key}.folded"
    duration = max(1, int(options.seconds * options.rounds))

    async def record() -> int:
        process = await asyncio.create_subprocess_exec(
            str(options.py_spy),
            "record",
            "--pid",
            str(server.pid),
            "--duration",
            str(duration),
            "--rate",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await process.wait()

    return asyncio.create_task(record())


async def stop_py_spy(task: asyncio.Task[int] | None) -> None:
    """Wait for the py-spy recording to be written."""
    if task is not None:
        await task


async def run_size(
    size: Size,
    options: Options,
    *,
    server_url: str,
    settings: Settings,
    seed: int = generate.DEFAULT_SEED,
    database: str | None = None,
    regenerate: bool = False,
    results_dir: Path | None = RESULTS,
    generate_only: bool = False,
) -> Report | None:
    """Prepare the data set of `size`, measure the chosen scenarios, print and write the report."""
    started = datetime.now(UTC)
    prepared = await generate.prepare(
        server_url, size, settings.alembic_ini, seed=seed, name=database, force=regenerate
    )
    if generate_only:
        return None
    report = Report(
        size=size,
        started_utc=started.strftime("%Y-%m-%d %H:%M UTC"),
        environment=environment(server_url),
        counts=prepared.counts,
        load_seconds=prepared.load_seconds,
        settings=options.describe(),
    )
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    profile_dir = results_dir / f"{size.name}-{stamp}-profiles" if results_dir else None
    load_before = os.getloadavg()[0]
    headers, key_name = {}, None
    if not options.cache:
        headers["Cache-Control"] = "no-cache"
    if options.role != "public":
        key_name = f"bench-{stamp}"
        try:
            secret = await load.create_key(prepared.url, key_name, options.role)
        except RuntimeError as exc:
            report.notes.append(f"no {options.role} key could be made ({exc}); requests are public")
            key_name = None
        else:
            headers["Authorization"] = f"Bearer {secret}"
    server = await load.start_server(prepared.url, pool_max_size=options.pool_max_size)
    admin = await asyncpg.connect(server_url)
    try:
        for key in options.only:
            scenario = SCENARIOS[key]
            print(f"{size.name} ({key}) {scenario.title} …", flush=True)
            t0 = time.perf_counter()
            result = await run_scenario(
                scenario, server, prepared.url, admin, options, profile_dir, headers
            )
            report.results.append(result)
            print(f"   {summary(result)} [{time.perf_counter() - t0:.0f} s]", flush=True)
        print(f"{size.name} OGC zones/items?limit=1000 …", flush=True)
        ogc_lines = await ogc.run(server, prepared.url, options)
        print(f"{size.name} exports/zones.geojson and .csv …", flush=True)
        ogc_lines += await exports.run(server, prepared.url, options)
        print(f"{size.name} tiles: a z0–z14 pyramid …", flush=True)
        ogc_lines += await tiles.run(server, prepared.url, options)
    finally:
        await admin.close()
        await server.stop()
        if key_name:
            await load.revoke_key(prepared.url, key_name)
    ogc_lines += await attack.run(prepared.url, options.seconds)  # servers of its own; < 1 min
    # Its own server, with the default rate limit: a GIS client reading the whole layer.
    print(f"{size.name} ogr2ogr OAPIF zones → GeoPackage …", flush=True)
    ogc_lines += await layer.run(prepared.url, options)
    report.notes.append(busy_note(load_before, os.getloadavg()[0]))
    if options.py_spy and profile_dir:
        report.notes.append(f"py-spy flame graphs of the server: {profile_dir.name}/")
    text = render(report) + "\n".join(ogc_lines) + "\n"
    print()
    print(text)
    if results_dir is not None:
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / f"{size.name}-{stamp}.md"
        path.write_text(text)
        print(f"written to {path}")
    return report


def busy_note(before: float, after: float) -> str:
    """What the machine's load average says about how much else was running."""
    text = f"1-minute load average: {before:.1f} before the measurements, {after:.1f} after"
    if max(before, after) > 2.5:  # server + PostgreSQL + client account for about 2
        text += (
            " — other work was running on the machine, so these req/s are lower than an idle "
            "machine gives; the CPU ms per request are less affected"
        )
    return text


def summary(result: Result) -> str:
    """One progress line for a measured scenario."""
    parts = []
    if result.graphql:
        g = result.graphql.median
        parts.append(f"GraphQL {g.rps:.0f} req/s p50 {g.percentile_ms(50):.1f} ms")
    else:
        parts.append(f"GraphQL not available: {result.unavailable}")
    if result.raw:
        r = result.raw.median
        parts.append(f"raw SQL {r.rps:.0f} req/s p50 {r.percentile_ms(50):.1f} ms")
    return "; ".join(parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Generate the benchmark data sets and measure the API against raw SQL.",
    )
    p.add_argument("--size", choices=("small", "large", "both"), default="both")
    p.add_argument("--seconds", type=float, default=10.0, help="length of a round (10)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per side (3)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up before the rounds (2)")
    p.add_argument("--concurrency", type=int, default=2, help="concurrent connections (2)")
    p.add_argument("--pool-max-size", type=int, default=4, help="the server's pool (4)")
    p.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, e.g. a,b (all)")
    p.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    p.add_argument("--regenerate", action="store_true", help="make the data sets again")
    p.add_argument("--generate-only", action="store_true", help="make the data sets, no load")
    p.add_argument("--no-write", action="store_true", help="print only; no file in results/")
    p.add_argument(
        "--role",
        choices=("public", "partner", "editor", "admin"),
        default="partner",
        help="the API key the requests carry, made with `mar keys create` (partner)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="send Cache-Control: no-cache, so that every request is executed (the engine alone)",
    )
    p.add_argument("--py-spy", metavar="PATH", help="py-spy executable: flame graphs per scenario")
    args = p.parse_args(argv)
    only = tuple(k.strip() for k in args.only.split(",") if k.strip())
    unknown = [k for k in only if k not in SCENARIOS]
    if unknown or not only:
        p.error(f"--only takes scenarios among {','.join(SCENARIOS)}, not {args.only!r}")
    if args.rounds < 1 or args.seconds <= 0 or args.concurrency < 1:
        p.error("--rounds, --seconds and --concurrency must be positive")
    args.only_keys = only
    return args


async def amain(args: argparse.Namespace) -> int:
    """Run the benchmark as the command line asks."""
    server_url = os.environ.get("TEST_DATABASE_URL") or generate.DEFAULT_SERVER_URL
    settings = Settings.from_env()
    options = Options(
        seconds=args.seconds,
        rounds=args.rounds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        pool_max_size=args.pool_max_size,
        only=args.only_keys,
        py_spy=args.py_spy,
        role=args.role,
        cache=not args.no_cache,
    )
    sizes = ("small", "large") if args.size == "both" else (args.size,)
    for name in sizes:
        await run_size(
            generate.SIZES[name],
            options,
            server_url=server_url,
            settings=settings,
            seed=args.seed,
            regenerate=args.regenerate,
            results_dir=None if args.no_write else RESULTS,
            generate_only=args.generate_only,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bench`."""
    args = parse_args(argv)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(amain(args))
    return uvloop.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
