"""Hostile clients that try to stall the process or fill its memory (issue 11, items 2 and 5).

The two queries of the issue are refused with QUERY_TOO_COMPLEX before any statement runs, on
both read paths; a request over its time budget ends cleanly and frees its connection; /healthz
keeps answering while a large query runs; unique large bodies leave every cache
within its byte budget and the server's memory bounded. The stall and memory cases run against
`mar serve` (bounded in time: a client timeout ends each request that the old code would hold).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_named_type, parse

from api.app import create_app
from api.demo import seed_demo
from api.graphql.documents import Documents, digest
from api.graphql.limits import LIST_BOUNDS, QueryLimits, check_cost
from api.graphql.response_cache import ResponseCache
from api.graphql.schema import build_schema
from api.graphql.view import GraphQLApp
from api.settings import Settings
from bench.attack import body as large_body
from bench.attack import costliest
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource, connect
from tests.helpers import make_key, server_process

INNER = (
    "organisations(first: 50) @include(if: $t) { nodes { teams { organisation { teams { "
    "organisation { teams { code } } } } } } }"
)
# The anonymous query of the issue: 15 aliases, about 2 KB.
ANONYMOUS = "query($t: Boolean!) { " + " ".join(f"a{i}: {INNER}" for i in range(15)) + " }"
# The partner's query of the issue.
PARTNER = (
    "{ zones(first: 500) { nodes { tasks { teams { tasks { teams { tasks { teams { code }}}}}}}}}"
)
RESPONSE_JSON = "application/graphql-response+json"


def refused(response: httpx.Response) -> dict[str, Any]:
    """The one QUERY_TOO_COMPLEX error of a refused request (HTTP 400, nothing executed)."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body.get("data") is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    return dict(error)


@pytest.mark.parametrize("response_cache", [False, True])
@pytest.mark.parametrize("compiled_reads", [True, False])
async def test_the_two_queries_of_the_issue_are_refused_before_any_statement(
    settings: Settings, conn: Conn, sql_log: list[str], compiled_reads: bool, response_cache: bool
) -> None:
    configured = replace(settings, compiled_reads=compiled_reads, response_cache=response_cache)
    app = create_app(configured, db=SingleConnectionSource(conn))
    partner = await make_key(conn, "hostile partner", "partner")
    await asyncio.sleep(0)
    sql_log.clear()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as client:
        anonymous = await client.post(
            "/graphql",
            json={"query": ANONYMOUS, "variables": {"t": True}},
            headers={"Cache-Control": "no-cache", "Accept": RESPONSE_JSON},
        )
        error = refused(anonymous)
        assert error["extensions"]["cost"] > error["extensions"]["maxCost"] == 120_000
        keyed = await client.post(
            "/graphql",
            json={"query": PARTNER},
            headers={"Authorization": f"Bearer {partner}", "Accept": RESPONSE_JSON},
        )
        assert refused(keyed)["extensions"]["cost"] > 10**9
    await asyncio.sleep(0)  # asyncpg hands log records over on the next loop turn
    assert sql_log == []


async def test_skip_and_include_are_counted_with_the_request_variables(
    client: httpx.AsyncClient,
) -> None:
    skipped = await client.post("/graphql", json={"query": ANONYMOUS, "variables": {"t": False}})
    assert skipped.status_code == 200 and skipped.json() == {"data": {}}, skipped.text
    schema = build_schema()._schema
    document = parse("query($s: Boolean = true) { zones { nodes @skip(if: $s) { code } } }")
    assert check_cost(schema, document, QueryLimits(max_cost=1), {}) == []
    assert check_cost(schema, document, QueryLimits(max_cost=1), {"s": False})


def cost(query: str, limits: QueryLimits | None = None) -> int:
    """The cost the rule gives a query (0 when within the limit)."""
    limits = limits or QueryLimits(max_cost=0)
    errors = check_cost(build_schema()._schema, parse(query), limits, {})
    if not errors:
        return 0
    extensions = errors[0].extensions or {}
    return int(extensions["cost"])


def test_lists_without_first_count_at_their_bound_and_aliases_add() -> None:
    one = "{ organisations(first: 2) { nodes { teams { code } } } }"
    # organisations + nodes + 2 × (teams + 100 × code)
    assert cost(one) == 2 + 2 * (1 + LIST_BOUNDS["Organisation.teams"])
    page = "organisations(first: 2) { nodes { teams { code } } }"
    two = "{ a: " + page + " b: " + page + " }"
    assert cost(two) == 2 * cost(one)
    nested = "{ organisations(first: 2) { nodes { teams { tasks { code } } } } }"
    assert cost(nested) == 2 + 2 * (1 + 100 * (1 + LIST_BOUNDS["Team.tasks"]))
    settings = Settings.from_env({"MAR_LIST_BOUNDS": "Organisation.teams=3", "MAR_MAX_COST": "1"})
    assert cost(one, replace(QueryLimits.from_settings(settings), max_cost=0)) == 2 + 2 * 4


def test_every_list_of_objects_has_a_bound() -> None:
    """A list without `first` added to the schema must be given its bound (LIST_BOUNDS)."""
    schema = build_schema()._schema
    unbounded = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if not isinstance(kind, GraphQLList):
                continue
            if not isinstance(get_named_type(field.type), GraphQLObjectType):
                continue
            paged = type_.name.endswith("Connection") and name in ("nodes", "edges")
            if not paged and f"{type_.name}.{name}" not in LIST_BOUNDS:
                unbounded.append(f"{type_.name}.{name}")
    assert unbounded == []


# --- against `mar serve` -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def server(database_url: str, **settings: str) -> AsyncIterator[tuple[str, int]]:
    """`mar serve` on a free port (rate limit off unless given): its base URL and process id."""
    async with server_process(database_url, **{"MAR_RATE_LIMIT": "0", **settings}) as (
        base_url,
        process,
    ):
        yield base_url, process.pid


async def waiting_on_a_lock(admin: asyncpg.Connection[asyncpg.Record]) -> int:
    """How many other sessions of this database wait for a lock."""
    return int(
        await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
    )


async def until(condition: Any, seconds: float = 10.0) -> None:
    """Poll an async condition until it holds (fail after `seconds`)."""
    give_up = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < give_up, "the condition did not hold in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("compiled", ["true", "false"])
async def test_a_request_over_its_time_budget_ends_cleanly_and_the_next_one_works(
    fresh_db_url: str, compiled: str
) -> None:
    admin = await connect(fresh_db_url)
    try:
        async with (
            server(
                fresh_db_url,
                MAR_REQUEST_TIMEOUT="1",
                MAR_STATEMENT_TIMEOUT_MS="0",  # the request's own budget, not the statement's
                MAR_COMPILED_READS=compiled,
            ) as (base_url, _pid),
            httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        ):
            query = {"query": "{ zones(first: 5) { nodes { code name } } }"}
            assert (await http.post("/graphql", json=query)).status_code == 200
            # A lock held elsewhere makes every read of zones wait: each request runs out.
            transaction = admin.transaction()
            await transaction.start()
            await admin.execute("LOCK TABLE zones IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            graphql = await http.post("/graphql", json=query, headers={"Cache-Control": "no-cache"})
            error = refused(graphql)
            assert error["extensions"]["timeoutSeconds"] == 1
            assert "1 s" in error["message"] and graphql.headers["x-request-id"]
            rest = await http.get("/ogc/collections/zones/items?limit=5")
            assert rest.status_code == 400, rest.text
            assert rest.headers["content-type"].startswith("application/problem+json")
            assert rest.json()["code"] == "QUERY_TOO_COMPLEX" and rest.json()["requestId"]
            assert time.monotonic() - started < 8
            # Their statements were cancelled: nothing of the server waits for the lock.
            await until(lambda: _none_waiting(admin))
            await transaction.rollback()
            again = await http.post("/graphql", json=query, headers={"Cache-Control": "no-cache"})
            assert again.status_code == 200 and "errors" not in again.json(), again.text
            assert (await http.get("/ogc/collections/zones/items?limit=5")).status_code == 200
    finally:
        await admin.close()


async def _none_waiting(admin: asyncpg.Connection[asyncpg.Record]) -> bool:
    return await waiting_on_a_lock(admin) == 0


async def test_healthz_answers_while_a_large_query_runs(fresh_db_url: str) -> None:
    seeding = await connect(fresh_db_url)
    try:
        await seed_demo(seeding, show_progress=False)
    finally:
        await seeding.close()
    # Fifteen full pages of zones with every field, through the executor: 150 000 fields, over
    # the default cost (the bench loops the costliest accepted query); the old code's worst.
    query = costliest(10**6)[0]
    assert query.count("zones(first: 500)") == 15
    settings = {
        "MAR_COMPILED_READS": "false",
        "MAR_REQUEST_TIMEOUT": "60",
        "MAR_MAX_COST": "1000000",
    }
    async with server(fresh_db_url, **settings) as (base_url, _pid):
        answers: list[int] = []
        finished = threading.Event()

        def heavy() -> None:
            # In a thread of its own, so that reading the large answers does not delay the probe.
            with httpx.Client(base_url=base_url, timeout=60) as http:
                for _ in range(2):
                    response = http.post(
                        "/graphql", json={"query": query}, headers={"Cache-Control": "no-cache"}
                    )
                    answers.append(response.status_code)
                    assert b'"errors"' not in response.content[:64], response.text[:300]
            finished.set()

        thread = threading.Thread(target=heavy)
        thread.start()
        waits: list[float] = []
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            while not finished.is_set() and thread.is_alive():
                started = time.perf_counter()
                assert (await http.get("/healthz")).status_code == 200
                waits.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)
        await asyncio.to_thread(thread.join, 60)
    assert answers == [200, 200]
    # The target (bench/attack.py) is a p99 under 100 ms; here only "never stalled", with room
    # for a busy machine: the executor used to hold the loop for seconds with this query.
    assert len(waits) > 10 and max(waits) < 1.0, (len(waits), max(waits))


def resident_mib(pid: int) -> float:
    """A process's resident memory now, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_unique_large_bodies_leave_the_server_memory_bounded(fresh_db_url: str) -> None:
    async with server(fresh_db_url) as (base_url, pid):
        headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            for n in range(10):
                warm = await http.post("/graphql", content=large_body(10_000 + n), headers=headers)
                assert warm.status_code == 200, warm.text[:300]
            before = resident_mib(pid)
            for n in range(200):
                response = await http.post("/graphql", content=large_body(n), headers=headers)
                assert response.status_code == 200, response.text[:300]
            growth = resident_mib(pid) - before
    # 200 bodies of 0.9 MB: the old caches kept them all (hundreds of MiB); a generous margin.
    assert growth < 100, f"the server grew by {growth:.0f} MiB"


async def test_the_caches_keep_within_their_byte_budgets(settings: Settings, conn: Conn) -> None:
    budget = 2 * 1024 * 1024
    configured = replace(
        settings,
        response_cache=True,
        query_cache_bytes=budget,
        response_cache_bytes=budget,
        rate_limit_per_s=0,
    )
    app = create_app(configured, db=SingleConnectionSource(conn))
    graphql = next(
        r.endpoint for r in app.routes if isinstance(getattr(r, "endpoint", None), GraphQLApp)
    )
    assert isinstance(graphql, GraphQLApp)
    documents: Documents = graphql.documents
    answers = graphql.response_cache
    assert isinstance(answers, ResponseCache) and graphql.compiled is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        for n in range(20):  # unique 0.9 MB bodies, in their variables or their document
            response = await http.post(
                "/graphql", content=large_body(n), headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 200, response.text[:300]
        for n in range(300):  # unique small documents, each cached: compiled, or executed
            # (the executor takes @include on a variable)
            include = "@include(if: $t)" if n % 2 else ""
            page = f"zones(first: 3) {include} {{ nodes {{ code }} }}"
            query = f"query Q{n}($t: Boolean = true) {{ {page} }}"
            assert (await http.post("/graphql", json={"query": query})).status_code == 200
    for cache in (documents.parsed, documents.verdicts, graphql.compiled.plans):
        assert 0 < cache.bytes <= budget
    assert 0 < answers.bytes <= budget
    # Keys are digests, never bodies or documents.
    assert all(len(key[2]) == 32 for key in answers._entries)
    assert all(len(key[0]) == 32 for key in documents.parsed._entries)
    # A large document is never kept; the small ones are, up to the budget.
    large = {digest(json.loads(large_body(n))["query"]) for n in range(0, 20, 10)}
    assert large and not large & {key[0] for key in documents.parsed._entries}
    assert 0 < len(documents.parsed) < 300
    for plan in (entry[0] for entry in graphql.compiled.plans._entries.values()):
        assert plan is None or all(len(k) <= 1024 for k in plan.prepared)
