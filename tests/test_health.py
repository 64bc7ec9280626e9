"""Liveness, readiness and request ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from alembic import command
from api.app import create_app
from api.migrations import alembic_config, head_revision, upgrade
from api.settings import Settings
from db.pool import PoolSource, create_pool
from tests.conftest import create_database, drop_database


async def test_healthz_answers_without_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_at_the_migration_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


@pytest.fixture
async def empty_db_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose database exists but was never migrated."""
    name = "mar_test_unmigrated"
    url = await create_database(name)
    pool = await create_pool(url, min_size=0, max_size=2)
    app = create_app(settings, db=PoolSource(pool))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        yield http
    await pool.close()
    await drop_database(name)


async def test_readyz_is_503_with_a_reason_before_migrations(
    empty_db_client: httpx.AsyncClient,
) -> None:
    response = await empty_db_client.get("/readyz")
    assert response.status_code == 503
    assert "mar migrate" in response.json()["reason"]


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    # Nothing listens on port 9 of the loopback address: the connection is refused at once.
    pool = await create_pool("postgresql://mar:mar@127.0.0.1:9/mar", min_size=0, max_size=1)
    app = create_app(settings, db=PoolSource(pool, acquire_timeout=2))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        response = await http.get("/readyz")
    await pool.close()
    assert response.status_code == 503
    assert response.json()["reason"] == "the database does not answer"


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert made.headers["x-request-id"] != "bad id\twith spaces"
    assert len(made.headers["x-request-id"]) == 32


def downgrade_one_step(ini: Path, url: str) -> None:
    """Take the database one migration back (Alembic runs its own event loop: a thread)."""
    command.downgrade(alembic_config(ini, url), "-1")


async def test_readyz_is_503_while_the_database_is_behind_the_head(
    settings: Settings, fresh_db_url: str
) -> None:
    head = head_revision(settings.alembic_ini)
    assert head is not None
    revision = ScriptDirectory.from_config(alembic_config(settings.alembic_ini)).get_revision(head)
    assert revision is not None and isinstance(revision.down_revision, str)
    previous = revision.down_revision
    await asyncio.to_thread(downgrade_one_step, settings.alembic_ini, fresh_db_url)
    pool = await create_pool(fresh_db_url, min_size=0, max_size=2)
    try:
        app = create_app(settings, db=PoolSource(pool))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
        ) as http:
            response = await http.get("/readyz")
            assert response.status_code == 503
            assert response.json() == {
                "status": "unavailable",
                "reason": f"the database schema is at {previous}, not at {head}; run `mar migrate`",
            }
            await asyncio.to_thread(upgrade, settings.alembic_ini, fresh_db_url)
            response = await http.get("/readyz")
            assert response.status_code == 200
            assert response.json() == {"status": "ready", "schema": head}
    finally:
        await pool.close()
