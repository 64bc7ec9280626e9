"""The exported schema (api/graphql/schema.graphql) is what the code builds."""

from __future__ import annotations

from pathlib import Path

from api.graphql.schema import build_schema

EXPORTED = Path(__file__).resolve().parent.parent / "api" / "graphql" / "schema.graphql"


def test_exported_schema_is_current() -> None:
    assert EXPORTED.read_text() == build_schema().as_str() + "\n", (
        "api/graphql/schema.graphql is out of date: run `make schema`"
    )
