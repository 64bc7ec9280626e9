"""Helpers the tests share."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from typing import IO, Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from api.auth import hash_secret, new_secret, shown_prefix


class GraphQLClient:
    """POST GraphQL operations and return the decoded answer."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
        self.http = http
        self.headers = headers or {}

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            # Header names are case-insensitive: a call's own header replaces the default.
            headers={k.lower(): v for k, v in [*self.headers.items(), *headers.items()]},
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body


def error_fields(body: dict[str, Any]) -> list[str]:
    """The offending field paths of a BAD_USER_INPUT answer."""
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return [f["field"] for f in error["extensions"]["fields"]]


async def make_key(conn: asyncpg.Connection[asyncpg.Record], name: str, role: str) -> str:
    """Store a key for `role` named `name` and return its secret."""
    secret = new_secret()
    await conn.execute(
        "INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ($1, $2, $3, $4)",
        name,
        role,
        hash_secret(secret),
        shown_prefix(secret),
    )
    return secret


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


@contextlib.asynccontextmanager
async def server_process(
    database_url: str, *, stderr: int | IO[bytes] = asyncio.subprocess.DEVNULL, **settings: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`mar serve` (uvicorn in a subprocess, on a free port) against `database_url`, with extra
    MAR_ settings and its log to `stderr`; yields its base URL and process, stops it after."""
    port = free_port()
    env = {**os.environ, **settings, "DATABASE_URL": database_url, "MAR_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "serve", env=env, stderr=stderr
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serving(base_url, process)
        yield base_url, process
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def serving(database_url: str, **settings: str) -> AsyncIterator[str]:
    """`mar serve` against `database_url`, with extra MAR_ settings; yields its base URL."""
    async with server_process(database_url, **settings) as (base_url, _process):
        yield base_url


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def metric_samples(text: str) -> Samples:
    """Every sample of a /metrics page, by (name, its labels as sorted pairs)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


# The Host names of the in-process test clients (httpx's and schemathesis's base URLs): settings
# of a test app allow them (MAR_ALLOWED_HOSTS).
TEST_HOSTS = {"MAR_ALLOWED_HOSTS": "mar.test,testserver"}
