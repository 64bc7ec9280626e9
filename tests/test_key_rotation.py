"""`mar keys rotate`: a new secret for the same name and role, the old one revoked at once (401,
its open sockets closed with 4401); a revoked key's name may be given again."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from api.cli import main
from api.settings import Settings
from tests.helpers import make_key
from tests.test_hostile_sockets import CLOSED_WITHIN_S, closing, server, subscribed
from tests.test_keys import key_rows, post_with
from tests.test_subscriptions import open_socket

pytestmark = pytest.mark.commits
__all__ = ["server"]  # a fixture


def created(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run `mar keys …` that prints a secret, and return it."""
    assert main(["keys", *argv]) == 0
    return capsys.readouterr().out.strip()


def test_rotate_gives_a_new_secret_and_revokes_the_old_one(
    fresh_db_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    old = created(capsys, "create", "--name", "dashboard", "--role", "partner")
    new = created(capsys, "rotate", "dashboard")
    assert new.startswith("mar_") and new != old
    assert asyncio.run(post_with(fresh_db_url, settings, f"Bearer {old}")).status_code == 401
    assert asyncio.run(post_with(fresh_db_url, settings, f"Bearer {new}")).status_code == 200
    rows = asyncio.run(key_rows(fresh_db_url))
    assert [(r["name"], r["role"], r["revoked_at"] is None) for r in rows] == [
        ("dashboard", "partner", False),
        ("dashboard", "partner", True),
    ] or [(r["name"], r["role"], r["revoked_at"] is None) for r in rows] == [
        ("dashboard", "partner", True),
        ("dashboard", "partner", False),
    ]
    assert main(["keys", "rotate", "nobody"]) == 1
    assert "no key in use is named 'nobody'" in capsys.readouterr().err
    assert main(["keys", "list"]) == 0
    assert capsys.readouterr().out.count("dashboard") == 2


def test_a_revoked_keys_name_can_be_given_again(
    fresh_db_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    first = created(capsys, "create", "--name", "field office", "--role", "editor")
    assert main(["keys", "create", "--name", "field office", "--role", "editor"]) == 1
    assert "exists already and is in use" in capsys.readouterr().err
    assert main(["keys", "revoke", "field office"]) == 0
    capsys.readouterr()
    again = created(capsys, "create", "--name", "field office", "--role", "admin")
    assert asyncio.run(post_with(fresh_db_url, settings, f"Bearer {first}")).status_code == 401
    assert asyncio.run(post_with(fresh_db_url, settings, f"Bearer {again}")).status_code == 200
    # Revoking it again revokes the one in use, then says so of the newest.
    assert main(["keys", "revoke", "field office"]) == 0
    assert main(["keys", "revoke", "field office"]) == 0
    capsys.readouterr()
    assert asyncio.run(post_with(fresh_db_url, settings, f"Bearer {again}")).status_code == 401


async def test_the_database_holds_one_key_in_use_per_name(
    db: asyncpg.Connection[asyncpg.Record],
) -> None:
    await make_key(db, "twice", "partner")
    with pytest.raises(asyncpg.UniqueViolationError):
        await make_key(db, "twice", "partner")
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'twice'")
    await make_key(db, "twice", "partner")
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'twice'")
    await make_key(db, "twice", "partner")
    assert await db.fetchval("SELECT count(*) FROM api_keys WHERE name = 'twice'") == 3


async def test_a_rotated_key_loses_its_open_socket_within_a_second(
    server: str,
    db: asyncpg.Connection[asyncpg.Record],
    fresh_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = await make_key(db, "kiosk", "partner")
    ws = await open_socket(server, key)
    try:
        await subscribed(ws, server)
        monkeypatch.setenv("DATABASE_URL", fresh_db_url)
        assert await asyncio.to_thread(main, ["keys", "rotate", "kiosk"]) == 0
        rotated_at = time.monotonic()
        code, _received = await closing(ws, CLOSED_WITHIN_S)
        assert code == 4401
        assert time.monotonic() - rotated_at < CLOSED_WITHIN_S
    finally:
        await ws.close()
