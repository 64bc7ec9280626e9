"""How an OGC items/item answer writes its features, read from the URL: crs, properties,
skipGeometry. Every bad value is recorded in `problems` naming its parameter."""

from __future__ import annotations

from collections.abc import Mapping

from api.errors import Problems
from db.queries.ogc import Layer, Output
from db.queries.ogc_crs import CRS84, OUTPUT

# The parameters read here: the items endpoint lets them through the filter check.
PARAMETERS = frozenset({"crs", "properties", "skipGeometry"})


def read_output(
    layer: Layer, query: Mapping[str, str], include_private: bool, problems: Problems
) -> Output:
    """Return the Output the query asks for (CRS84, every visible property, with geometry)."""
    crs = OUTPUT.get(query.get("crs", CRS84.uri))
    if crs is None:
        problems.add("crs", "give one of " + ", ".join(OUTPUT))
        crs = CRS84
    properties = None
    if "properties" in query:
        properties = _properties(layer, query["properties"], include_private, problems)
    skip = query.get("skipGeometry", "false").lower()
    if skip not in ("true", "false"):
        problems.add("skipGeometry", "give true or false")
    return Output(crs=crs, properties=properties, skip_geometry=skip == "true")


def _properties(
    layer: Layer, text: str, include_private: bool, problems: Problems
) -> tuple[str, ...]:
    """The names asked for, once each, in order; an empty value asks for none."""
    names = [part.strip() for part in text.split(",")] if text.strip() else []
    visible = layer.visible(include_private)
    unknown = [name for name in names if name not in visible]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        problems.add("properties", f"not properties of {layer.name}: {listed}")
    return tuple(dict.fromkeys(name for name in names if name in visible))
