"""SQL for exports: every CSV line and every GeoJSON feature is built by PostgreSQL.

Each statement answers one text column, `line`, ready to be written out; the caller streams the
rows from a server-side cursor. Filters come in as WHERE conditions whose values are parameters
(see db.queries.sql.Params); the fragments here hold no values.
"""

from __future__ import annotations

from dataclasses import dataclass

from db.queries.sql import where_clause

# Coordinates with 15 decimals: a double read back from the export is the double stored.
GEOJSON_DIGITS = 15
# RFC 4180 ends lines with CRLF.
CSV_EOL = "E'\\r\\n'"


def csv_text(expr: str) -> str:
    """A CSV field for a text expression: quoted, inner quotes doubled; NULL is an empty field.

    Text that a spreadsheet would take for a formula (it starts with = + - @, a tab or a carriage
    return) gets a leading apostrophe, so opening an export never runs what someone typed in.
    """
    guarded = f"regexp_replace(({expr})::text, '^([-=+@' || chr(9) || chr(13) || '])', '''\\1')"
    return f"""COALESCE('"' || replace({guarded}, '"', '""') || '"', '')"""


def csv_plain(expr: str) -> str:
    """A CSV field for a number or boolean expression (never needs quoting)."""
    return f"COALESCE(({expr})::text, '')"


def csv_date(expr: str) -> str:
    """A CSV field for a date, always ISO 8601 whatever the session's DateStyle."""
    return f"COALESCE(to_char({expr}, 'YYYY-MM-DD'), '')"


def _utc(expr: str) -> str:
    """A timestamptz as ISO 8601 text in UTC (the OGC items' form)."""
    return f"""to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def csv_timestamp(expr: str) -> str:
    """A CSV field for a timestamptz, in UTC, ISO 8601."""
    return f"COALESCE({_utc(expr)}, '')"


def csv_line(fields: list[str]) -> str:
    """The expression joining the fields of one CSV line, CRLF included."""
    return "(" + " || ',' || ".join(fields) + f" || {CSV_EOL})"


@dataclass(frozen=True)
class CsvColumn:
    """One column of a CSV export: its header, its HXL hashtag, its SQL field expression."""

    header: str
    hxl: str
    field: str


def pcode_columns(alias: str) -> list[CsvColumn]:
    """The record's p-code under the HXL tag of the level it names, as partners join on them.

    A record keeps one p-code, that of the most precise admin unit it names: its admin2's when
    it names one (`#adm2+code`), else its admin1's (`#adm1+code`); the other column is empty.
    The level a p-code does not name is never guessed from its characters: p-code lengths per
    level differ between countries.
    """
    pcode, admin1, admin2 = (f"{alias}.{name}" for name in ("admin_pcode", "admin1", "admin2"))
    return [
        CsvColumn(
            "admin1_pcode",
            "#adm1+code",
            csv_text(f"CASE WHEN {admin2} IS NULL AND {admin1} IS NOT NULL THEN {pcode} END"),
        ),
        CsvColumn(
            "admin2_pcode",
            "#adm2+code",
            csv_text(f"CASE WHEN {admin2} IS NOT NULL THEN {pcode} END"),
        ),
    ]


def _lat(geometry: str) -> str:
    return csv_plain(f"round(ST_Y(ST_PointOnSurface({geometry}))::numeric, 6)")


def _lon(geometry: str) -> str:
    return csv_plain(f"round(ST_X(ST_PointOnSurface({geometry}))::numeric, 6)")


ZONE_COLUMNS = [
    CsvColumn("code", "#loc+id", csv_text("z.code")),
    CsvColumn("name", "#loc+name", csv_text("z.name")),
    CsvColumn("hazard_type", "#loc+type+hazard", csv_text("z.hazard_type")),
    CsvColumn("status", "#status", csv_text("z.status")),
    CsvColumn("contamination", "#item+type", csv_text("array_to_string(z.contamination, ';')")),
    CsvColumn("priority", "#severity+priority", csv_plain("z.priority")),
    CsvColumn("land_use", "#loc+type+land_use", csv_text("z.land_use")),
    CsvColumn("admin1", "#adm1+name", csv_text("z.admin1")),
    CsvColumn("admin2", "#adm2+name", csv_text("z.admin2")),
    CsvColumn("admin_pcode", "#loc+code", csv_text("z.admin_pcode")),
    *pcode_columns("z"),
    CsvColumn("lat", "#geo+lat", _lat("z.geometry")),
    CsvColumn("lon", "#geo+lon", _lon("z.geometry")),
    CsvColumn(
        "estimated_area_m2", "#indicator+num+area_m2+estimated", csv_plain("z.estimated_area_m2")
    ),
    CsvColumn(
        "released_area_m2", "#indicator+num+area_m2+released", csv_plain("z.released_area_m2")
    ),
    CsvColumn(
        "remaining_area_m2", "#indicator+num+area_m2+remaining", csv_plain("z.remaining_area_m2")
    ),
    CsvColumn("recorded_on", "#date+reported", csv_date("z.recorded_on")),
    CsvColumn("status_changed_on", "#date+status", csv_date("z.status_changed_on")),
    CsvColumn("updated_at", "#date+updated", csv_timestamp("z.updated_at")),
]

# Killed and injured per incident, looked up per row (index on casualties.incident_id) so that
# the first lines leave before every casualty has been counted.
_INCIDENT_COUNTS = """
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE c.outcome = 'KILLED') AS killed,
         count(*) FILTER (WHERE c.outcome = 'INJURED') AS injured
  FROM casualties AS c WHERE c.incident_id = i.id
) AS n ON true
"""
_INCIDENT_JOINS = """
LEFT JOIN zones AS z ON z.id = i.zone_id
LEFT JOIN tasks AS t ON t.id = i.task_id
"""

INCIDENT_COLUMNS = [
    CsvColumn("code", "#event+id", csv_text("i.code")),
    CsvColumn("incident_type", "#event+type", csv_text("i.incident_type")),
    CsvColumn("occurred_on", "#date+occurred", csv_date("i.occurred_on")),
    CsvColumn("lat", "#geo+lat", csv_plain("round(ST_Y(i.location)::numeric, 6)")),
    CsvColumn("lon", "#geo+lon", csv_plain("round(ST_X(i.location)::numeric, 6)")),
    CsvColumn("zone_code", "#loc+id", csv_text("z.code")),
    CsvColumn("task_code", "#activity+id", csv_text("t.code")),
    CsvColumn("device_category", "#item+type", csv_text("i.device_category")),
    CsvColumn("activity", "#event+activity", csv_text("i.activity")),
    CsvColumn("admin1", "#adm1+name", csv_text("i.admin1")),
    CsvColumn("admin2", "#adm2+name", csv_text("i.admin2")),
    CsvColumn("admin_pcode", "#loc+code", csv_text("i.admin_pcode")),
    *pcode_columns("i"),
    CsvColumn("verified", "#status+verified", csv_plain("i.verified")),
    CsvColumn("killed", "#affected+killed", csv_plain("n.killed")),
    CsvColumn("injured", "#affected+injured", csv_plain("n.injured")),
]
# Only for roles that may read them (API.md: the public sees incidents without these).
INCIDENT_RESTRICTED_COLUMNS = [
    CsvColumn("description", "#description", csv_text("i.description")),
    CsvColumn("source", "#meta+source", csv_text("i.source")),
]

RELEASE_COLUMNS = [
    CsvColumn("released_on", "#date+released", csv_date("l.released_on")),
    CsvColumn("zone_code", "#loc+id", csv_text("z.code")),
    CsvColumn("task_code", "#activity+id", csv_text("t.code")),
    CsvColumn("method", "#output+type", csv_text("l.method")),
    CsvColumn("area_m2", "#output+num+area_m2", csv_plain("l.area_m2")),
    CsvColumn("hazard_type", "#loc+type+hazard", csv_text("z.hazard_type")),
    CsvColumn("admin1", "#adm1+name", csv_text("z.admin1")),
    CsvColumn("admin2", "#adm2+name", csv_text("z.admin2")),
    CsvColumn("admin_pcode", "#loc+code", csv_text("z.admin_pcode")),
    *pcode_columns("z"),
    CsvColumn("lat", "#geo+lat", _lat("COALESCE(l.geometry, z.geometry)")),
    CsvColumn("lon", "#geo+lon", _lon("COALESCE(l.geometry, z.geometry)")),
]


def _count(condition: str) -> str:
    return csv_plain(f"count(*) FILTER (WHERE {condition})")


# Casualties leave the service only as counts per month and area: never one row per person.
CASUALTY_COLUMNS = [
    CsvColumn("month", "#date+occurred", "COALESCE(g.month, '')"),
    CsvColumn("admin1", "#adm1+name", csv_text("g.admin1")),
    CsvColumn("admin2", "#adm2+name", csv_text("g.admin2")),
    CsvColumn("admin_pcode", "#loc+code", csv_text("g.admin_pcode")),
    *pcode_columns("g"),
    CsvColumn("total", "#affected+total", csv_plain("g.total")),
    CsvColumn("killed", "#affected+killed", csv_plain("g.killed")),
    CsvColumn("injured", "#affected+injured", csv_plain("g.injured")),
    CsvColumn("outcome_unknown", "#affected+outcome_unknown", csv_plain("g.outcome_unknown")),
    CsvColumn("civilian", "#affected+civilian", csv_plain("g.civilian")),
    CsvColumn("military", "#affected+military", csv_plain("g.military")),
    CsvColumn("deminer", "#affected+deminer", csv_plain("g.deminer")),
    CsvColumn("category_unknown", "#affected+category_unknown", csv_plain("g.category_unknown")),
    CsvColumn("female", "#affected+f", csv_plain("g.female")),
    CsvColumn("male", "#affected+m", csv_plain("g.male")),
    CsvColumn("sex_unknown", "#affected+sex_unknown", csv_plain("g.sex_unknown")),
    CsvColumn("children", "#affected+children", csv_plain("g.children")),
    CsvColumn("adults", "#affected+adults", csv_plain("g.adults")),
    CsvColumn("age_unknown", "#affected+age_unknown", csv_plain("g.age_unknown")),
    CsvColumn("killed_civilian", "#affected+killed+civilian", csv_plain("g.killed_civilian")),
    CsvColumn("injured_civilian", "#affected+injured+civilian", csv_plain("g.injured_civilian")),
]

_CASUALTY_COUNTS = {
    "total": "true",
    "killed": "c.outcome = 'KILLED'",
    "injured": "c.outcome = 'INJURED'",
    "outcome_unknown": "c.outcome = 'UNKNOWN'",
    "civilian": "c.category = 'CIVILIAN'",
    "military": "c.category = 'MILITARY'",
    "deminer": "c.category = 'DEMINER'",
    "category_unknown": "c.category = 'UNKNOWN'",
    "female": "c.sex = 'FEMALE'",
    "male": "c.sex = 'MALE'",
    "sex_unknown": "c.sex = 'UNKNOWN'",
    "children": "c.age_group = 'CHILD'",
    "adults": "c.age_group = 'ADULT'",
    "age_unknown": "c.age_group = 'UNKNOWN'",
    "killed_civilian": "c.outcome = 'KILLED' AND c.category = 'CIVILIAN'",
    "injured_civilian": "c.outcome = 'INJURED' AND c.category = 'CIVILIAN'",
}


def _line(columns: list[CsvColumn]) -> str:
    return csv_line([c.field for c in columns])


def zones_csv(conditions: list[str], order: str = "z.id") -> str:
    """Zones matching `conditions` (alias z), one CSV line each, in `order`."""
    return (
        f"SELECT {_line(ZONE_COLUMNS)} AS line FROM zones AS z "
        f"{where_clause(conditions)} ORDER BY {order}"
    )


def incidents_csv(conditions: list[str], order: str = "i.id", *, restricted: bool) -> str:
    """Incidents matching `conditions` (alias i), one CSV line each, in `order`.

    `restricted` adds description and source, for the roles that may read them.
    """
    columns = INCIDENT_COLUMNS + (INCIDENT_RESTRICTED_COLUMNS if restricted else [])
    return (
        f"SELECT {_line(columns)} AS line FROM incidents AS i {_INCIDENT_JOINS} {_INCIDENT_COUNTS} "
        f"{where_clause(conditions)} ORDER BY {order}"
    )


def incident_csv_columns(*, restricted: bool) -> list[CsvColumn]:
    """The columns of the incidents CSV, as `incidents_csv` writes them."""
    return INCIDENT_COLUMNS + (INCIDENT_RESTRICTED_COLUMNS if restricted else [])


def releases_csv(conditions: list[str]) -> str:
    """Land releases whose zone matches `conditions` (aliases l, z), one CSV line each."""
    return (
        f"SELECT {_line(RELEASE_COLUMNS)} AS line FROM land_releases AS l "
        "JOIN zones AS z ON z.id = l.zone_id LEFT JOIN tasks AS t ON t.id = l.task_id "
        f"{where_clause(conditions)} ORDER BY l.released_on, l.id"
    )


def casualties_csv(conditions: list[str]) -> str:
    """Casualty counts per month and area of incidents matching `conditions` (alias i)."""
    counts = ",\n".join(
        f"count(*) FILTER (WHERE {condition}) AS {name}"
        for name, condition in _CASUALTY_COUNTS.items()
    )
    return f"""
SELECT {_line(CASUALTY_COLUMNS)} AS line FROM (
  SELECT to_char(i.occurred_on, 'YYYY-MM') AS month, i.admin1, i.admin2, i.admin_pcode,
         {counts}
  FROM casualties AS c JOIN incidents AS i ON i.id = c.incident_id
  {where_clause(conditions)}
  GROUP BY 1, i.admin1, i.admin2, i.admin_pcode
) AS g
ORDER BY g.month, g.admin1 NULLS LAST, g.admin2 NULLS LAST, g.admin_pcode NULLS LAST
"""


ZONE_FEATURE = f"""
json_build_object(
  'type', 'Feature',
  'id', z.code,
  'geometry', ST_AsGeoJSON(z.geometry, {GEOJSON_DIGITS})::json,
  'properties', json_build_object(
    'code', z.code, 'name', z.name, 'description', z.description,
    'hazard_type', z.hazard_type, 'status', z.status, 'contamination', z.contamination,
    'priority', z.priority, 'land_use', z.land_use,
    'admin1', z.admin1, 'admin2', z.admin2, 'admin_pcode', z.admin_pcode,
    'estimated_area_m2', z.estimated_area_m2, 'released_area_m2', z.released_area_m2,
    'remaining_area_m2', z.remaining_area_m2,
    'recorded_on', z.recorded_on, 'status_changed_on', z.status_changed_on,
    'version', z.version, 'created_at', {_utc("z.created_at")},
    'updated_at', {_utc("z.updated_at")}
  )
)::text
"""


def zones_geojson(conditions: list[str], order: str = "z.id") -> str:
    """Zones matching `conditions` (alias z), one GeoJSON Feature text each, in `order`."""
    return (
        f"SELECT {ZONE_FEATURE} AS line FROM zones AS z {where_clause(conditions)} ORDER BY {order}"
    )


_CASUALTY_OBJECT = """json_build_object(
      'outcome', c.outcome, 'category', c.category, 'sex', c.sex, 'age', c.age{personal})"""
_PERSONAL = ", 'full_name', c.full_name, 'notes', c.notes"


def incidents_geojson(
    conditions: list[str], order: str = "i.id", *, restricted: bool, personal: bool
) -> str:
    """Incidents matching `conditions` (alias i), one GeoJSON Feature text each, in `order`.

    `restricted` adds description and source; `personal` adds the casualties' names and notes.
    """
    casualty = _CASUALTY_OBJECT.format(personal=_PERSONAL if personal else "")
    extra = "'description', i.description, 'source', i.source," if restricted else ""
    feature = f"""
json_build_object(
  'type', 'Feature',
  'id', i.code,
  'geometry', ST_AsGeoJSON(i.location, {GEOJSON_DIGITS})::json,
  'properties', json_build_object(
    'code', i.code, 'incident_type', i.incident_type, 'occurred_on', i.occurred_on,
    'zone_code', z.code, 'task_code', t.code,
    'device_category', i.device_category, 'activity', i.activity,
    'admin1', i.admin1, 'admin2', i.admin2, 'admin_pcode', i.admin_pcode, {extra}
    'verified', i.verified, 'killed', n.killed, 'injured', n.injured,
    'casualties', COALESCE((
      SELECT json_agg({casualty} ORDER BY c.id)
      FROM casualties AS c WHERE c.incident_id = i.id), '[]'::json),
    'version', i.version, 'created_at', {_utc("i.created_at")},
    'updated_at', {_utc("i.updated_at")}
  )
)::text
"""
    return (
        f"SELECT {feature} AS line FROM incidents AS i {_INCIDENT_JOINS} {_INCIDENT_COUNTS} "
        f"{where_clause(conditions)} ORDER BY {order}"
    )


def count(table_sql: str, conditions: list[str]) -> str:
    """How many rows an export will write (for a progress bar); `table_sql` is a FROM clause."""
    return f"SELECT count(*) FROM {table_sql} {where_clause(conditions)}"


ZONES_FROM = "zones AS z"
INCIDENTS_FROM = f"incidents AS i {_INCIDENT_JOINS}"
