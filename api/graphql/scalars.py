"""The GeoJSON scalar: a GeoJSON geometry object (RFC 7946) in EPSG:4326."""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

GeoJSON = NewType("GeoJSON", object)

GEOJSON_SCALAR: ScalarDefinition = strawberry.scalar(
    name="GeoJSON",
    description="A GeoJSON geometry object (RFC 7946), EPSG:4326, longitude before latitude.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc7946",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)

# Passed to strawberry.Schema(scalar_overrides=...): how every GeoJSON annotation is typed.
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {GeoJSON: GEOJSON_SCALAR}
