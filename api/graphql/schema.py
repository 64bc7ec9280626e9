"""The GraphQL schema: Query and Mutation assembled from the per-aggregate modules."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.types import ExecutionContext

from api.graphql import zone as zone_fields
from api.graphql.errors import ErrorCodes
from api.graphql.pagination import Connection
from api.graphql.scalars import SCALAR_OVERRIDES


@strawberry.type
class Query:
    zone: zone_fields.Zone | None = strawberry.field(resolver=zone_fields.zone)
    zones: Connection[zone_fields.Zone] = strawberry.field(resolver=zone_fields.zones)


@strawberry.type
class Mutation:
    create_zone: zone_fields.Zone = strawberry.field(resolver=zone_fields.create_zone)


class MarSchema(strawberry.Schema):
    """The schema; errors are logged (once, when unexpected) by the ErrorCodes extension."""

    def process_errors(
        self, _errors: list[GraphQLError], _execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(*, introspection: bool = True) -> MarSchema:
    """Return the schema with the project's extensions."""
    extensions: list[type[SchemaExtension]] = [ErrorCodes]
    if not introspection:
        extensions.append(DisableIntrospection)
    return MarSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        scalar_overrides=dict[Any, Any](SCALAR_OVERRIDES),
    )
