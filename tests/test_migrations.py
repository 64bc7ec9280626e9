"""The migrations upgrade, downgrade and upgrade again on a real PostGIS, from one head."""

import ast
import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from alembic import command

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_URL = "postgresql://mar:mar@127.0.0.1:54329/mar"

TABLES = {
    "organisations",
    "teams",
    "zones",
    "tasks",
    "task_teams",
    "progress_reports",
    "device_finds",
    "land_releases",
    "incidents",
    "casualties",
    "api_keys",
    "audit_log",
    "idempotency_keys",
}


def _server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or FALLBACK_URL


def _url_of(name: str) -> str:
    return urlunsplit(urlsplit(_server_url())._replace(path=f"/{name}"))


def _config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["configure_logger"] = False
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@pytest.fixture
async def scratch_url() -> AsyncIterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards."""
    name = f"mar_migrations_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_server_url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _url_of(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    return {row["table_name"] for row in rows}


async def _alembic(command_name: str, url: str, revision: str) -> None:
    # alembic's env.py runs its own event loop, so it goes to a thread.
    run = getattr(command, command_name)
    await asyncio.to_thread(run, _config(url), revision)


def test_one_head_and_numbered_revisions() -> None:
    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.path is not None
        assert Path(revision.path).name.startswith(f"{revision.revision}_")


async def test_upgrade_downgrade_upgrade(scratch_url: str) -> None:
    await _alembic("upgrade", scratch_url, "head")
    assert await _tables(scratch_url) >= TABLES

    await _alembic("downgrade", scratch_url, "base")
    left = await _tables(scratch_url)
    assert not TABLES & left
    conn = await asyncpg.connect(scratch_url)
    try:
        functions = await conn.fetchval(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proname = ANY($1::text[])",
            ["record_touch", "land_releases_check", "text_array_is_distinct"],
        )
    finally:
        await conn.close()
    assert functions == 0

    await _alembic("upgrade", scratch_url, "head")
    assert await _tables(scratch_url) >= TABLES
    conn = await asyncpg.connect(scratch_url)
    try:
        version = await conn.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await conn.close()
    assert version == ScriptDirectory.from_config(_config()).get_current_head()


async def test_database_url_from_environment(
    scratch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", scratch_url)
    config = _config()
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _tables(scratch_url) >= TABLES


def test_alembic_imports_neither_api_nor_db() -> None:
    for path in (ROOT / "alembic").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"api", "db"}, f"{path} imports {name}"
