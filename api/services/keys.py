"""API key use-cases (the CLI's `mar keys`): create, list, revoke. Secrets are never stored."""

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
        raise ConflictError(f"a key named {name!r} exists already") from None
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
