"""The GraphQL schema: Query and Mutation assembled from the per-aggregate modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.graphql import (
    audit,
    casualty,
    incident,
    land_release,
    node,
    organisation,
    progress_report,
    statistics,
    subscriptions,
    task,
    team,
    zone,
)
from api.graphql.documents import Documents, documents_extension
from api.graphql.errors import ErrorCodes
from api.graphql.fairness import FairExecutionContext
from api.graphql.limits import QueryLimits, limits_extension
from api.graphql.observe import OperationName
from api.graphql.permissions import guard_schema
from api.graphql.scalars import SCALAR_OVERRIDES

# Each aggregate module contributes its own Query and Mutation fields; they are merged here.
Query = merge_types(
    "Query",
    (
        zone.ZoneQueries,
        incident.IncidentQueries,
        task.TaskQueries,
        organisation.OrganisationQueries,
        team.TeamQueries,
        audit.AuditQueries,
        statistics.StatisticsQueries,
        node.NodeQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        zone.ZoneMutations,
        incident.IncidentMutations,
        casualty.CasualtyMutations,
        task.TaskMutations,
        progress_report.ProgressReportMutations,
        land_release.LandReleaseMutations,
        organisation.OrganisationMutations,
        team.TeamMutations,
    ),
)


class MarSchema(strawberry.Schema):
    """The schema; errors are logged (once, when unexpected) by the ErrorCodes extension."""

    documents: Documents  # its parse and validation caches (the compiled reads share them)

    def process_errors(
        self, _errors: list[GraphQLError], _execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(
    *,
    introspection: bool = True,
    limits: QueryLimits | None = None,
    documents: Documents | None = None,
) -> MarSchema:
    """Return the schema with the project's extensions (default limits and caches unless
    given)."""
    documents = documents or Documents()
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        ErrorCodes,
        OperationName,
        # Dashboards send the same few documents over and over: parse and validate each once,
        # within a byte budget, keyed by digest (api/graphql/documents.py).
        documents_extension(documents),
        # After the document cache: the cost rule depends on the variables, so it runs every time.
        limits_extension(limits or QueryLimits()),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    schema = MarSchema(
        query=Query,
        mutation=Mutation,
        subscription=subscriptions.Subscription,
        extensions=extensions,
        scalar_overrides=dict[Any, Any](SCALAR_OVERRIDES),
        # Long lists are completed in short slices: one answer cannot hold the event loop.
        execution_context_class=FairExecutionContext,
    )
    schema.documents = documents
    guard_schema(schema._schema)
    return schema
