"""A real server (uvicorn subprocess on a free port) over a committed database with OGC records."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from db.pool import connect
from tests.helpers import serving
from tests.ogc_data import add_records

ZONE_COUNT, INCIDENT_COUNT = 25, 12


@pytest.fixture
async def ogc_server(fresh_db_url: str) -> AsyncIterator[str]:
    """`mar serve` over a database holding 25 zones and 12 incidents; yields its base URL."""
    conn = await connect(fresh_db_url)
    try:
        await add_records(conn, zones=ZONE_COUNT, incidents=INCIDENT_COUNT)
    finally:
        await conn.close()
    # No rate limit: schemathesis and GDAL send hundreds of requests a second.
    async with serving(fresh_db_url, MAR_RATE_LIMIT="0") as base_url:
        yield base_url
