"""API key use-cases (the CLI's `mar keys`): create, list, revoke, rotate. Secrets are never
stored; a name is unique among the keys in use (a revoked key's name may be given again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from api.auth import ROLES, hash_secret, new_secret, shown_prefix
from api.errors import ConflictError, NotFoundError, Problems
from api.services.rules import check_text
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import keys as key_sql


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its secret nor its hash."""

    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    personal_data_reads: int

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> KeyInfo:
        """Build from a row of key_sql.COLUMNS."""
        return cls(
            name=row["name"],
            role=row["role"],
            prefix=row["key_prefix"],
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
            last_used_at=row["last_used_at"],
            personal_data_reads=row["personal_data_reads"],
        )


async def create_key(conn: Connection, name: str, role: str) -> tuple[KeyInfo, str]:
    """Make a key; return its description and the secret (shown once, never stored)."""
    problems = Problems("")
    check_text(name, "name", problems, max_length=100)
    if name.strip() and name != name.strip():
        problems.add("name", "must not start or end with a space")
    if role not in ROLES:
        problems.add("role", f"must be one of {', '.join(ROLES)}")
    problems.raise_if_any()
    secret = new_secret()
    try:
        async with write_transaction(conn):
            row = await conn.fetchrow(
                key_sql.INSERT, name, role, hash_secret(secret), shown_prefix(secret)
            )
    except ConflictError:
        raise ConflictError(
            f"a key named {name!r} exists already and is in use "
            "(`mar keys rotate` gives it a new secret)"
        ) from None
    assert row is not None
    return KeyInfo.from_record(row), secret


async def rotate_key(conn: Connection, name: str) -> tuple[KeyInfo, str]:
    """Revoke the key in use named `name` and make a new one of the same name and role, in one
    transaction; return the new key and its secret. The old key's open WebSockets are closed by
    the revocation's notification (migration 0007). NotFoundError when no key of that name is
    in use."""
    secret = new_secret()
    async with write_transaction(conn):
        role = await conn.fetchval(key_sql.REVOKE_FOR_ROTATION, name)
        if role is None:
            raise NotFoundError(f"no key in use is named {name!r}")
        row = await conn.fetchrow(
            key_sql.INSERT, name, role, hash_secret(secret), shown_prefix(secret)
        )
    assert row is not None
    return KeyInfo.from_record(row), secret


async def list_keys(conn: Connection) -> list[KeyInfo]:
    """Every key, revoked ones included, by name."""
    return [KeyInfo.from_record(r) for r in await conn.fetch(key_sql.LIST)]


async def revoke_key(conn: Connection, name: str) -> KeyInfo:
    """Revoke the key `name` from now on (a revoked key stays so); NotFoundError if none."""
    async with write_transaction(conn):
        row = await conn.fetchrow(key_sql.REVOKE, name)
    if row is None:
        existing = await conn.fetchrow(key_sql.BY_NAME, name)
        if existing is None:
            raise NotFoundError(f"no key is named {name!r}")
        return KeyInfo.from_record(existing)
    return KeyInfo.from_record(row)
