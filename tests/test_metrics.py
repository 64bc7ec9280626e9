"""GET /metrics: requests counted by method, route template, GraphQL operation and status."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from api.metrics import MAX_OPERATIONS, Metrics
from tests.helpers import GraphQLClient, Samples, metric_samples


async def samples(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return metric_samples(response.text)


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


# A client that pauses this long halfway through sending its body.
PAUSE_S = 0.2


async def slowly(body: bytes) -> AsyncIterator[bytes]:
    """`body` in two parts, PAUSE_S apart: the request lasts at least that long."""
    yield body[:10]
    await asyncio.sleep(PAUSE_S)
    yield body[10:]


async def test_requests_are_counted_by_route_operation_and_status(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    open_zones = json.dumps({"query": "query OpenZones { zones(first: 1) { totalCount } }"})
    started = time.perf_counter()
    for _ in range(2):
        response = await client.post(
            "/graphql",
            content=slowly(open_zones.encode()),
            headers={**gql.headers, "content-type": "application/json"},
        )
        assert response.json() == {"data": {"zones": {"totalCount": 0}}}
    elapsed = time.perf_counter() - started
    await gql("{ zones(first: 1) { totalCount } }")
    await client.get("/ogc/collections/nowhere")
    await client.get("/no/such/path")
    got = await samples(client)
    graphql = {"method": "POST", "route": "/graphql", "status": "200"}
    assert got[("mar_http_requests_total", labels(**graphql, operation="OpenZones"))] == 2
    assert got[("mar_http_requests_total", labels(**graphql, operation="query"))] == 1
    ogc = {"method": "GET", "operation": "", "status": "404"}
    assert (
        got[("mar_http_requests_total", labels(**ogc, route="/ogc/collections/{collection}"))] == 1
    )
    assert got[("mar_http_requests_total", labels(**ogc, route="unmatched"))] == 1
    timed = labels(method="POST", route="/graphql", operation="OpenZones")
    assert got[("mar_http_request_duration_seconds_count", timed)] == 2
    # In seconds, between the pauses the client made and the time the test waited for both.
    assert 2 * PAUSE_S <= got[("mar_http_request_duration_seconds_sum", timed)] <= elapsed
    bucket = "mar_http_request_duration_seconds_bucket"
    assert got[(bucket, labels(**dict(timed), le="0.1"))] == 0
    assert got[(bucket, labels(**dict(timed), le="+Inf"))] == 2
    # The test app borrows one connection, not a pool: no pool figures.
    assert not any(name.startswith("mar_db_pool") for name, _ in got)


def test_operation_names_cannot_grow_the_series_without_bound() -> None:
    metrics = Metrics()
    scope: dict[str, Any] = {"method": "POST", "state": {}}
    for n in range(MAX_OPERATIONS + 50):
        scope["state"]["graphql_operation"] = f"Op{n}"
        metrics.observe(scope, 200, 0.01)
    scope["state"]["graphql_operation"] = "not a name!"
    metrics.observe(scope, 200, 0.01)
    operations = {
        s.labels["operation"]
        for family in metrics.registry.collect()
        if family.name == "mar_http_requests"
        for s in family.samples
    }
    assert len(operations) == MAX_OPERATIONS + 1
    assert "other" in operations and f"Op{MAX_OPERATIONS}" not in operations
