"""The real server: uvicorn in a subprocess on a free port, talked to over a socket."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.helpers import metric_samples, serving

# The README's first query.
FIRST_QUERY = "{ zones(first: 5, filter: {status: [OPEN]}) { totalCount nodes { code } } }"


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    """`mar serve` against a migrated database; yields its base URL and stops it after."""
    async with serving(fresh_db_url) as base_url:
        yield base_url


async def test_real_server_is_ready_and_answers_graphql(server: str, fresh_db_url: str) -> None:
    # Writing needs an editor's key, made the way an operator makes one.
    made = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "api.cli", "keys", "create", "--name", "smoke", "--role", "editor"),
        env={**os.environ, "DATABASE_URL": fresh_db_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    secret, _ = await made.communicate()
    assert made.returncode == 0
    editor = {"Authorization": f"Bearer {secret.decode().strip()}"}
    async with httpx.AsyncClient(base_url=server, timeout=10.0) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        created = await http.post(
            "/graphql",
            headers=editor,
            json={
                "query": 'mutation { createZone(input: {code: "SMOKE-1", name: "Smoke", '
                'hazardType: CHA, contamination: [UXO], geometry: {type: "Polygon", '
                "coordinates: [[[1, 1], [1.001, 1], [1.001, 1.001], [1, 1]]]}}) { code } }"
            },
        )
        assert created.json() == {"data": {"createZone": {"code": "SMOKE-1"}}}, created.text
        listed = await http.post(
            "/graphql",
            json={"query": FIRST_QUERY},
        )
        assert listed.json()["data"]["zones"] == {"totalCount": 1, "nodes": [{"code": "SMOKE-1"}]}
        assert listed.headers["x-request-id"]
        ide = await http.get("/graphql", headers={"accept": "text/html"})
        assert ide.status_code == 200 and "graphiql" in ide.text.lower()
        # The same read again comes from the response cache, which the real server keeps on.
        assert listed.headers["x-cache"] == "miss"
        again = await http.post("/graphql", json={"query": FIRST_QUERY})
        assert again.headers["x-cache"] == "hit" and again.json() == listed.json()
        figures = await http.get("/metrics")
        assert figures.status_code == 200
        samples = metric_samples(figures.text)
        assert samples[("mar_db_pool_max_connections", ())] == 10
        assert samples[("mar_db_pool_connections", ())] >= 1
        assert samples[("mar_graphql_response_cache_lookups_total", (("result", "hit"),))] == 1
        posted = {"method": "POST", "route": "/graphql", "status": "200"}
        for operation, count in (("mutation", 1), ("query", 2)):
            key = tuple(sorted({**posted, "operation": operation}.items()))
            assert samples[("mar_http_requests_total", key)] == count, operation
