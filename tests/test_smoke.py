"""The real server: uvicorn in a subprocess on a free port, talked to over a socket."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

# The README's first query.
FIRST_QUERY = "{ zones(first: 5, filter: {status: [OPEN]}) { totalCount nodes { code } } }"


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until_serving(base_url: str, process: asyncio.subprocess.Process) -> None:
    """Poll /healthz for up to 20 s; fail early when the server process exits."""
    async with httpx.AsyncClient(base_url=base_url, timeout=1.0) as http:
        for _ in range(200):
            if process.returncode is not None:
                raise AssertionError(f"the server exited with {process.returncode}")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not answer /healthz within 20 s")


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    """`mar serve` against a migrated database; yields its base URL and stops it after."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "MAR_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "serve", env=env, stderr=asyncio.subprocess.PIPE
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serving(base_url, process)
        yield base_url
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


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
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(figures.text)
            for s in family.samples
        }
        assert samples[("mar_db_pool_max_connections", ())] == 10
        assert samples[("mar_db_pool_connections", ())] >= 1
        assert samples[("mar_graphql_response_cache_lookups_total", (("result", "hit"),))] == 1
        posted = {"method": "POST", "route": "/graphql", "status": "200"}
        for operation, count in (("mutation", 1), ("query", 2)):
            key = tuple(sorted({**posted, "operation": operation}.items()))
            assert samples[("mar_http_requests_total", key)] == count, operation
