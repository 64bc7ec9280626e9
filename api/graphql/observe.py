"""What the access log needs from a GraphQL request: its operation's name (api/middleware.py)."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension


class OperationName(SchemaExtension):
    """Put the operation's name in request.state.graphql_operation (type when unnamed)."""

    def on_operation(self) -> Iterator[None]:
        self._note(self.execution_context.operation_name)
        yield

    def on_execute(self) -> Iterator[None]:
        # Parsed by now: the name of the operation that runs, else its type.
        context = self.execution_context
        self._note(context.operation_name or context.operation_type.value)
        yield

    def _note(self, name: str | None) -> None:
        request = getattr(self.execution_context.context, "request", None)
        state = getattr(request, "state", None)
        if state is not None and name:
            state.graphql_operation = name
