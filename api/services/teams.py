"""Team use-cases shared by GraphQL, REST and the CLI: validate, then write in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from api.errors import ConflictError, NotFoundError, Problems
from api.services.rules import check_code, check_enum, check_text
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import organisations as organisation_sql
from db.queries import teams as team_sql

CAPABILITIES = ("MANUAL", "MDD", "MECHANICAL", "EOD", "NTS", "TS")
TEAM_STATUSES = ("ACTIVE", "STANDBY", "INACTIVE")
MIN_SIZE, MAX_SIZE = 1, 500


@dataclass(frozen=True)
class NewTeam:
    """What a client supplies to record a team of an organisation."""

    code: str
    name: str
    organisation_id: int
    size: int
    capabilities: list[str] = field(default_factory=list)
    status: str = "ACTIVE"
    accreditation_expires_on: date | None = None


# The fields that may not be null, by column, with the input field name a client sees.
_REQUIRED = {
    "name": "name",
    "organisation_id": "organisationId",
    "capabilities": "capabilities",
    "size": "size",
    "status": "status",
}


async def _check_fields(conn: Connection, values: dict[str, Any], problems: Problems) -> None:
    """Check each settable field present in `values` (create and update share this)."""
    nulls = {column for column in _REQUIRED if column in values and values[column] is None}
    for column in sorted(nulls):
        problems.add(_REQUIRED[column], "must not be null")
    values = {k: v for k, v in values.items() if k not in nulls}
    if "name" in values:
        check_text(values["name"], "name", problems, max_length=300)
    if "capabilities" in values:
        for value in values["capabilities"]:
            check_enum(value, "capabilities", CAPABILITIES, problems)
    if "size" in values and not MIN_SIZE <= values["size"] <= MAX_SIZE:
        problems.add("size", f"must be between {MIN_SIZE} and {MAX_SIZE} people")
    if "status" in values:
        check_enum(values["status"], "status", TEAM_STATUSES, problems)
    if "organisation_id" in values and not await conn.fetchval(
        organisation_sql.EXISTS, values["organisation_id"]
    ):
        problems.add("organisationId", "does not refer to an existing organisation")


def _ordered(capabilities: list[str]) -> list[str]:
    """Capabilities without duplicates, in the enumeration's order."""
    return sorted(set(capabilities), key=CAPABILITIES.index)


async def create_team(conn: Connection, team: NewTeam) -> asyncpg.Record:
    """Record a team and return it, or raise BadUserInput / ConflictError naming the field."""
    problems = Problems("input")
    check_code(team.code, "code", problems)
    await _check_fields(
        conn,
        {k: v for k, v in vars(team).items() if k not in ("code", "accreditation_expires_on")},
        problems,
    )
    problems.raise_if_any()
    async with write_transaction(conn):
        row = await conn.fetchrow(
            team_sql.INSERT,
            team.code,
            team.name,
            team.organisation_id,
            _ordered(team.capabilities),
            team.size,
            team.status,
            team.accreditation_expires_on,
        )
    assert row is not None
    return row


async def update_team(
    conn: Connection, team_id: int, version: int, changes: dict[str, Any]
) -> asyncpg.Record:
    """Apply `changes` (column -> value) if `version` is current; return the updated team.

    Raise BadUserInput naming each bad field, NotFoundError for an unknown team, ConflictError
    when someone else saved first. Nothing is written unless everything is accepted.
    """
    unknown = set(changes) - set(team_sql.SETTABLE)
    if unknown:
        raise ValueError(f"not settable: {sorted(unknown)}")
    problems = Problems("input")
    await _check_fields(conn, changes, problems)
    problems.raise_if_any()
    if changes.get("capabilities") is not None:
        changes = {**changes, "capabilities": _ordered(changes["capabilities"])}
    sql, params = team_sql.update(changes, team_id, version)
    async with write_transaction(conn):
        row = await conn.fetchrow(sql, *params)
    if row is None:
        current = await conn.fetchval(team_sql.VERSION_OF, team_id)
        if current is None:
            raise NotFoundError(f"no team has id {team_id}")
        raise ConflictError(
            f"version {version} of team {team_id} is no longer current (it is {current}); "
            "read the team again and reapply your change"
        )
    return row
