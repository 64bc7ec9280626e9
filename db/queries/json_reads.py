"""Reads answered as JSON text written by PostgreSQL, in one statement per top-level field.

The GraphQL read path (api/graphql/compiled.py) describes what a query selects as a tree of
Picks; `Writer` turns the tree into SQL whose value is the JSON text the executor would have sent
for it, byte for byte: json.dumps's separators (", " and ": "), floats as Python prints them
(`12.0`, not `12`), dates and times as isoformat() writes them (UTC), text escaped as
json.dumps(ensure_ascii=False) escapes it, GeoJSON as the executor re-encodes ST_AsGeoJSON.

The catalog says, for each record type, how each field is read (`Value`), and how each related
record or list is found (`One`, `Many`, `Page`). In those fragments `{a}` is the record's own
alias, `{p}` its parent's and `{c}` the related record's; aliases are made per statement.
Anything not in the catalog is not answered here: the executor answers it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from db.queries.listing import Listing, Order
from db.queries.sql import Params

# How a value is written as JSON text; {0} is its SQL expression.
TEXT = "to_json({0})::text"
NUMBER = "({0})::text"  # integers and booleans
QUOTED = "('\"' || ({0}) || '\"')"  # ids and enum values (safe characters only)
# Python writes a float with a fraction (12.0) and switches to exponents from 1e16 (and below
# 1e-4, as PostgreSQL does); PostgreSQL writes integral values bare and exponents from 1e15.
FLOAT = (
    "(CASE WHEN {0} = trunc({0}) AND abs({0}) < 1e15 THEN trunc({0})::text || '.0' "
    "ELSE ({0})::float8::text END)"
)
DATE = "to_json({0})::text"
# datetime.isoformat(): microseconds only when there are some, always six digits; UTC offset.
DATETIME = (
    "('\"' || to_char(({0}) AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {0}) = {0} "
    "THEN 'YYYY-MM-DD\"T\"HH24:MI:SS' ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS.US' END) || '+00:00\"')"
)
ENUMS = (
    "(CASE WHEN cardinality({0}) = 0 THEN '[]' "
    "ELSE '[\"' || array_to_string({0}, '\", \"') || '\"]' END)"
)
# ST_AsGeoJSON writes no spaces and only keys and numbers: json.dumps's separators put back.
GEOJSON = "replace(replace(ST_AsGeoJSON({0}), ',', ', '), ':', ': ')"


@dataclass(frozen=True)
class Value:
    """A field read from the record's row: `sql` (with {a}) written as JSON by `writes`."""

    sql: str
    writes: str
    nullable: bool = False


@dataclass(frozen=True)
class One:
    """A related record found by `source` (FROM ... WHERE, with {c} and {p}); maybe none."""

    record: str
    source: str
    nullable: bool = False


@dataclass(frozen=True)
class Many:
    """Related records: `source` (FROM and joins, with {c}) holds them, `parent` is the column
    naming the record they belong to, `order` sorts them; `status` filters them by an argument
    of statuses when one is given ({} is its parameter)."""

    record: str
    source: str
    parent: str
    order: str
    status: str | None = None


@dataclass(frozen=True)
class Page:
    """A page of related records (a connection without cursors): `source` in `order`."""

    record: str
    source: str
    order: str


@dataclass(frozen=True)
class Record:
    """A record type: its table and how each of its fields is read."""

    table: str
    type_name: str
    fields: dict[str, Value | One | Many | Page]


@dataclass(frozen=True)
class Pick:
    """One field of an answer: its response key and the catalog field it reads.

    `constant` is JSON text written as it is (__typename); `picks` select inside a related
    record, list or page; `statuses` and `limit` are a Many's filter and a Page's size.
    """

    key: str
    name: str
    picks: tuple[Pick, ...] = ()
    constant: str | None = None
    statuses: list[str] | None = None
    limit: int = 0


def _created(a: str = "{a}") -> dict[str, Value]:
    return {"created_at": Value(f"{a}.created_at", DATETIME)}


def _stamps() -> dict[str, Value]:
    return {
        "version": Value("{a}.version", NUMBER),
        **_created(),
        "updated_at": Value("{a}.updated_at", DATETIME),
    }


def _text(column: str, nullable: bool = False) -> Value:
    return Value(f"{{a}}.{column}", TEXT, nullable)


def _enum(column: str, nullable: bool = False) -> Value:
    return Value(f"{{a}}.{column}", QUOTED, nullable)


def _date(column: str, nullable: bool = False) -> Value:
    return Value(f"{{a}}.{column}", DATE, nullable)


ID = Value("{a}.id", QUOTED)
TASK_STATUS_IN = "{c}.status = ANY({}::text[])"

CATALOG: dict[str, Record] = {
    "zone": Record(
        "zones",
        "Zone",
        {
            "id": ID,
            "code": _text("code"),
            "name": _text("name"),
            "description": _text("description", True),
            "hazard_type": _enum("hazard_type"),
            "status": _enum("status"),
            "contamination": Value("{a}.contamination", ENUMS),
            "geometry": Value("{a}.geometry", GEOJSON),
            "estimated_area_m2": Value("{a}.estimated_area_m2", FLOAT),
            "released_area_m2": Value("{a}.released_area_m2", FLOAT),
            "remaining_area_m2": Value("{a}.remaining_area_m2", FLOAT),
            "priority": Value("{a}.priority", NUMBER),
            "land_use": _enum("land_use", True),
            "admin1": _text("admin1", True),
            "admin2": _text("admin2", True),
            "admin_pcode": _text("admin_pcode", True),
            "recorded_on": _date("recorded_on"),
            "status_changed_on": _date("status_changed_on", True),
            **_stamps(),
            "tasks": Many("task", "FROM tasks AS {c}", "{c}.zone_id", "{c}.id", TASK_STATUS_IN),
            "releases": Many(
                "land_release",
                "FROM land_releases AS {c}",
                "{c}.zone_id",
                "{c}.released_on, {c}.id",
            ),
            "incidents": Page(
                "incident",
                "FROM incidents AS {c} WHERE {c}.zone_id = {p}.id",
                "{c}.occurred_on DESC, {c}.id DESC",
            ),
        },
    ),
    "task": Record(
        "tasks",
        "Task",
        {
            "id": ID,
            "code": _text("code"),
            "task_type": _enum("task_type"),
            "status": _enum("status"),
            "assets": Value("{a}.assets", ENUMS),
            "planned_start": _date("planned_start", True),
            "planned_end": _date("planned_end", True),
            "started_on": _date("started_on", True),
            "completed_on": _date("completed_on", True),
            **_stamps(),
            "zone": One("zone", "FROM zones AS {c} WHERE {c}.id = {p}.zone_id"),
            "teams": Many(
                "team",
                "FROM task_teams AS {c}m JOIN teams AS {c} ON {c}.id = {c}m.team_id",
                "{c}m.task_id",
                "{c}.id",
            ),
            "progress_reports": Many(
                "progress_report",
                "FROM progress_reports AS {c}",
                "{c}.task_id",
                "{c}.report_date, {c}.id",
            ),
            "releases": Many(
                "land_release",
                "FROM land_releases AS {c}",
                "{c}.task_id",
                "{c}.released_on, {c}.id",
            ),
        },
    ),
    "team": Record(
        "teams",
        "Team",
        {
            "id": ID,
            "code": _text("code"),
            "name": _text("name"),
            "capabilities": Value("{a}.capabilities", ENUMS),
            "size": Value("{a}.size", NUMBER),
            "status": _enum("status"),
            "accreditation_expires_on": _date("accreditation_expires_on", True),
            **_stamps(),
            "organisation": One(
                "organisation", "FROM organisations AS {c} WHERE {c}.id = {p}.organisation_id"
            ),
            "tasks": Many(
                "task",
                "FROM task_teams AS {c}m JOIN tasks AS {c} ON {c}.id = {c}m.task_id",
                "{c}m.team_id",
                "{c}.id",
                TASK_STATUS_IN,
            ),
        },
    ),
    "organisation": Record(
        "organisations",
        "Organisation",
        {
            "id": ID,
            "code": _text("code"),
            "name": _text("name"),
            "org_type": _enum("org_type"),
            "country": _text("country", True),
            **_created(),
            "updated_at": Value("{a}.updated_at", DATETIME),
            "teams": Many("team", "FROM teams AS {c}", "{c}.organisation_id", "{c}.code, {c}.id"),
        },
    ),
    "incident": Record(
        "incidents",
        "Incident",
        {
            "id": ID,
            "code": _text("code"),
            "incident_type": _enum("incident_type"),
            "occurred_on": _date("occurred_on"),
            "location": Value("{a}.location", GEOJSON),
            "device_category": _enum("device_category"),
            "activity": _enum("activity"),
            "admin1": _text("admin1", True),
            "admin2": _text("admin2", True),
            "admin_pcode": _text("admin_pcode", True),
            "description": _text("description", True),
            "source": _text("source", True),
            "verified": Value("{a}.verified", NUMBER),
            **_stamps(),
            "zone": One("zone", "FROM zones AS {c} WHERE {c}.id = {p}.zone_id", nullable=True),
            "task": One("task", "FROM tasks AS {c} WHERE {c}.id = {p}.task_id", nullable=True),
            "killed": Value(
                "(SELECT count(*) FROM casualties AS k "
                "WHERE k.incident_id = {a}.id AND k.outcome = 'KILLED')",
                NUMBER,
            ),
            "injured": Value(
                "(SELECT count(*) FROM casualties AS k "
                "WHERE k.incident_id = {a}.id AND k.outcome = 'INJURED')",
                NUMBER,
            ),
            "casualties": Many("casualty", "FROM casualties AS {c}", "{c}.incident_id", "{c}.id"),
        },
    ),
    "casualty": Record(
        "casualties",
        "Casualty",
        {
            "id": ID,
            "outcome": _enum("outcome"),
            "category": _enum("category"),
            "sex": _enum("sex"),
            "age": Value("{a}.age", NUMBER, True),
            "age_group": _enum("age_group"),
        },
    ),
    "land_release": Record(
        "land_releases",
        "LandRelease",
        {
            "id": ID,
            "method": _enum("method"),
            "area_m2": Value("{a}.area_m2", FLOAT),
            "geometry": Value("{a}.geometry", GEOJSON, True),
            "released_on": _date("released_on"),
            **_created(),
            "zone": One("zone", "FROM zones AS {c} WHERE {c}.id = {p}.zone_id"),
            "task": One("task", "FROM tasks AS {c} WHERE {c}.id = {p}.task_id", nullable=True),
        },
    ),
    "progress_report": Record(
        "progress_reports",
        "ProgressReport",
        {
            "id": ID,
            "report_date": _date("report_date"),
            "area_searched_m2": Value("{a}.area_searched_m2", FLOAT),
            "notes": _text("notes", True),
            **_created(),
            "task": One("task", "FROM tasks AS {c} WHERE {c}.id = {p}.task_id"),
            "devices": Many(
                "device_find", "FROM device_finds AS {c}", "{c}.progress_report_id", "{c}.id"
            ),
        },
    ),
    "device_find": Record(
        "device_finds",
        "DeviceFind",
        {
            "category": _enum("category"),
            "quantity": Value("{a}.quantity", NUMBER),
            "disposal": _enum("disposal"),
            "location": Value("{a}.location", GEOJSON, True),
        },
    ),
}


PAGE = "page"  # the rows of a page, for the grouped reads of their lists


def _literal(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _array(element: str, order: str, source: str) -> str:
    """A JSON array of `element` over `source`, in `order` ([] when there is none)."""
    aggregate = f"string_agg({element}, ', ' ORDER BY {order})"
    return f"(SELECT '[' || coalesce({aggregate}, '') || ']' {source})"


@dataclass
class Writer:
    """Writes the SQL of one statement: the JSON of picks, with aliases and parameters."""

    params: Params
    _aliases: int = field(default=0)

    def alias(self) -> str:
        """A fresh alias for a related record."""
        self._aliases += 1
        return f"j{self._aliases}"

    def object(
        self, record: str, alias: str, picks: tuple[Pick, ...], joins: list[str] | None = None
    ) -> str:
        """The JSON object of `picks` of the `record` whose row is `alias`.

        With `joins`, the record is a row of a page: its lists are read for the whole page at
        once, each by a grouped join added to `joins`, rather than once per row.
        """
        parts = []
        for i, pick in enumerate(picks):
            opening = ("{" if i == 0 else ", ") + json.dumps(pick.key) + ": "
            parts.append(_literal(opening))
            parts.append(self.value(record, alias, pick, joins))
        parts.append("'}'")
        return "(" + " || ".join(parts) + ")"

    def value(self, record: str, alias: str, pick: Pick, joins: list[str] | None = None) -> str:
        """The JSON of one pick of the record whose row is `alias`."""
        if pick.constant is not None:
            return _literal(pick.constant)
        spec = CATALOG[record].fields[pick.name]
        if isinstance(spec, Value):
            written = spec.writes.format(spec.sql.format(a=alias))
            return f"coalesce({written}, 'null')" if spec.nullable else written
        child = self.alias()
        source = spec.source.format(c=child, p=alias)
        if isinstance(spec, Page):
            return self._page(spec, pick, child, source)
        inner = self.object(spec.record, child, pick.picks)
        if isinstance(spec, One):
            found = f"(SELECT {inner} {source})"
            return f"coalesce({found}, 'null')" if spec.nullable else found
        order = spec.order.format(c=child)
        parent = spec.parent.format(c=child)
        conditions = []
        if spec.status is not None and pick.statuses is not None:
            conditions.append(spec.status.format(self.params.add(pick.statuses), c=child))
        if joins is None:
            where = " AND ".join([f"{parent} = {alias}.id", *conditions])
            return _array(inner, order, f"{source} WHERE {where}")
        where = " AND ".join([f"{parent} IN (SELECT id FROM {PAGE})", *conditions])
        joins.append(
            f"LEFT JOIN (SELECT {parent} AS parent, "
            f"'[' || string_agg({inner}, ', ' ORDER BY {order}) || ']' AS json "
            f"{source} WHERE {where} GROUP BY {parent}) AS {child}g ON {child}g.parent = {alias}.id"
        )
        return f"coalesce({child}g.json, '[]')"

    def _page(self, spec: Page, pick: Pick, child: str, source: str) -> str:
        """A connection without cursors: nodes, totalCount, pageInfo's two flags."""
        order = spec.order.format(c=child)
        parts = []
        for i, part in enumerate(pick.picks):
            opening = ("{" if i == 0 else ", ") + json.dumps(part.key) + ": "
            parts.append(_literal(opening))
            if part.constant is not None:
                parts.append(_literal(part.constant))
            elif part.name == "nodes":
                nodes = self.object(spec.record, child, part.picks)
                first = f"SELECT {child}.* {source} ORDER BY {order} LIMIT {pick.limit}"
                limited = f"FROM ({first}) AS {child}"
                parts.append(_array(nodes, order, limited))
            elif part.name == "total_count":
                parts.append(f"(SELECT count(*) {source})::text")
            else:  # page_info: more after this page? (none before: `after` is not compiled)
                parts.append(self._page_info(part.picks, source, pick.limit))
        parts.append("'}'")
        return "(" + " || ".join(parts) + ")"

    def _page_info(self, picks: tuple[Pick, ...], source: str, limit: int) -> str:
        parts = []
        for i, part in enumerate(picks):
            opening = ("{" if i == 0 else ", ") + json.dumps(part.key) + ": "
            parts.append(_literal(opening))
            if part.constant is not None:
                parts.append(_literal(part.constant))
            elif part.name == "has_next_page":
                parts.append(
                    f"(SELECT CASE WHEN count(*) > {limit} THEN 'true' ELSE 'false' END "
                    f"FROM (SELECT 1 {source} LIMIT {limit + 1}) AS more)"
                )
            else:  # has_previous_page
                parts.append("'false'")
        parts.append("'}'")
        return "(" + " || ".join(parts) + ")"


def one_statement(
    record: str, picks: tuple[Pick, ...], column: str, params: Params, value: object
) -> str:
    """The JSON of the record whose `column` (id or code) is `value` (no row when none)."""
    alias = "r"
    writer = Writer(params)
    json_text = writer.object(record, alias, picks)
    return (
        f"SELECT {json_text} FROM {CATALOG[record].table} AS {alias} "
        f"WHERE {alias}.{column} = {params.add(value)}"
    )


def page_statement(
    record: str,
    listing: Listing,
    conditions: list[str],
    params: Params,
    order: Order,
    after: tuple[object, int] | None,
    limit: int,
    selections: list[tuple[Pick, ...]],
) -> str:
    """A keyset page of `listing` (as Listing.page reads it): each row's id, its value of the
    order's column, and the JSON of each selection of its fields."""
    a = listing.alias
    page = replace(listing, columns=f"{a}.*").page(conditions, params, order, after, limit)
    writer = Writer(params)
    joins: list[str] = []
    columns = [f"{a}.id", f"{a}.{order.column}"]
    columns += [writer.object(record, a, picks, joins) for picks in selections]
    return (
        f"WITH {PAGE} AS MATERIALIZED ({page}) SELECT {', '.join(columns)} "
        f"FROM {PAGE} AS {a} {' '.join(joins)} ORDER BY {listing.sorting(order)}"
    )
