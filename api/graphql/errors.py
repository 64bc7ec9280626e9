"""One place where GraphQL errors get their API.md code, and where unexpected ones are masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult, StreamExecutionResult

from api.errors import ApiError, from_database_failure, from_domain
from api.graphql.input_paths import literal_field, variable_field
from api.graphql.limits import is_token_limit
from api.graphql.scalars import InputOutOfRange
from api.requests import current_request_id
from db.errors import DomainError
from db.pool import CONNECTION_ERRORS

log = logging.getLogger("mar.graphql")


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    # Every error a client gets names its request, as the X-Request-ID header does.
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**extensions, "requestId": current_request_id()},
    )


def with_request_id(error: GraphQLError) -> GraphQLError:
    """Return the (already coded) error carrying the id of the request being served."""
    if (error.extensions or {}).get("requestId") == current_request_id():
        return error
    return _with(error, error.message, dict(error.extensions or {}))


def format_error(error: GraphQLError) -> GraphQLError:
    """Return the error as the client may see it: coded, and masked when unexpected."""
    original = error.original_error
    if original is None or error.path is None:
        # Nothing was executed: the query failed to parse or validate, or a variable to coerce.
        # graphql-core's messages name the query's own text, never our internals.
        variable = error.message.startswith("Variable '$")
        out_of_range = isinstance(error, InputOutOfRange)
        code = "BAD_USER_INPUT" if variable or out_of_range else "GRAPHQL_VALIDATION_FAILED"
        if is_token_limit(error):
            code = "QUERY_TOO_COMPLEX"
        extensions: dict[str, object] = {"code": code, **(error.extensions or {})}
        field = variable_field(error.message) if variable else None
        if out_of_range:
            field = {"field": literal_field(error) or "", "message": error.message}
        if field is not None and "fields" not in extensions:
            extensions["fields"] = [field]
        return _with(error, error.message, extensions)
    if isinstance(original, DomainError):
        original = from_domain(original)
    failure = from_database_failure(original)
    if failure is not None:
        log.warning("%s: %s", ".".join(str(p) for p in error.path or []), original)
        original = failure
    if isinstance(original, ApiError):
        return _with(error, original.message, original.extensions())
    request_id = current_request_id()
    if isinstance(original, CONNECTION_ERRORS):
        log.error("database unavailable: %s", original, extra={"path": error.path})
        message = "The database is unavailable; try again shortly"
    else:
        log.error(
            "unexpected error in %s",
            ".".join(str(p) for p in error.path or []),
            exc_info=(type(original), original, original.__traceback__),
        )
        message = "Internal server error"
    return _with(error, f"{message} (request id {request_id})", {"code": "INTERNAL_SERVER_ERROR"})


class ErrorCodes(SchemaExtension):
    """Rewrite every error of a result with format_error(): of a query or mutation, and of each
    event of a subscription."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [format_error(e) for e in errors]

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [format_error(e) for e in result.errors]
        yield
