"""SQL for the audit log (written by the triggers of migration 0003; read newest first)."""

from __future__ import annotations

from dataclasses import dataclass

from db.queries.sql import Params, where_clause

COLUMNS = (
    "a.id, a.occurred_at, a.actor, a.action, a.entity, a.entity_id, a.before, a.after, a.request_id"
)

# The record types the audit triggers of migration 0003 name, as the API calls them (the GraphQL
# type names), in the order of the migration.
ENTITIES = (
    "Organisation",
    "Team",
    "Zone",
    "Task",
    "TaskTeam",
    "ProgressReport",
    "DeviceFind",
    "LandRelease",
    "Incident",
    "Casualty",
    "ApiKey",
)

# The transaction-local settings the audit triggers read: who writes, for which request.
SET_ACTOR = "SELECT set_config('mar.actor', $1, true), set_config('mar.request_id', $2, true)"


@dataclass(frozen=True)
class AuditCriteria:
    """Which entries to list: one entity type, optionally one record of it."""

    entity: str | None = None
    entity_id: str | None = None


def conditions(criteria: AuditCriteria, params: Params) -> list[str]:
    """Return the WHERE conditions of `criteria`, adding their values to `params`."""
    out: list[str] = []
    if criteria.entity is not None:
        out.append(f"a.entity = {params.add(criteria.entity)}")
    if criteria.entity_id is not None:
        out.append(f"a.entity_id = {params.add(criteria.entity_id)}")
    return out


def page(conditions: list[str], params: Params, after_id: int | None, limit: int) -> str:
    """Return the statement of one page, newest first, after the entry `after_id`."""
    keyset = [*conditions]
    if after_id is not None:
        keyset.append(f"a.id < {params.add(after_id)}")
    return (
        f"SELECT {COLUMNS} FROM audit_log AS a {where_clause(keyset)} "
        f"ORDER BY a.id DESC LIMIT {params.add(limit)}"
    )


def count(conditions: list[str]) -> str:
    """Return the statement counting the entries that match."""
    return f"SELECT count(*) FROM audit_log AS a {where_clause(conditions)}"
