"""The OGC API – Features collections as the database has them: queryables, kinds, errors.

Names and SQL expressions here are the allow-list every filter, sort and output goes through.
"""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of queryable: how a literal is checked and cast, and how the property is compared.
TEXT, INTEGER, NUMBER, BOOLEAN, DATE, TIMESTAMP, TEXT_ARRAY = (
    "text",
    "integer",
    "number",
    "boolean",
    "date",
    "timestamp",
    "text_array",
)
ORDERABLE = {TEXT, INTEGER, NUMBER, BOOLEAN, DATE, TIMESTAMP}
UTC_TEXT = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


@dataclass(frozen=True)
class Queryable:
    """A property clients may see, filter and sort by: its SQL expression and kind."""

    sql: str
    kind: str
    private: bool = False  # hidden from the public role (API.md "Access")
    output: str = ""  # how the property is written into GeoJSON when not the bare expression


@dataclass(frozen=True)
class Layer:
    """One collection: its table, geometry, temporal property and properties in output order."""

    name: str
    table: str
    alias: str
    geometry: str
    geometry_type: str
    temporal: str
    queryables: dict[str, Queryable]

    def visible(self, include_private: bool) -> dict[str, Queryable]:
        """Return the queryables a caller may see (all of them when `include_private`)."""
        return {n: q for n, q in self.queryables.items() if include_private or not q.private}


def _ts(sql: str) -> Queryable:
    return Queryable(sql, TIMESTAMP, output=UTC_TEXT.format(sql))


ZONES = Layer(
    name="zones",
    table="zones",
    alias="z",
    geometry="z.geometry",
    geometry_type="MultiPolygon",
    temporal="recorded_on",  # the day the hazard was recorded, not the last edit
    queryables={
        "code": Queryable("z.code", TEXT),
        "name": Queryable("z.name", TEXT),
        "description": Queryable("z.description", TEXT),
        "hazard_type": Queryable("z.hazard_type", TEXT),
        "status": Queryable("z.status", TEXT),
        "contamination": Queryable("z.contamination", TEXT_ARRAY),
        "estimated_area_m2": Queryable("z.estimated_area_m2", NUMBER),
        "released_area_m2": Queryable("z.released_area_m2", NUMBER),
        "remaining_area_m2": Queryable("z.remaining_area_m2", NUMBER),
        "priority": Queryable("z.priority", INTEGER),
        "land_use": Queryable("z.land_use", TEXT),
        "admin1": Queryable("z.admin1", TEXT),
        "admin2": Queryable("z.admin2", TEXT),
        "admin_pcode": Queryable("z.admin_pcode", TEXT),
        "recorded_on": Queryable("z.recorded_on", DATE),
        "status_changed_on": Queryable("z.status_changed_on", DATE),
        "version": Queryable("z.version", INTEGER),
        "created_at": _ts("z.created_at"),
        "updated_at": _ts("z.updated_at"),
    },
)

_COUNT_OF = (
    "(SELECT count(*)::int FROM casualties AS c WHERE c.incident_id = i.id AND c.outcome = '{}')"
)

INCIDENTS = Layer(
    name="incidents",
    table="incidents",
    alias="i",
    geometry="i.location",
    geometry_type="Point",
    temporal="occurred_on",
    queryables={
        "code": Queryable("i.code", TEXT),
        "incident_type": Queryable("i.incident_type", TEXT),
        "occurred_on": Queryable("i.occurred_on", DATE),
        "zone_code": Queryable("(SELECT zz.code FROM zones AS zz WHERE zz.id = i.zone_id)", TEXT),
        "device_category": Queryable("i.device_category", TEXT),
        "activity": Queryable("i.activity", TEXT),
        "admin1": Queryable("i.admin1", TEXT),
        "admin2": Queryable("i.admin2", TEXT),
        "admin_pcode": Queryable("i.admin_pcode", TEXT),
        "description": Queryable("i.description", TEXT, private=True),
        "source": Queryable("i.source", TEXT, private=True),
        "verified": Queryable("i.verified", BOOLEAN),
        "killed": Queryable(_COUNT_OF.format("KILLED"), INTEGER),
        "injured": Queryable(_COUNT_OF.format("INJURED"), INTEGER),
        "version": Queryable("i.version", INTEGER),
        "created_at": _ts("i.created_at"),
        "updated_at": _ts("i.updated_at"),
    },
)

LAYERS = {layer.name: layer for layer in (ZONES, INCIDENTS)}


class FilterError(ValueError):
    """A filter the layer cannot answer; `parameter` names the request parameter at fault."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
