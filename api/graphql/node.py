"""Relay global object identification: `node(id:)` and `nodes(ids:)` over every record type.

Ids are global ids (api/graphql/node_interface.py). Each type's records are read by a
per-request DataLoader, so `nodes(ids:)` takes one statement per type, whatever the number of
ids. A type the caller's role may not read resolves to null with FORBIDDEN (per item in
`nodes`); an id of no record resolves to null.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg
import strawberry

from api.auth import may_read
from api.errors import BadUserInput, FieldError, Forbidden
from api.graphql.casualty import Casualty
from api.graphql.context import Info
from api.graphql.ids import parse_id
from api.graphql.incident import Incident
from api.graphql.land_release import LandRelease
from api.graphql.loaders import one_per_key
from api.graphql.node_interface import Node
from api.graphql.organisation import organisations_by_id
from api.graphql.progress_report import ProgressReport
from api.graphql.task import tasks_by_id
from api.graphql.team import teams_by_id
from api.graphql.zone import zones_by_id
from db.pool import ConnectionSource
from db.queries import nodes as node_sql


def _by_ids(sql: str, build: Callable[[asyncpg.Record], Any]) -> Callable[..., Awaitable[Any]]:
    async def batch(db: ConnectionSource, keys: list[int]) -> list[Any]:
        async with db.acquire() as conn:
            rows = await conn.fetch(sql, keys)
        return [build(r) if r else None for r in one_per_key(rows, keys, "id")]

    return batch


incidents_by_id = _by_ids(node_sql.INCIDENTS, Incident.from_record)
progress_reports_by_id = _by_ids(node_sql.PROGRESS_REPORTS, ProgressReport.from_record)
land_releases_by_id = _by_ids(node_sql.LAND_RELEASES, LandRelease.from_record)
casualties_by_id = _by_ids(node_sql.CASUALTIES, Casualty.from_record)

# Each record type, by its GraphQL name, and the batch that reads its records by id.
LOADERS: dict[str, Callable[..., Awaitable[Any]]] = {
    "Zone": zones_by_id,
    "Organisation": organisations_by_id,
    "Team": teams_by_id,
    "Task": tasks_by_id,
    "Incident": incidents_by_id,
    "ProgressReport": progress_reports_by_id,
    "LandRelease": land_releases_by_id,
    "Casualty": casualties_by_id,
}


def decode(value: str, field: str) -> tuple[str, int]:
    """(type name, record id) of a global id, or raise BadUserInput on `field`."""
    try:
        text = base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    type_name, _, record = text.partition(":")
    if type_name not in LOADERS:
        raise BadUserInput([FieldError(field, "is not the global id of a record (`nodeId`)")])
    return type_name, parse_id(record, field)


async def _load(info: Info, type_name: str, record_id: int) -> Node | None:
    if not may_read(info.context.role, type_name):
        raise Forbidden(f"the {info.context.role} role may not read {type_name} records")
    found: Node | None = await info.context.loaders.get(LOADERS[type_name]).load(record_id)
    return found


@strawberry.type
class NodeQueries:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, record_id = decode(id, "id")
        return await _load(info, type_name, record_id)

    @strawberry.field
    def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        limit = info.context.settings.max_page_size
        if len(ids) > limit:
            raise BadUserInput([FieldError("ids", f"holds more than {limit} ids")])
        wanted = [decode(value, f"ids.{i}") for i, value in enumerate(ids)]
        # Awaitables, one per item: each fails alone (FORBIDDEN at its own path), and the
        # loaders gather them into one statement per type.
        # Strawberry awaits each item of the list it is given.
        return cast(list[Node | None], [_load(info, name, record) for name, record in wanted])
