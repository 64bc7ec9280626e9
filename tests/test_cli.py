"""The `mar` command, driven through its entry point."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.cli import main
from api.graphql.schema import build_schema
from tests.conftest import create_database, drop_database


@pytest.fixture
async def empty_db_url() -> AsyncIterator[str]:
    name = "mar_test_cli_empty"
    url = await create_database(name)
    yield url
    await drop_database(name)


async def count(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def test_schema_prints_the_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == build_schema().as_str() + "\n"


def test_migrate_then_seed_twice(
    empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    assert main(["migrate"]) == 0
    assert "migrated to head" in capsys.readouterr().out
    assert main(["seed", "--demo"]) == 0
    assert "demo data written" in capsys.readouterr().out
    zones = asyncio.run(count(empty_db_url, "zones"))
    assert zones >= 600
    assert main(["seed", "--demo"]) == 0
    assert capsys.readouterr().out.strip() == "demo data already present; nothing changed"
    assert asyncio.run(count(empty_db_url, "zones")) == zones


def test_missing_database_url_is_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MAR_DEVDB_DIR", str(tmp_path))  # no private database runs there
    assert main(["migrate"]) == 2
    assert "DATABASE_URL is not set" in capsys.readouterr().err


def test_bad_setting_is_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAR_PORT", "eighty")
    assert main(["serve"]) == 2
    assert "MAR_PORT must be a whole number" in capsys.readouterr().err


def test_seed_needs_a_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed"]) == 2
    assert "--demo" in capsys.readouterr().err


def test_an_import_nested_too_deeply_is_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")  # never reached
    deep = tmp_path / "deep.geojson"
    deep.write_bytes(b"[" * 100_000)
    assert main(["import", "zones", str(deep)]) == 2
    assert "nested too deeply" in capsys.readouterr().err
