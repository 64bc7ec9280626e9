"""Which input field a request error is about, named as `extensions.fields` names it.

Variables are coerced, and literals validated, before anything runs: graphql-core reports such a
value in its message (a variable's path) or by its position in the document (a literal).
"""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError, Visitor, parse, visit
from graphql.language import ArgumentNode, ObjectFieldNode, StringValueNode

# graphql-core's words for a variable that cannot be coerced, with the path inside it.
_VARIABLE = re.compile(
    r"^Variable '\$(?P<name>\w+)' has invalid value(?: at (?P<path>(?:\.\w+|\[\d+\])+))?: "
    r"(?P<reason>.*)$",
    re.DOTALL,
)


def variable_field(message: str) -> dict[str, str] | None:
    """The field (`input.recordedOn`) and reason of a variable coercion error, else None."""
    match = _VARIABLE.match(message)
    if match is None:
        return None
    return {"field": match["name"] + (match["path"] or ""), "message": match["reason"]}


class _FindString(Visitor):
    """Record the argument and input-field names that lead to the string at `start`."""

    def __init__(self, start: int) -> None:
        super().__init__()
        self.start = start
        self.names: list[str] = []
        self.found: str | None = None

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, _node: ArgumentNode, *_args: Any) -> None:
        self.names.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, _node: ObjectFieldNode, *_args: Any) -> None:
        self.names.pop()

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if self.found is None and node.loc is not None and node.loc.start == self.start:
            self.found = ".".join(self.names)


def literal_field(error: GraphQLError) -> str | None:
    """The argument path (`filter.updatedSince`) of the string literal an error points at."""
    node = error.nodes[0] if error.nodes else None
    if node is None or node.loc is None or error.source is None:
        return None
    finder = _FindString(node.loc.start)
    # Only on this error path: the document is read once more to walk to the literal.
    visit(parse(error.source, no_location=False), finder)
    return finder.found or None
