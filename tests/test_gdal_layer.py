"""A whole layer larger than the rate-limit burst, read by GDAL's OAPIF driver with its default
page size from `mar serve` with the default settings: every zone, and no 429.

With the default settings a client as slow as GDAL on a busy machine is also helped by the tokens
that come back while it reads; the same read with one token a second shows that the weights
alone let it finish (every page counted as a whole request, it stopped with 429 after 100).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from db.pool import connect
from tests.helpers import metric_samples, serving
from tests.test_gdal import run

ZONES = 1500  # GDAL 3.6 asks 10 features a page: 150 item requests, over the burst of 100
LAYER = """
INSERT INTO zones (code, name, hazard_type, status, contamination, geometry, priority)
SELECT format('GDAL-Z-%s', lpad(i::text, 5, '0')), format('Zone %s', i), 'SHA', 'OPEN',
       ARRAY['UXO'], ST_Multi(ST_MakeEnvelope(
         (i % 100) / 100.0, (i / 100) / 100.0, (i % 100) / 100.0 + 0.005,
         (i / 100) / 100.0 + 0.005, 4326)), 3
FROM generate_series(1, $1) AS i
"""


@pytest.fixture(params=["defaults", "no refill"])
async def default_server(fresh_db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """`mar serve` with the default rate limit (or its burst and 1 token a second) over a
    database of ZONES zones."""
    conn = await connect(fresh_db_url)
    try:
        await conn.execute(LAYER, ZONES)
    finally:
        await conn.close()
    defaults = Settings()
    assert defaults.rate_limit_burst < ZONES // 10  # the layer is larger than the burst
    env = {k: v for k, v in os.environ.items() if k in ("MAR_RATE_LIMIT", "MAR_RATE_BURST")}
    assert not env, f"the test needs the default rate limit, not {env}"
    settings = {"MAR_RATE_LIMIT": "1"} if request.param == "no refill" else {}
    async with serving(fresh_db_url, **settings) as base_url:
        yield base_url


async def test_ogr2ogr_reads_a_layer_larger_than_the_burst_without_429(
    default_server: str, tmp_path: Path
) -> None:
    target = tmp_path / "zones.gpkg"
    output = await run(
        "ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{default_server}/ogc", "zones",
        "--config", "CPL_DEBUG", "ON",
    )  # fmt: skip
    assert "429" not in output and "Terminating translation prematurely" not in output
    info = await run("ogrinfo", "-ro", "-so", str(target), "zones")
    assert f"Feature Count: {ZONES}" in info
    async with httpx.AsyncClient(base_url=default_server) as http:
        samples = metric_samples((await http.get("/metrics")).text)
    by_status: dict[str, float] = {}
    items = 0.0
    for (name, labels), value in samples.items():
        if name == "mar_http_requests_total":
            label = dict(labels)
            by_status[label["status"]] = by_status.get(label["status"], 0) + value
            if label["route"].endswith("/items"):
                items += value
    assert "429" not in by_status, by_status
    # GDAL paged at its default size: the read really was more requests than the burst.
    assert items > Settings().rate_limit_burst, items
