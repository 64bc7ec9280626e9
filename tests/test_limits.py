"""Query limits: depth, aliases, tokens, page size and cost are QUERY_TOO_COMPLEX with HTTP 400;
introspection and suggestions can be turned off."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.graphql.limits import QueryLimits, without_suggestion
from api.graphql.schema import build_schema
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import SingleConnectionSource

RESPONSE_JSON = "application/graphql-response+json"

# Nine levels of fields around a leaf: the leaf is the tenth (cheap: only one list of tasks).
LEVELS = (
    "zones(first: 1)",
    "nodes",
    "tasks",
    "zone",
    "incidents(first: 1)",
    "nodes",
    "task",
    "zone",
    "tasks",
)


def nested(leaf: str) -> str:
    return "{ " + " { ".join(LEVELS) + " { " + leaf + " }" * len(LEVELS) + " }"


@asynccontextmanager
async def serving(settings: Settings, conn: Conn) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db=SingleConnectionSource(conn))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        yield http


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"accept": RESPONSE_JSON},
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


def refused(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """The one QUERY_TOO_COMPLEX error of a refused request (400, nothing executed)."""
    assert status == 400, body
    assert "data" not in body or body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    return dict(error)


def accepted(status: int, body: dict[str, Any]) -> None:
    assert status == 200 and "errors" not in body, body


async def test_depth_up_to_the_limit_passes_one_more_is_refused(client: httpx.AsyncClient) -> None:
    accepted(*await post(client, nested("code")))
    error = refused(*await post(client, nested("teams { id }")))
    assert error["extensions"]["depth"] == 11 and error["extensions"]["maxDepth"] == 10
    assert "11 levels deep" in error["message"]


async def test_depth_counts_through_fragments(client: httpx.AsyncClient) -> None:
    query = """
    query { zones { ...Z } }
    fragment Z on ZoneConnection { nodes { tasks { teams { tasks { zone { ...T } } } } } }
    fragment T on Zone { tasks { teams { organisation { teams { id } } } } }
    """
    assert refused(*await post(client, query))["extensions"]["depth"] == 11


async def test_aliases_up_to_the_limit_pass_one_more_is_refused(
    client: httpx.AsyncClient,
) -> None:
    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: zones(first: 1) {{ totalCount }}" for i in range(n)) + " }"

    accepted(*await post(client, aliased(15)))
    error = refused(*await post(client, aliased(16)))
    assert error["extensions"]["aliases"] == 16


async def test_aliases_in_a_fragment_count_once_per_spread(client: httpx.AsyncClient) -> None:
    fragment = "fragment F on Zone { " + " ".join(f"c{i}: code" for i in range(4)) + " }"
    query = "{ zones { nodes { ...F ... on Zone { ...F } } edges { node { ...F ...F } } } }"
    error = refused(*await post(client, query + fragment))
    assert error["extensions"]["aliases"] == 16


async def test_too_many_tokens_is_refused_before_parsing_ends(client: httpx.AsyncClient) -> None:
    fields = " ".join(["code"] * 2100)
    error = refused(*await post(client, "{ zones { nodes { " + fields + " } } }"))
    assert "tokens" in error["message"]


async def test_page_size_over_the_maximum_is_refused(client: httpx.AsyncClient) -> None:
    accepted(*await post(client, "{ zones(first: 500) { totalCount } }"))
    error = refused(*await post(client, "{ zones(first: 501) { totalCount } }"))
    assert "500" in error["message"]


NESTED = """query($outer: Int, $inner: Int) {
  zones(first: $outer) { nodes { code incidents(first: $inner) { nodes { code } } } }
}"""


async def test_cost_multiplies_the_first_of_nested_lists(client: httpx.AsyncClient) -> None:
    # zones + nodes + 400 × (code + incidents + nodes + 300 × code) = 121 202 > 120 000
    error = refused(*await post(client, NESTED, {"outer": 400, "inner": 300}))
    assert error["extensions"]["cost"] == 121_202
    assert error["extensions"]["maxCost"] == 120_000
    assert "first" in error["message"]
    # The same document with smaller pages passes: the verdict is not cached per document.
    accepted(*await post(client, NESTED, {"outer": 100, "inner": 50}))
    refused(*await post(client, NESTED, {"outer": 500, "inner": 500}))


async def test_cost_uses_defaults_and_the_largest_page_for_unknown_values(
    client: httpx.AsyncClient,
) -> None:
    # No variables: zones(first) defaults to 50, incidents(first) to 50: 2 + 50 × (3 + 50).
    accepted(*await post(client, NESTED))
    literal = "{ zones(first: 500) { nodes { incidents(first: 500) { nodes { code } } } } }"
    assert refused(*await post(client, literal))["extensions"]["cost"] == 2 + 500 * (2 + 500)
    # A variable of the wrong type counts as the largest page (coercion refuses it later anyway).
    refused(*await post(client, NESTED, {"outer": "many", "inner": 500}))


async def test_cyclic_and_unknown_fragments_do_not_hang_the_rules(
    client: httpx.AsyncClient,
) -> None:
    query = """
    query { zones { nodes { ...A ...Missing } } }
    fragment A on Zone { tasks { zone { ...B } } }
    fragment B on Zone { tasks { zone { ...A } } }
    """
    status, body = await post(client, query)
    assert status == 400
    assert {e["extensions"]["code"] for e in body["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}


async def test_limits_are_configurable(settings: Settings, conn: Conn) -> None:
    strict = replace(settings, max_depth=3, max_aliases=0, max_cost=10, max_tokens=20)
    async with serving(strict, conn) as http:
        accepted(*await post(http, "{ zones(first: 5) { nodes { code } } }"))
        assert refused(*await post(http, "{ zones { nodes { tasks { code } } } }"))
        assert refused(*await post(http, "{ z: zones(first: 1) { totalCount } }"))
        error = refused(*await post(http, "{ zones(first: 20) { nodes { code } } }"))
        assert error["extensions"]["cost"] == 22
        fields = " ".join(["code"] * 20)
        error = refused(*await post(http, "{ zones(first: 1) { nodes { " + fields + " } } }"))
        assert "20 tokens" in error["message"]


async def test_suggestions_can_be_turned_off(settings: Settings, conn: Conn) -> None:
    typo = "{ zones { nodes { cod } } }"
    bad_enum = "query($s: [ZoneStatus!]) { zones(filter: {status: $s}) { totalCount } }"
    async with serving(settings, conn) as http:
        assert "Did you mean" in (await post(http, typo))[1]["errors"][0]["message"]
    async with serving(replace(settings, suggestions=False), conn) as http:
        for query, variables in ((typo, {}), (bad_enum, {"s": ["OPN"]})):
            _status, body = await post(http, query, variables)
            (error,) = body["errors"]
            assert "Did you mean" not in error["message"], error
            assert "'OPEN'" not in error["message"] and "'code'" not in error["message"]


def test_without_suggestion_keeps_the_rest_of_the_message() -> None:
    message = "Cannot query field 'cod' on type 'Zone'. Did you mean 'code' or 'codes'?"
    assert without_suggestion(message) == "Cannot query field 'cod' on type 'Zone'."
    assert without_suggestion("Unknown argument.") == "Unknown argument."


async def test_introspection_can_be_turned_off(settings: Settings, conn: Conn) -> None:
    query = "{ __schema { queryType { name } } }"
    async with serving(settings, conn) as http:
        accepted(*await post(http, query))
    async with serving(replace(settings, introspection=False), conn) as http:
        status, body = await post(http, query)
        assert status == 400
        assert "introspection" in body["errors"][0]["message"].lower()
        # __typename is not introspection of the schema: it stays allowed.
        accepted(*await post(http, "{ zones(first: 1) { __typename } }"))


@pytest.mark.parametrize(
    "check",
    [
        lambda limits: limits.max_depth == 10,
        lambda limits: limits.max_aliases == 15,
        lambda limits: limits.max_tokens == 2000,
        lambda limits: limits.max_page_size == 500,
    ],
)
def test_default_limits_follow_the_issue(check: Callable[[QueryLimits], bool]) -> None:
    assert check(QueryLimits.from_settings(Settings.from_env({})))
    assert check(QueryLimits())


def test_the_schema_export_is_not_limited() -> None:
    # `mar schema` and tools introspect the schema through execute_sync: limits apply, and the
    # standard introspection query stays well within them.
    from graphql import get_introspection_query

    result = build_schema().execute_sync(get_introspection_query(descriptions=True))
    assert result.errors is None


def test_check_cost_gives_the_verdict_of_the_validation_rule() -> None:
    from graphql import parse, validate

    from api.graphql.limits import check_cost, cost_rule

    schema = build_schema()._schema
    document = parse(NESTED)
    for variables in ({"outer": 400, "inner": 300}, {"outer": 5, "inner": 5}, {}):
        direct = check_cost(schema, document, QueryLimits(), variables)
        visited = validate(schema, document, [cost_rule(QueryLimits(), variables)])
        assert [e.formatted for e in direct] == [e.formatted for e in visited]
    assert check_cost(schema, document, QueryLimits(), {"outer": 400, "inner": 300})
