"""Test fixtures: a real PostgreSQL + PostGIS, migrated once into a template database.

Each test gets one connection to a database cloned from the template, inside a transaction that
is rolled back at the end; the app's own transactions become savepoints inside it. Tests that must
commit ask for `fresh_db_url`: a database of their own, cloned from the template, dropped after.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.migrations import upgrade
from api.settings import Settings
from db.pool import SingleConnectionSource, connect
from db.queries import keys as key_sql
from tests.helpers import TEST_HOSTS, GraphQLClient, make_key

DEFAULT_URL = "postgresql://mar:mar@127.0.0.1:54329/mar"


def server_url() -> str:
    """The URL of a database on the test server (TEST_DATABASE_URL, else the private cluster)."""
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL


def database_url(name: str) -> str:
    """The URL of database `name` on the test server."""
    parts = urlsplit(server_url())
    return urlunsplit(parts._replace(path=f"/{name}"))


async def create_database(name: str, template: str | None = None) -> str:
    """Create database `name` (from `template` when given) and return its URL."""
    conn = await asyncpg.connect(server_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await conn.close()
    return database_url(name)


async def drop_database(name: str) -> None:
    """Drop database `name`, closing whatever is still connected to it."""
    conn = await asyncpg.connect(server_url())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings as a test app uses them (the database comes from fixtures, not DATABASE_URL).

    No response cache: it is exact only across commits, and these tests never commit (each runs
    in a transaction rolled back at its end). tests/test_response_cache.py commits and tests it.
    """
    return Settings.from_env(
        # The hosts the in-process clients call (httpx's and schemathesis's base URLs).
        {"MAR_LOG_JSON": "false", "MAR_RESPONSE_CACHE": "false", **TEST_HOSTS}
    )


@pytest.fixture(scope="session")
async def template_db(settings: Settings) -> AsyncIterator[str]:
    """A freshly migrated database kept as the template of every test database."""
    name = f"mar_test_template_{os.getpid()}"
    url = await create_database(name)
    # Alembic's env.py runs its own event loop: give it a thread.
    await asyncio.to_thread(upgrade, settings.alembic_ini, url)
    yield name
    await drop_database(name)


@pytest.fixture(scope="session")
async def shared_db_url(template_db: str) -> AsyncIterator[str]:
    """The database the rolled-back tests share."""
    name = f"mar_test_{os.getpid()}"
    url = await create_database(name, template_db)
    yield url
    await drop_database(name)


@pytest.fixture
async def fresh_db_url(template_db: str) -> AsyncIterator[str]:
    """A database of the test's own, for tests that commit."""
    name = f"mar_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = await create_database(name, template_db)
    yield url
    await drop_database(name)


@pytest.fixture
async def db(fresh_db_url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A connection to the test's own database, outside the app (autocommit), for tests that
    drive a real server on that database."""
    conn = await asyncpg.connect(fresh_db_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def conn(shared_db_url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A connection inside a transaction that is rolled back when the test ends."""
    connection = await connect(shared_db_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


@pytest.fixture
def compiled_reads() -> bool:
    """Whether the test app compiles the read queries it can, as it does by default; tests of
    the executor's own batching parametrize it."""
    return True


@pytest.fixture
def app(settings: Settings, conn: asyncpg.Connection[asyncpg.Record], compiled_reads: bool) -> Any:
    """The application, served from the test's rolled-back connection."""
    configured = replace(settings, compiled_reads=compiled_reads)
    return create_app(configured, db=SingleConnectionSource(conn))


@pytest.fixture
async def editor_key(conn: asyncpg.Connection[asyncpg.Record]) -> str:
    """The secret of an editor's key (made in the test's rolled-back transaction)."""
    return await make_key(conn, "test editor", "editor")


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that calls the app in-process, without a key (the public role)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mar.test") as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient, editor_key: str) -> GraphQLClient:
    """Send GraphQL operations to the in-process app as an editor.

    Pass `authorization=""` for an anonymous (public) request, or another key's header.
    """
    return GraphQLClient(client, headers={"Authorization": f"Bearer {editor_key}"})


@pytest.fixture
def sql_log(conn: asyncpg.Connection[asyncpg.Record]) -> list[str]:
    """Every statement the test's connection runs from now on, in order."""
    statements: list[str] = []

    def keep(record: asyncpg.LoggedQuery) -> None:
        # The key lookup every keyed request costs (api/auth.py) is not what these tests count,
        # nor the savepoints a compiled read takes inside the test's enclosing transaction.
        if record.query != key_sql.AUTHENTICATE and "SAVEPOINT" not in record.query:
            statements.append(record.query)

    conn.add_query_logger(keep)
    return statements


# A developer's .env never reaches the tests (nor the servers and commands they start).
os.environ["MAR_ENV_FILE"] = ""
