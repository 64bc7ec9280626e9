"""Assembling a statement from constant fragments: values always travel as $n parameters."""

from __future__ import annotations


class Params:
    """Number the parameters of one statement in the order they are added."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object) -> str:
        """Keep `value` and return its placeholder (`$n`)."""
        self.values.append(value)
        return f"${len(self.values)}"


def where_clause(conditions: list[str]) -> str:
    """Join conditions with AND under one WHERE, or return nothing when there are none."""
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""
