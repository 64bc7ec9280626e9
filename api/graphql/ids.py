"""GraphQL IDs are the records' bigint primary keys written as decimal strings."""

from __future__ import annotations

import strawberry

from api.errors import BadUserInput, FieldError


def parse_id(value: strawberry.ID | str, field: str) -> int:
    """Return the record id an ID names, or raise BadUserInput on `field`."""
    if value.isascii() and value.isdigit() and 0 < int(value) < 2**63:
        return int(value)
    raise BadUserInput([FieldError(field, "is not a valid id")])
