"""Rate limit per key: a token bucket (20 a second, bursts of 100 by default); over it is
RATE_LIMITED with HTTP 429 and Retry-After."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from api.app import create_app
from api.ratelimit import TokenBuckets, bucket_key
from api.settings import Settings
from db.pool import Connection, SingleConnectionSource
from tests.helpers import make_key

QUERY = {"query": "{ zones(first: 1) { totalCount } }"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(20, 100, clock=clock)
    assert all(buckets.take("a") == 0.0 for _ in range(100))
    wait = buckets.take("a")
    assert wait == pytest.approx(1 / 20)
    # Another key has its own bucket.
    assert buckets.take("b") == 0.0
    clock.now += 0.5  # 10 tokens back
    assert all(buckets.take("a") == 0.0 for _ in range(10))
    assert buckets.take("a") > 0
    clock.now += 3600  # never more than the burst
    assert sum(buckets.take("a") == 0.0 for _ in range(150)) == 100


def test_refused_requests_do_not_spend_tokens() -> None:
    clock = Clock()
    buckets = TokenBuckets(1, 1, clock=clock)
    assert buckets.take("k") == 0.0
    for _ in range(50):
        assert buckets.take("k") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("k") == 0.0


def test_idle_buckets_are_forgotten_when_there_are_too_many() -> None:
    clock = Clock()
    buckets = TokenBuckets(10, 5, clock=clock, max_buckets=100)
    for i in range(100):
        buckets.take(f"addr:{i}")
    clock.now += 10  # every bucket has refilled: forgetting one changes nothing
    buckets.take("new")
    assert len(buckets) == 1
    # Busy buckets are never all kept at the cost of memory either.
    for i in range(300):
        buckets.take(f"busy:{i}")
    assert len(buckets) <= 100


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBuckets(0, 10)


def test_bucket_key_is_the_key_name_else_the_client_address() -> None:
    assert bucket_key({"state": {"key_name": "ngo-dashboard"}}) == "key:ngo-dashboard"
    assert bucket_key({"state": {"key_name": None}, "client": ("10.1.2.3", 5000)}) == (
        "addr:10.1.2.3"
    )
    assert bucket_key({"client": None}) == "addr:unknown"


@pytest.fixture
async def limited(settings: Settings, conn: Connection) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        replace(settings, rate_limit_per_s=1, rate_limit_burst=3), db=SingleConnectionSource(conn)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        yield http


async def test_graphql_over_the_budget_is_rate_limited_with_retry_after(
    limited: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        assert (await limited.post("/graphql", json=QUERY)).status_code == 200
    response = await limited.post(
        "/graphql", json=QUERY, headers={"accept": "application/graphql-response+json"}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.headers["x-request-id"]
    body = response.json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "data" not in body


async def test_rest_over_the_budget_is_problem_json_and_probes_are_never_limited(
    limited: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        await limited.get("/no/such/path")
    response = await limited.get("/no/such/path")
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "RATE_LIMITED"
    assert int(response.headers["retry-after"]) >= 1
    for _ in range(10):
        assert (await limited.get("/healthz")).status_code == 200


async def test_a_zero_rate_turns_the_limit_off(settings: Settings, conn: Connection) -> None:
    app = create_app(
        replace(settings, rate_limit_per_s=0, rate_limit_burst=1), db=SingleConnectionSource(conn)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        for _ in range(5):
            assert (await http.post("/graphql", json=QUERY)).status_code == 200


async def test_each_key_has_its_own_budget_and_anonymous_callers_their_address(
    settings: Settings, conn: Connection
) -> None:
    """Two real keys of one role, checked by the real authentication: one spending its budget
    is refused while the other is served in full, and so are anonymous callers."""
    secrets = [await make_key(conn, f"budget {n}", "partner") for n in (1, 2)]
    app = create_app(
        replace(settings, rate_limit_per_s=1, rate_limit_burst=5), db=SingleConnectionSource(conn)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:

        async def ask(secret: str | None) -> httpx.Response:
            headers = {"Authorization": f"Bearer {secret}"} if secret else {}
            return await http.post("/graphql", json=QUERY, headers=headers)

        first: list[httpx.Response] = []
        started = time.monotonic()
        while not first or first[-1].status_code != 429:
            assert len(first) < 50, "the first key was never limited"
            first.append(await ask(secrets[0]))
        elapsed = time.monotonic() - started
        served = [r for r in first if r.status_code == 200]
        # Its burst, and no more than the tokens that came back meanwhile.
        assert 5 <= len(served) <= 5 + math.ceil(elapsed)
        assert all(r.json()["data"]["zones"]["totalCount"] == 0 for r in served)
        assert first[-1].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        # The other key still has its whole burst; anonymous callers have their own budget.
        assert [(await ask(secrets[1])).status_code for _ in range(5)] == [200] * 5
        assert [(await ask(None)).status_code for _ in range(5)] == [200] * 5
