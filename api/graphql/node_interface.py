"""Relay's `Node` interface: every record type has a global id besides its own `id`.

A record's `id` stays what API.md promises and partners store: its primary key as a decimal
string, unique within its type only. Relay needs ids unique across types, so each record also
has `nodeId`, the base64 of `<Type>:<id>`, which `node(id:)` and `nodes(ids:)` take (Relay's
compiler is told so with `nodeInterfaceIdField: "nodeId"`).
"""

from __future__ import annotations

import base64

import strawberry
from strawberry.types.base import get_object_definition


def global_id(type_name: str, record_id: str) -> str:
    """The global id of record `record_id` of `type_name`: base64 of `Type:id`."""
    return base64.b64encode(f"{type_name}:{record_id}".encode()).decode()


@strawberry.interface(
    description="A record that can be fetched again by its global id with `node(id:)`."
)
class Node:
    id: strawberry.ID = strawberry.field(description="The record's id within its type.")

    @strawberry.field
    def node_id(self) -> strawberry.ID:
        definition = get_object_definition(type(self), strict=True)
        name = definition.name
        return strawberry.ID(global_id(name, str(self.id)))
