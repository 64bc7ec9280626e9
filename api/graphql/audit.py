"""The audit log for administrators: auditLog(entity, entityId), newest first (API.md "Access")."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import asyncpg
import strawberry
from strawberry.scalars import JSON

from api.errors import Problems
from api.graphql.context import Info
from api.graphql.ids import parse_id
from api.graphql.pagination import (
    Connection,
    connection,
    decode_cursor,
    encode_cursor,
    page_size,
)
from db.queries import audit as audit_sql
from db.queries.sql import Params

LIST_NAME = "auditLog"
ORDER = "NEWEST_FIRST"


@strawberry.type(description="One change to a record, as the database recorded it.")
class AuditEntry:
    id: strawberry.ID
    occurred_at: datetime
    actor: str = strawberry.field(description="The key that wrote, or db:<user> outside the API.")
    action: str = strawberry.field(description="create, update or delete.")
    entity: str = strawberry.field(description="The record type: Zone, Task, Incident, …")
    entity_id: strawberry.ID | None
    before: JSON | None = strawberry.field(
        description="The record before the change (for an update, only the changed fields)."
    )
    after: JSON | None = strawberry.field(
        description="The record after the change (for an update, only the changed fields)."
    )
    request_id: str | None = strawberry.field(description="The request that made the change.")

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> AuditEntry:
        """Build an entry from a row of audit_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            occurred_at=row["occurred_at"],
            actor=row["actor"],
            action=row["action"],
            entity=row["entity"],
            entity_id=strawberry.ID(row["entity_id"]) if row["entity_id"] is not None else None,
            before=row["before"],
            after=row["after"],
            request_id=row["request_id"],
        )


@strawberry.type(name="AuditConnection", description="A page of the audit log, newest first.")
class AuditConnection(Connection[AuditEntry]):
    pass


async def audit_log(
    info: Info,
    entity: str | None = None,
    entity_id: strawberry.ID | None = None,
    first: int | None = 50,
    after: str | None = None,
) -> AuditConnection:
    """Recorded writes, newest first: all of them, one record type's, or one record's."""
    problems = Problems("")
    if entity is not None and entity not in audit_sql.ENTITIES:
        # Never an empty list for a misspelt name: the caller would take it for "no changes".
        problems.add(
            "entity",
            f"is not a record type of the audit log; give one of {', '.join(audit_sql.ENTITIES)}",
        )
    if entity_id is not None and entity is None:
        problems.add("entityId", "needs entity: ids are unique per record type only")
    problems.raise_if_any()
    record_id = str(parse_id(entity_id, "entityId")) if entity_id is not None else None
    limit = page_size(first, info.context.settings.max_page_size)
    after_id = None
    if after is not None:
        _value, after_id = decode_cursor(after, LIST_NAME, ORDER, "int")
    criteria = audit_sql.AuditCriteria(entity=entity, entity_id=record_id)
    params = Params()
    sql = audit_sql.page(audit_sql.conditions(criteria, params), params, after_id, limit + 1)
    async with info.context.db.acquire() as conn:
        rows = await conn.fetch(sql, *params.values)

    async def count_total() -> int:
        count_params = Params()
        count_sql = audit_sql.count(audit_sql.conditions(criteria, count_params))
        async with info.context.db.acquire() as conn:
            return int(await conn.fetchval(count_sql, *count_params.values))

    page = connection(
        [AuditEntry.from_record(r) for r in rows],
        lambda index: encode_cursor(LIST_NAME, ORDER, rows[index]["id"], rows[index]["id"]),
        limit=limit,
        has_previous=after is not None,
        count_total=count_total,
    )
    # The same page under the contract's name (AuditConnection, not AuditEntryConnection).
    return AuditConnection(
        **{f.name: getattr(page, f.name) for f in dataclasses.fields(page) if f.init}
    )


@strawberry.type
class AuditQueries:
    audit_log: AuditConnection = strawberry.field(
        resolver=audit_log, description="The audit log (admin only)."
    )
