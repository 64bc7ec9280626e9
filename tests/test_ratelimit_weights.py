"""The rate limit weighs requests by what they cost (api/ratelimit.py's table): real keys through
the real middleware and endpoints, one bucket of 10 tokens per key."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import asyncpg
import httpx
import pytest

from api import ratelimit
from api.app import create_app
from api.ratelimit import request_cost
from api.settings import Settings
from db.pool import PoolSource, create_pool
from tests.helpers import make_key

BURST, RATE = 10, 1
QUERY = {"query": "{ zones(first: 1) { totalCount } }"}
TILE = "/tiles/zones/3/4/3.pbf"


def cost(path: str, query: bytes = b"", kind: str = "http") -> float:
    return request_cost({"type": kind, "path": path, "query_string": query})


def test_the_weights_follow_what_a_request_costs() -> None:
    graphql, tile = cost("/graphql"), cost(TILE)
    gdal_page = cost("/ogc/collections/zones/items", b"limit=10")
    default_page = cost("/ogc/collections/zones/items")
    huge_page = cost("/ogc/collections/zones/items", b"limit=10000&offset=5")
    assert tile < graphql and gdal_page < graphql and default_page < graphql
    assert gdal_page < default_page < huge_page
    assert huge_page == pytest.approx(0.25 + 5.0)
    assert cost("/ogc/collections/zones/items", b"limit=999999") == huge_page  # capped as served
    assert cost("/ogc/collections/zones/items", b"limit=x") == default_page
    assert cost("/ogc/collections/zones/items/OGC-Z-001") == tile
    lights = ["/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/zones"]
    lights += ["/ogc/collections/zones/queryables", "/tiles/zones.json", "/openapi.json"]
    for light in lights:
        assert cost(light) == pytest.approx(0.1), light
    assert cost("/exports/zones.csv") == cost("/exports/incidents.geojson") == 5
    assert cost("/exports/zones.gpkg") == cost("/exports/zones.kml") == 10
    assert cost("/imports/zones") == 10
    assert cost("/graphql", kind="websocket") == cost("/no/such/path") == 1


@pytest.fixture
async def keys(fresh_db_url: str) -> list[dict[str, str]]:
    """The headers of six partner keys, committed in the test's database."""
    conn = await asyncpg.connect(fresh_db_url)
    try:
        secrets = [await make_key(conn, f"weights {n}", "partner") for n in range(6)]
    finally:
        await conn.close()
    return [{"Authorization": f"Bearer {s}"} for s in secrets]


@pytest.fixture
async def http(fresh_db_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    pool = await create_pool(fresh_db_url, min_size=0, max_size=4)
    limited = replace(settings, rate_limit_per_s=RATE, rate_limit_burst=BURST, response_cache=True)
    app = create_app(limited, db=PoolSource(pool))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as client:
        yield client
    await pool.close()


async def served_before_refusal(ask: Callable[[], Awaitable[httpx.Response]]) -> tuple[int, float]:
    """How many requests a full bucket serves before the first 429, and the seconds it took."""
    started, served = time.monotonic(), 0
    while True:
        response = await ask()
        if response.status_code == 429:
            assert "RATE_LIMITED" in response.text
            return served, time.monotonic() - started
        assert response.status_code in (200, 204, 304), response.text
        served += 1
        assert served < 1000, "never limited"


def within_budget(served: int, elapsed: float, weight: float) -> bool:
    """`served` requests of `weight` fit a full bucket plus what refilled meanwhile, and no more."""
    low = math.floor(BURST / weight + 1e-9)
    high = math.floor((BURST + RATE * (elapsed + 1)) / weight + 1e-9)
    return low <= served <= high


async def test_a_full_bucket_serves_four_tiles_for_each_graphql_query(
    http: httpx.AsyncClient, keys: list[dict[str, str]]
) -> None:
    no_cache = {**keys[0], "cache-control": "no-cache"}
    queries, q_time = await served_before_refusal(
        lambda: http.post("/graphql", json=QUERY, headers=no_cache)
    )
    tiles, t_time = await served_before_refusal(lambda: http.get(TILE, headers=keys[1]))
    pages, p_time = await served_before_refusal(
        lambda: http.get("/ogc/collections/zones/items?limit=10", headers=keys[2])
    )
    assert within_budget(queries, q_time, 1.0), queries
    assert within_budget(tiles, t_time, 0.25), tiles
    assert within_budget(pages, p_time, 0.255), pages
    # Still a real limit: a page of 10 000 features costs what it asks of the service.
    huge, h_time = await served_before_refusal(
        lambda: http.get("/ogc/collections/zones/items?limit=10000", headers=keys[3])
    )
    assert within_budget(huge, h_time, 5.25), huge


async def test_answers_from_the_cache_and_304s_are_refunded_to_a_tenth(
    http: httpx.AsyncClient, keys: list[dict[str, str]]
) -> None:
    first = await http.post("/graphql", json=QUERY, headers=keys[4])
    assert first.headers["x-cache"] == "miss"
    seen: set[str] = set()

    async def cached() -> httpx.Response:
        response = await http.post("/graphql", json=QUERY, headers=keys[4])
        seen.add(response.headers.get("x-cache", "refused"))
        return response

    hits, h_time = await served_before_refusal(cached)
    assert seen == {"hit", "refused"}
    # Each hit is charged a whole token up front, then refunded down to 0.1: the 9 tokens left
    # after the miss pay for about 80 hits (served while a token is left), not 9.
    refunded = ratelimit.CACHED_COST
    assert (BURST - 2) / refunded - 1 <= hits <= (BURST + RATE * (h_time + 1)) / refunded, hits

    etag = (await http.get(TILE, headers=keys[5])).headers["etag"]
    held = {**keys[5], "if-none-match": etag}
    not_modified, n_time = await served_before_refusal(lambda: http.get(TILE, headers=held))
    # A 304 is charged a tile's 0.25 up front and refunded down to 0.1.
    low = (BURST - 0.5) / refunded - 1
    assert low <= not_modified <= (BURST + RATE * (n_time + 1)) / refunded, not_modified
