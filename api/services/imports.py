"""Bulk imports shared by REST and the CLI: a GeoJSON FeatureCollection upserted by `code`.

All or nothing: every feature goes through the zone/incident use-cases (the same checks as
GraphQL) inside one transaction; every bad feature is reported with its index and field, and
when there is any, or for a dry run, the transaction is rolled back so nothing is written.
Properties are those of the exports (snake_case); read-only ones (areas, status, version, …)
are ignored, so that an export imports as it is. A record that exists changes only in the
properties the feature has; a new one takes the defaults for the others. A record whose
given values (geometry and casualties included) are all those stored is left untouched: no
version, no audit entry, no event; the report counts it as unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from api import json_body
from api.errors import ApiError, BadUserInput, FieldError, Problems
from api.services.casualties import (
    DEFAULT_MAX_CASUALTIES,
    NewCasualty,
    check_casualty,
    check_casualty_count,
    insert_casualty,
)
from api.services.geometry import structure_problem
from api.services.incidents import POINT, NewIncident, record_incident, update_incident
from api.services.zones import AREA_SHAPES, NewZone, create_zone, update_zone
from db.pool import Connection
from db.queries import imports as import_sql

KINDS = ("zones", "incidents")

ZONE_FIELDS = {
    "code": "text",
    "name": "text",
    "description": "text",
    "hazard_type": "text",
    "contamination": "text_list",
    "priority": "integer",
    "land_use": "text",
    "admin1": "text",
    "admin2": "text",
    "admin_pcode": "text",
    "recorded_on": "date",
}
ZONE_REQUIRED = ("name", "hazard_type", "contamination")
ZONE_READ_ONLY = frozenset(
    {"status", "estimated_area_m2", "released_area_m2", "remaining_area_m2", "status_changed_on",
     "version", "created_at", "updated_at"}
)  # fmt: skip

INCIDENT_FIELDS = {
    "code": "text",
    "incident_type": "text",
    "occurred_on": "date",
    "zone_code": "text",
    "task_code": "text",
    "device_category": "text",
    "activity": "text",
    "admin1": "text",
    "admin2": "text",
    "admin_pcode": "text",
    "description": "text",
    "source": "text",
    "verified": "boolean",
    "casualties": "casualties",
}
INCIDENT_REQUIRED = ("incident_type", "occurred_on")
INCIDENT_READ_ONLY = frozenset({"killed", "injured", "version", "created_at", "updated_at"})
CASUALTY_FIELDS = {
    "outcome": "text",
    "category": "text",
    "sex": "text",
    "age": "integer",
    "full_name": "text",
    "notes": "text",
}
CASUALTY_READ_ONLY = frozenset({"age_group"})
_EXPECTED = {
    "text": "a string",
    "integer": "a whole number",
    "boolean": "true or false",
    "text_list": "a list of strings",
    "date": "a date YYYY-MM-DD",
    "casualties": "a list of casualties",
}

# The use-cases name fields as GraphQL does (`input.zoneId`); a report names them as the file.
_RENAMED = {"zoneId": "zone_code", "taskId": "task_code", "location": "geometry"}
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


@dataclass(frozen=True)
class FeatureError:
    """One bad value: the feature's index in `features`, the field path, and why."""

    index: int
    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[FeatureError] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        """The report as a client reads it."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [
                {"index": e.index, "field": e.field, "message": e.message} for e in self.errors
            ],
            "dryRun": self.dry_run,
        }


@dataclass
class Feature:
    """One feature read from the file: its index, code, writable properties, geometry."""

    index: int
    code: str
    values: dict[str, Any]
    geometry: Any
    has_geometry: bool


class _Rollback(Exception):
    """Leave the import's transaction without writing anything."""


def report_field(path: str) -> str:
    """A use-case's field name -> the file's: `input.casualties[1].age` ->
    `properties.casualties[1].age`, `input.hazardType` -> `properties.hazard_type`."""
    name = path.removeprefix("input").removeprefix(".")
    head, dot, rest = name.partition(".")
    base, bracket, index = head.partition("[")
    base = _RENAMED.get(base) or _CAMEL.sub(lambda m: "_" + m.group(1).lower(), base)
    name = base + bracket + index + dot + rest
    return name if name == "geometry" else f"properties.{name}"


def _value(kind: str, value: Any, path: str, problems: Problems) -> Any:
    """Check the JSON type of one property value and convert it (ISO dates, casualties)."""
    if value is None:
        return None
    if kind == "text" and isinstance(value, str):
        if "\x00" in value:
            problems.add(path, "must not contain NUL characters")
            return None
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "text_list" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if kind == "date" and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    elif kind == "casualties" and isinstance(value, list):
        return [_casualty(item, f"{path}[{n}]", problems) for n, item in enumerate(value)]
    problems.add(path, f"must be {_EXPECTED[kind]}")
    return None


def _casualty(item: Any, path: str, problems: Problems) -> NewCasualty:
    if not isinstance(item, dict):
        problems.add(path, "must be an object")
        return NewCasualty()
    values = _properties(item, CASUALTY_FIELDS, CASUALTY_READ_ONLY, f"{path}.", problems)
    for name in ("outcome", "category", "sex"):
        if values.get(name) is None:
            values.pop(name, None)  # left out or null: UNKNOWN
    return NewCasualty(**values)


def _properties(
    raw: dict[str, Any],
    fields: dict[str, str],
    read_only: frozenset[str],
    prefix: str,
    problems: Problems,
) -> dict[str, Any]:
    """The known, writable properties of `raw`, converted; an unknown one is a problem."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in read_only:
            continue
        kind = fields.get(name)
        if kind is None:
            problems.add(f"{prefix}{name}", "is not a property of this record")
            continue
        values[name] = _value(kind, value, f"{prefix}{name}", problems)
    return values


EXPECTED_FORMAT = (
    "imports read a GeoJSON FeatureCollection, as `GET /exports/{kind}.geojson` and "
    "`mar export {kind} -o {kind}.geojson` write it"
)


def decode_collection(data: bytes, kind: str) -> Any:
    """The JSON of an import's body; raise BadUserInput naming `body` and the format imports
    read when it is not JSON (a CSV export, say)."""
    try:
        return json_body.decode(data)
    except json_body.BadJson as exc:
        expected = EXPECTED_FORMAT.format(kind=kind)
        head = data[:200].lstrip().split(b"\n", 1)[0]
        if b"," in head and head[:1] not in (b"{", b"["):
            message = f"looks like CSV, which cannot be imported: {expected}"
        elif str(exc).startswith("is not JSON"):
            message = f"{exc}; {expected}"
        else:  # JSON, but nested too deeply: the reason is enough
            message = str(exc)
        raise BadUserInput([FieldError("body", message)]) from None


def read_features(body: Any, kind: str, report: ImportReport) -> list[Feature]:
    """Check the collection's shape and each feature's properties; record every problem.

    Raise BadUserInput naming `body` when it is not a FeatureCollection at all.
    """
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise BadUserInput([FieldError("body", "must be a GeoJSON FeatureCollection")])
    features = body.get("features")
    if not isinstance(features, list):
        raise BadUserInput([FieldError("body.features", "must be a list of features")])
    fields, read_only = (
        (ZONE_FIELDS, ZONE_READ_ONLY) if kind == "zones" else (INCIDENT_FIELDS, INCIDENT_READ_ONLY)
    )
    out: list[Feature] = []
    first_at: dict[str, int] = {}
    for index, raw in enumerate(features):
        problems = Problems(prefix="")
        if not isinstance(raw, dict):
            report.errors.append(FeatureError(index, "type", "must be a GeoJSON Feature object"))
            continue
        feature: dict[str, Any] = raw
        if feature.get("type") != "Feature":
            problems.add("type", "must be a GeoJSON Feature")
        properties = feature.get("properties")
        if not isinstance(properties, dict):
            problems.add("properties", "must be an object")
            properties = {}
        values = _properties(properties, fields, read_only, "properties.", problems)
        code = values.get("code")
        if "code" not in values:
            problems.add("properties.code", "is required: records are matched by their code")
        elif isinstance(code, str) and code in first_at:
            problems.add("properties.code", f"appears again (first at index {first_at[code]})")
        elif isinstance(code, str):
            first_at[code] = index
        report.errors.extend(FeatureError(index, f.field, f.message) for f in problems.fields)
        if not problems and isinstance(code, str):
            out.append(Feature(index, code, values, feature.get("geometry"), "geometry" in feature))
    return out


async def run_import(
    conn: Connection,
    kind: str,
    body: Any,
    *,
    dry_run: bool = False,
    on_feature: Callable[[], None] | None = None,
    max_casualties: int = DEFAULT_MAX_CASUALTIES,
) -> ImportReport:
    """Upsert every feature of `body` (a FeatureCollection) by code, all or nothing.

    Return the report; its `errors` list every bad feature, and then nothing was written.
    A dry run does everything but commit, so it reports exactly what an import would.
    """
    if kind not in KINDS:
        raise ValueError(f"cannot import {kind!r}")
    report = ImportReport(dry_run=dry_run)
    features = read_features(body, kind, report)
    try:
        async with conn.transaction():
            writer = _Zones(conn) if kind == "zones" else _Incidents(conn, max_casualties)
            await writer.prepare(features)
            for feature in features:
                problems = await writer.write(feature, report)
                report.errors.extend(FeatureError(feature.index, f, m) for f, m in problems)
                if on_feature is not None:
                    on_feature()
            if report.errors or dry_run:
                raise _Rollback
    except _Rollback:
        pass
    report.errors.sort(key=lambda e: e.index)
    if report.errors:
        report.created = report.updated = report.unchanged = 0
    return report


def _problems_of(exc: ApiError) -> list[tuple[str, str]]:
    """The (field, message) pairs of a use-case's refusal, in the file's names."""
    if isinstance(exc, BadUserInput):
        return [(report_field(f.field), f.message) for f in exc.fields]
    return [("properties.code", exc.message)]


def _missing(values: dict[str, Any], required: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(f"properties.{name}", "is required for a new record") for name in required
            if values.get(name) is None]  # fmt: skip


def _geometries(features: list[Feature], shapes: tuple[str, ...]) -> list[str | None]:
    """Each feature's geometry as GeoJSON text for the database to compare, or None when there
    is none, or when it is malformed (the use-case then refuses it with its reason)."""
    return [
        json.dumps(f.geometry)
        if f.has_geometry and structure_problem(f.geometry, shapes) is None
        else None
        for f in features
    ]


async def _current(
    conn: Connection, sql: str, features: list[Feature], shapes: tuple[str, ...]
) -> list[asyncpg.Record]:
    """The stored records of `features` (one statement), each with whether its geometry is
    the given one; a geometry PostGIS cannot read is compared as different (the use-case
    then refuses it with its reason)."""
    codes = [f.code for f in features]
    try:
        async with conn.transaction():  # a savepoint: the import goes on after an error
            return list(await conn.fetch(sql, codes, _geometries(features, shapes)))
    except asyncpg.DataError:
        return list(await conn.fetch(sql, codes, [None] * len(codes)))
    except asyncpg.PostgresError as exc:
        if exc.sqlstate != "XX000":  # PostGIS reports unreadable GeoJSON as internal_error
            raise
        return list(await conn.fetch(sql, codes, [None] * len(codes)))


def _same(values: dict[str, Any], stored: asyncpg.Record) -> bool:
    """Whether every given value is the one stored (contamination as a set, as it is kept)."""
    for name, value in values.items():
        if name == "contamination" and isinstance(value, list):
            if set(value) != set(stored[name] or ()):
                return False
        elif value != stored[name]:
            return False
    return True


class _Zones:
    """Create or update zones through the zone use-cases."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.existing: dict[str, asyncpg.Record] = {}

    async def prepare(self, features: list[Feature]) -> None:
        rows = await _current(self.conn, import_sql.ZONES_CURRENT, features, AREA_SHAPES)
        self.existing = {row["code"]: row for row in rows}

    async def write(self, feature: Feature, report: ImportReport) -> list[tuple[str, str]]:
        values = {k: v for k, v in feature.values.items() if k != "code"}
        current = self.existing.get(feature.code)
        try:
            if current is None:
                missing = _missing(values, ZONE_REQUIRED)
                if not feature.has_geometry:
                    missing.append(("geometry", "is required for a new record"))
                if missing:
                    return missing
                await create_zone(
                    self.conn, NewZone(code=feature.code, geometry=feature.geometry, **values)
                )
                report.created += 1
            elif _same(values, current) and (
                not feature.has_geometry or current["same_geometry"] is True
            ):
                report.unchanged += 1
            else:
                if feature.has_geometry:
                    values["geometry"] = feature.geometry
                await update_zone(self.conn, current["id"], current["version"], values)
                report.updated += 1
        except ApiError as exc:
            return _problems_of(exc)
        except asyncpg.RaiseError as exc:  # a rule held by a trigger
            return [("properties", exc.message)]
        return []


class _Incidents:
    """Create or update incidents (and replace their casualties) through the use-cases."""

    def __init__(self, conn: Connection, max_casualties: int) -> None:
        self.conn = conn
        self.max_casualties = max_casualties
        self.existing: dict[str, asyncpg.Record] = {}
        self.zones: dict[str, int] = {}
        self.tasks: dict[str, int] = {}

    async def prepare(self, features: list[Feature]) -> None:
        rows = await _current(self.conn, import_sql.INCIDENTS_CURRENT, features, POINT)
        self.existing = {row["code"]: row for row in rows}
        zone_codes = [f.values["zone_code"] for f in features if f.values.get("zone_code")]
        rows = await self.conn.fetch(import_sql.ZONES_BY_CODES, zone_codes)
        self.zones = {row["code"]: row["id"] for row in rows}
        task_codes = [f.values["task_code"] for f in features if f.values.get("task_code")]
        rows = await self.conn.fetch(import_sql.TASKS_BY_CODES, task_codes)
        self.tasks = {row["code"]: row["id"] for row in rows}

    def _references(self, values: dict[str, Any], problems: list[tuple[str, str]]) -> None:
        """Turn zone_code/task_code into zone_id/task_id (None clears), or record the miss."""
        for name, known, column in (
            ("zone_code", self.zones, "zone_id"),
            ("task_code", self.tasks, "task_id"),
        ):
            if name not in values:
                continue
            code = values.pop(name)
            if code is not None and code not in known:
                problems.append((f"properties.{name}", f"no {name[:4]} has the code {code!r}"))
            values[column] = None if code is None else known.get(code)

    async def write(self, feature: Feature, report: ImportReport) -> list[tuple[str, str]]:
        values = {k: v for k, v in feature.values.items() if k != "code"}
        casualties: list[NewCasualty] | None = values.pop("casualties", None)
        problems: list[tuple[str, str]] = []
        self._references(values, problems)
        current = self.existing.get(feature.code)
        if current is None:
            problems += _missing(values, INCIDENT_REQUIRED)
            if not feature.has_geometry:
                problems.append(("geometry", "is required for a new record"))
        if problems:
            return problems
        try:
            if current is None:
                incident = NewIncident(
                    code=feature.code,
                    location=feature.geometry,
                    casualties=casualties or [],
                    **{k: v for k, v in values.items() if v is not None or k.endswith("_id")},
                )
                await record_incident(self.conn, incident, max_casualties=self.max_casualties)
                report.created += 1
                return []
            if (
                _same(values, current)
                and (not feature.has_geometry or current["same_geometry"] is True)
                and (casualties is None or _same_casualties(casualties, current["casualties"]))
            ):
                report.unchanged += 1
                return []
            if feature.has_geometry:
                values["location"] = feature.geometry
            await update_incident(self.conn, current["id"], current["version"], values)
            if casualties is not None:
                await self._replace_casualties(current["id"], casualties)
            report.updated += 1
        except ApiError as exc:
            return _problems_of(exc)
        except asyncpg.RaiseError as exc:  # a rule held by a trigger
            return [("properties", exc.message)]
        return []

    async def _replace_casualties(self, incident_id: int, casualties: list[NewCasualty]) -> None:
        checks = Problems("input")
        check_casualty_count(len(casualties), "casualties", checks, self.max_casualties)
        for n, casualty in enumerate(casualties):
            check_casualty(casualty, f"casualties[{n}].", checks)
        checks.raise_if_any()
        async with self.conn.transaction():
            await self.conn.execute(import_sql.DELETE_CASUALTIES, incident_id)
            for n, casualty in enumerate(casualties):
                await insert_casualty(self.conn, incident_id, casualty, f"input.casualties[{n}]")


def _same_casualties(given: list[NewCasualty], stored_json: str) -> bool:
    """Whether the given casualties are the stored ones, in the same order."""
    stored = [tuple(row) for row in json.loads(stored_json)]
    return stored == [(c.outcome, c.category, c.sex, c.age, c.full_name, c.notes) for c in given]


__all__ = [
    "KINDS",
    "decode_collection",
    "FeatureError",
    "ImportReport",
    "report_field",
    "run_import",
]
