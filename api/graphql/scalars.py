"""The project's scalars: GeoJSON, and a DateTime that refuses instants out of range."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NewType

import strawberry
from graphql import ValueNode, value_from_ast_untyped
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from db.instants import OutOfRange, checked_instant

GeoJSON = NewType("GeoJSON", object)

GEOJSON_SCALAR: ScalarDefinition = strawberry.scalar(
    name="GeoJSON",
    description="A GeoJSON geometry object (RFC 7946), EPSG:4326, longitude before latitude.",
    specified_by_url="https://www.rfc-editor.org/rfc/rfc7946",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)


class InputOutOfRange(StrawberryInputCoercionError):
    """A well-formed Date or DateTime the records cannot hold; api/graphql/errors.py names the
    input field it was given for."""


def _checked(
    parse: Callable[[object], object], check: Callable[[datetime], datetime], name: str
) -> Callable[[object], object]:
    """Strawberry's reading of the scalar (same formats, same messages), then the range check."""

    def parse_value(value: object) -> object:
        parsed = parse(value)
        if not isinstance(parsed, datetime):
            return parsed
        try:
            return check(parsed)
        except OutOfRange as exc:
            raise InputOutOfRange(f'Value cannot represent a {name}: "{value}". {exc}') from exc

    return parse_value


def _literal(parse_value: Callable[[object], object]) -> Callable[..., object]:
    """Read a literal as its value would be read, and point an out-of-range one at its node."""

    def parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> object:
        try:
            return parse_value(value_from_ast_untyped(node, variables))
        except InputOutOfRange as exc:
            raise InputOutOfRange(exc.message, nodes=[node]) from exc

    return parse_literal


# The same name and description as strawberry's own, so the exported schema does not change.
# (Every Date of the years 1-9999 can be sent as it is: only instants need the check.)
_read_datetime = DateTimeDefinition.parse_value
assert _read_datetime is not None
DATETIME_SCALAR = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=None,
    serialize=DateTimeDefinition.serialize,
    parse_value=_checked(_read_datetime, checked_instant, "DateTime"),
    parse_literal=_literal(_checked(_read_datetime, checked_instant, "DateTime")),
    origin=datetime,
)

# Passed to strawberry.Schema(scalar_overrides=...): how every such annotation is typed.
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    GeoJSON: GEOJSON_SCALAR,
    datetime: DATETIME_SCALAR,
}
