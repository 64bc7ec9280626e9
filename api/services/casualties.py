"""Casualty use-cases: check a casualty, and add one to an incident in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from api.errors import NotFoundError, Problems, from_domain
from api.services.rules import check_enum
from api.services.transaction import write_transaction
from db.errors import translate
from db.pool import Connection
from db.queries import casualties as casualty_sql

OUTCOMES = ("KILLED", "INJURED", "UNKNOWN")
CATEGORIES = ("CIVILIAN", "MILITARY", "DEMINER", "UNKNOWN")
SEXES = ("FEMALE", "MALE", "UNKNOWN")
MAX_AGE = 120
# Casualties one incident may have unless MAR_MAX_CASUALTIES_PER_INCIDENT says otherwise; the
# database's trigger holds the same number (migration 0008).
DEFAULT_MAX_CASUALTIES = 1000


@dataclass(frozen=True)
class NewCasualty:
    """One person killed or injured, as a client supplies them; age_group is derived."""

    outcome: str = "UNKNOWN"
    category: str = "UNKNOWN"
    sex: str = "UNKNOWN"
    age: int | None = None
    full_name: str | None = None
    notes: str | None = None


def check_casualty(casualty: NewCasualty, path: str, problems: Problems) -> None:
    """Record every bad field of `casualty`; `path` prefixes the field names (`casualties[2].`)."""
    check_enum(casualty.outcome, f"{path}outcome", OUTCOMES, problems)
    check_enum(casualty.category, f"{path}category", CATEGORIES, problems)
    check_enum(casualty.sex, f"{path}sex", SEXES, problems)
    if casualty.age is not None and not 0 <= casualty.age <= MAX_AGE:
        problems.add(f"{path}age", f"must be between 0 and {MAX_AGE}")


def check_casualty_count(count: int, field: str, problems: Problems, max_casualties: int) -> None:
    """An incident has at most `max_casualties` casualties: one row per person stays countable."""
    if count > max_casualties:
        problems.add(
            field,
            f"an incident may have at most {max_casualties} casualties; "
            f"this one would have {count}",
        )


async def insert_casualty(
    conn: Connection, incident_id: int, casualty: NewCasualty, path: str
) -> asyncpg.Record:
    """Insert one checked casualty inside the caller's transaction.

    A refusal by the database names the field under `path` (`input.casualties[2].age`).
    """
    try:
        row = await conn.fetchrow(
            casualty_sql.INSERT,
            incident_id,
            casualty.outcome,
            casualty.category,
            casualty.sex,
            casualty.age,
            casualty.full_name,
            casualty.notes,
        )
    except asyncpg.PostgresError as exc:
        domain = translate(exc)
        if domain is None:
            raise
        raise from_domain(domain, prefix=path) from exc
    assert row is not None
    return row


async def add_casualty(
    conn: Connection,
    incident_id: int,
    casualty: NewCasualty,
    *,
    max_casualties: int = DEFAULT_MAX_CASUALTIES,
) -> asyncpg.Record:
    """Add a casualty to an existing incident and return it.

    Raise BadUserInput naming each bad field (`incidentId` when the incident already has as
    many casualties as one may have), NotFoundError for an unknown incident.
    """
    problems = Problems("input")
    check_casualty(casualty, "", problems)
    problems.raise_if_any()
    recorded = await conn.fetchval(casualty_sql.COUNT_OF_INCIDENT, incident_id)
    if recorded is None:
        raise NotFoundError(f"no incident has id {incident_id}")
    on_incident = Problems("")
    check_casualty_count(recorded + 1, "incidentId", on_incident, max_casualties)
    on_incident.raise_if_any()
    async with write_transaction(conn):
        return await insert_casualty(conn, incident_id, casualty, "input")
