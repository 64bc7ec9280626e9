"""A database that goes away under a running app: 503 and masked errors, then recovery."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.live import Live
from api.migrations import upgrade
from api.settings import Settings
from db.pool import PoolSource, create_pool
from tests.helpers import free_port

DEVDB = Path(__file__).resolve().parent.parent / "scripts" / "devdb"
QUERY = {"query": "{ zones(first: 1) { totalCount } }"}


class Cluster:
    """A private PostgreSQL cluster of this test's own, which it may stop and start."""

    def __init__(self, folder: str, port: int) -> None:
        self.env = {**os.environ, "MAR_DEVDB_DIR": folder, "MAR_DEVDB_PORT": str(port)}

    def run(self, command: str) -> str:
        done = subprocess.run(
            [str(DEVDB), command], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    folder = tempfile.mkdtemp(prefix="mar-outage-")
    own = Cluster(folder, free_port())
    own.run("start")
    try:
        yield own
    finally:
        subprocess.run([str(DEVDB), "stop"], env=own.env, capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", folder], check=False)


@pytest.fixture
async def http(cluster: Cluster, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    url = cluster.run("url")
    await asyncio.to_thread(upgrade, settings.alembic_ini, url)
    pool = await create_pool(url, min_size=0, max_size=4)
    # The response cache on, as in production: it reads the data version before anything else.
    served = dataclasses.replace(settings, response_cache=True)
    app = create_app(served, db=PoolSource(pool, acquire_timeout=5))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as client:
        yield client
    pool.terminate()


async def test_app_survives_a_database_restart(cluster: Cluster, http: httpx.AsyncClient) -> None:
    assert (await http.get("/readyz")).status_code == 200
    assert (await http.post("/graphql", json=QUERY)).json() == {
        "data": {"zones": {"totalCount": 0}}
    }

    await asyncio.to_thread(cluster.run, "stop")
    ready = await http.get("/readyz")
    assert ready.status_code == 503
    for _ in range(2):
        body = (await http.post("/graphql", json=QUERY)).json()
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert "database is unavailable" in error["message"]

    await asyncio.to_thread(cluster.run, "start")
    # The first request after the restart already succeeds: stale connections were dropped.
    assert (await http.post("/graphql", json=QUERY)).json() == {
        "data": {"zones": {"totalCount": 0}}
    }
    assert (await http.get("/readyz")).status_code == 200


async def test_live_changes_resume_after_a_database_restart(
    cluster: Cluster, settings: Settings
) -> None:
    url = cluster.run("url")
    await asyncio.to_thread(upgrade, settings.alembic_ini, url)
    live = Live(url)
    live.start()
    try:
        await asyncio.wait_for(live.listening.wait(), 10)
        async with live.follow("zone") as feed:
            ids = aiter(feed)
            await asyncio.to_thread(cluster.run, "stop")
            for _ in range(100):
                if not live.listening.is_set():
                    break
                await asyncio.sleep(0.1)
            assert not live.listening.is_set()
            await asyncio.to_thread(cluster.run, "start")
            await asyncio.wait_for(live.listening.wait(), 30)
            writer = await asyncpg.connect(url)
            try:
                await writer.execute("SELECT pg_notify('mar_zone_changed', '42')")
            finally:
                await writer.close()
            assert await asyncio.wait_for(anext(ids), 5) == 42
    finally:
        await live.stop()
