"""The queryables of a collection as a JSON Schema (OGC API – Features Part 3)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from api.graphql import enums
from db.queries import ogc_layers as kinds
from db.queries.ogc import Layer

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS: dict[str, dict[str, Any]] = {
    kinds.TEXT: {"type": "string"},
    kinds.INTEGER: {"type": "integer"},
    kinds.NUMBER: {"type": "number"},
    kinds.BOOLEAN: {"type": "boolean"},
    kinds.DATE: {"type": "string", "format": "date"},
    kinds.TIMESTAMP: {"type": "string", "format": "date-time"},
    kinds.TEXT_ARRAY: {"type": "array", "items": {"type": "string"}},
}
ENUMS: dict[str, type[Enum]] = {
    "hazard_type": enums.HazardType,
    "status": enums.ZoneStatus,
    "contamination": enums.Contamination,
    "land_use": enums.LandUse,
    "incident_type": enums.IncidentType,
    "device_category": enums.DeviceCategory,
    "activity": enums.Activity,
}
GEOMETRY_SCHEMAS = {
    "MultiPolygon": "https://geojson.org/schema/MultiPolygon.json",
    "Point": "https://geojson.org/schema/Point.json",
}


def queryables_schema(layer: Layer, include_private: bool, href: str) -> dict[str, Any]:
    """Return the JSON Schema of the properties a caller may filter `layer` by."""
    properties: dict[str, Any] = {
        "geometry": {
            "title": "Geometry",
            "x-ogc-role": "primary-geometry",
            "format": f"geometry-{layer.geometry_type.lower()}",
            "$ref": GEOMETRY_SCHEMAS[layer.geometry_type],
        }
    }
    for name, queryable in layer.visible(include_private).items():
        schema = dict(SCHEMAS[queryable.kind])
        schema["title"] = name.replace("_", " ").capitalize()
        choices = ENUMS.get(name)
        if choices is not None:
            values = [member.value for member in choices]
            if queryable.kind == kinds.TEXT_ARRAY:
                schema["items"] = {"type": "string", "enum": values}
            else:
                schema["enum"] = values
        if name == "code":
            schema["x-ogc-role"] = "id"
        if name == layer.temporal:
            schema["x-ogc-role"] = "primary-instant"
        properties[name] = schema
    return {
        "$schema": JSON_SCHEMA,
        "$id": href,
        "type": "object",
        "title": f"Queryables of {layer.name}",
        "properties": properties,
        "additionalProperties": False,
    }
