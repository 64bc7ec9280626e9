"""Incident use-cases shared by GraphQL, REST and the CLI: validate, then write atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from api.errors import ConflictError, NotFoundError, Problems
from api.services.casualties import (
    DEFAULT_MAX_CASUALTIES,
    NewCasualty,
    check_casualty,
    check_casualty_count,
    insert_casualty,
)
from api.services.geometry import check_geometry
from api.services.rules import check_code, check_enum, check_event_date
from api.services.transaction import write_transaction
from db.pool import Connection
from db.queries import incidents as incident_sql

INCIDENT_TYPES = (
    "DEMINING_ACCIDENT",
    "MINE_ACCIDENT",
    "CLUSTER_ACCIDENT",
    "IED_ACCIDENT",
    "UXO_AXO_ACCIDENT",
    "STORED_AMMUNITION_ACCIDENT",
    "OTHER",
)
DEMINING_ACCIDENT = "DEMINING_ACCIDENT"
DEVICE_CATEGORIES = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "SAA", "OTHER", "UNKNOWN")
ACTIVITIES = (
    "FARMING",
    "HERDING",
    "TRAVELLING",
    "DEMINING",
    "PLAYING",
    "COLLECTING",
    "CONSTRUCTION",
    "TAMPERING",
    "OTHER",
    "UNKNOWN",
)
POINT = ("Point",)


@dataclass(frozen=True)
class NewIncident:
    """What a client supplies to record an accident, with its casualties."""

    code: str
    incident_type: str
    occurred_on: date
    location: Any
    zone_id: int | None = None
    task_id: int | None = None
    device_category: str = "UNKNOWN"
    activity: str = "UNKNOWN"
    admin1: str | None = None
    admin2: str | None = None
    admin_pcode: str | None = None
    description: str | None = None
    source: str | None = None
    verified: bool = False
    casualties: list[NewCasualty] = field(default_factory=list)


# The fields that may not be null, by column, with the input field name a client sees.
_REQUIRED = {
    "incident_type": "incidentType",
    "occurred_on": "occurredOn",
    "location": "location",
    "device_category": "deviceCategory",
    "activity": "activity",
    "verified": "verified",
}


def _check_fields(values: dict[str, Any], problems: Problems) -> None:
    """Check each settable field present in `values` (record and update share this)."""
    nulls = {column for column in _REQUIRED if column in values and values[column] is None}
    for column in nulls:
        problems.add(_REQUIRED[column], "must not be null")
    values = {k: v for k, v in values.items() if k not in nulls}
    if "incident_type" in values:
        check_enum(values["incident_type"], "incidentType", INCIDENT_TYPES, problems)
    if "device_category" in values:
        check_enum(values["device_category"], "deviceCategory", DEVICE_CATEGORIES, problems)
    if "activity" in values:
        check_enum(values["activity"], "activity", ACTIVITIES, problems)
    if "occurred_on" in values:
        check_event_date(values["occurred_on"], "occurredOn", problems)


def _check_task_type(
    incident_type: str, task_id: int | None, field: str, problems: Problems
) -> None:
    """Only a demining accident happens on a task; `field` is the one the client should fix."""
    if task_id is not None and incident_type != DEMINING_ACCIDENT:
        if field == "taskId":
            problems.add(field, f"may be given only for a {DEMINING_ACCIDENT}")
        else:
            problems.add(field, f"must be {DEMINING_ACCIDENT} while the incident has a task")


async def _check_references(
    conn: Connection, zone_id: int | None, task_id: int | None, problems: Problems
) -> None:
    """Check the zone and the task the incident would point to, as the database will."""
    if zone_id is None and task_id is None:
        return
    row = await conn.fetchrow(incident_sql.REFERENCES, zone_id, task_id)
    assert row is not None
    if zone_id is not None and not row["zone_exists"]:
        problems.add("zoneId", "does not refer to an existing zone")
    if task_id is not None and not row["task_exists"]:
        problems.add("taskId", "does not refer to an existing task")
    elif task_id is not None and zone_id is not None and row["task_zone_id"] != zone_id:
        problems.add("taskId", "refers to a task in another zone")


async def record_incident(
    conn: Connection, incident: NewIncident, *, max_casualties: int = DEFAULT_MAX_CASUALTIES
) -> asyncpg.Record:
    """Record an incident and its casualties, all or nothing, and return the incident.

    When no zone is given and the location lies inside a zone, that zone is linked (by the
    database, so that it holds for every writer). Raise BadUserInput naming every bad field
    (`input.casualties[2].age`), ConflictError for a code already used.
    """
    problems = Problems("input")
    check_code(incident.code, "code", problems)
    _check_fields(
        {k: v for k, v in vars(incident).items() if k in _REQUIRED or k == "code"}, problems
    )
    location = None
    if incident.location is not None:
        location = await check_geometry(conn, incident.location, "location", POINT, problems)
    _check_task_type(incident.incident_type, incident.task_id, "taskId", problems)
    await _check_references(conn, incident.zone_id, incident.task_id, problems)
    check_casualty_count(len(incident.casualties), "casualties", problems, max_casualties)
    for index, casualty in enumerate(incident.casualties):
        check_casualty(casualty, f"casualties[{index}].", problems)
    problems.raise_if_any()
    async with write_transaction(conn):
        row = await conn.fetchrow(
            incident_sql.INSERT,
            incident.code,
            incident.incident_type,
            incident.occurred_on,
            location,
            incident.zone_id,
            incident.task_id,
            incident.device_category,
            incident.activity,
            incident.admin1,
            incident.admin2,
            incident.admin_pcode,
            incident.description,
            incident.source,
            incident.verified,
        )
        assert row is not None
        for index, casualty in enumerate(incident.casualties):
            await insert_casualty(conn, row["id"], casualty, f"input.casualties[{index}]")
    return row


async def update_incident(
    conn: Connection, incident_id: int, version: int, changes: dict[str, Any]
) -> asyncpg.Record:
    """Apply `changes` (column -> value) if `version` is current; return the updated incident.

    Raise BadUserInput naming each bad field, NotFoundError for an unknown incident,
    ConflictError when someone else saved first. Nothing is written unless all is accepted.
    Sending `zoneId: null` lets the database link the zone the location lies in again.
    """
    unknown = set(changes) - set(incident_sql.SETTABLE)
    if unknown:
        raise ValueError(f"not settable: {sorted(unknown)}")
    current = await conn.fetchrow(incident_sql.BY_ID, incident_id)
    if current is None:
        raise NotFoundError(f"no incident has id {incident_id}")
    problems = Problems("input")
    _check_fields(changes, problems)
    if changes.get("location") is not None:
        checked = await check_geometry(conn, changes["location"], "location", POINT, problems)
        changes = {**changes, "location": checked}
    # The cross-field rules hold for the incident as it would be after the change.
    merged = {**dict(current), **changes}
    if merged["incident_type"] is not None:
        field = "taskId" if "task_id" in changes else "incidentType"
        _check_task_type(merged["incident_type"], merged["task_id"], field, problems)
    if "zone_id" in changes or "task_id" in changes:
        await _check_references(conn, merged["zone_id"], merged["task_id"], problems)
    problems.raise_if_any()
    sql, params = incident_sql.update(changes, incident_id, version)
    async with write_transaction(conn):
        row = await conn.fetchrow(sql, *params)
    if row is None:
        latest = await conn.fetchval(incident_sql.VERSION_OF, incident_id)
        if latest is None:
            raise NotFoundError(f"no incident has id {incident_id}")
        raise ConflictError(
            f"version {version} of incident {incident_id} is no longer current (it is {latest}); "
            "read the incident again and reapply your change"
        )
    return row
