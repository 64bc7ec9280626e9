"""A real server (uvicorn subprocess on a free port) over a committed database with OGC records."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import pytest

from db.pool import connect
from tests.ogc_data import add_records
from tests.test_smoke import free_port, wait_until_serving

ZONE_COUNT, INCIDENT_COUNT = 25, 12


@pytest.fixture
async def ogc_server(fresh_db_url: str) -> AsyncIterator[str]:
    """`mar serve` over a database holding 25 zones and 12 incidents; yields its base URL."""
    conn = await connect(fresh_db_url)
    try:
        await add_records(conn, zones=ZONE_COUNT, incidents=INCIDENT_COUNT)
    finally:
        await conn.close()
    port = free_port()
    # No rate limit: schemathesis and GDAL send hundreds of requests a second.
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "MAR_PORT": str(port), "MAR_RATE_LIMIT": "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "serve", env=env, stderr=asyncio.subprocess.DEVNULL
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
