"""Casualties: addCasualty, the derived age group, and personal data visible only to editors
and admins (API.md "Access").
"""

from __future__ import annotations

from typing import Any

import pytest

from api.graphql.context import Context
from api.graphql.schema import build_schema
from api.settings import Settings
from db.pool import Connection, SingleConnectionSource
from tests.helpers import GraphQLClient, error_fields
from tests.test_incidents import counts, record

ADD = """
mutation($incidentId: ID!, $input: CasualtyInput!) {
  addCasualty(incidentId: $incidentId, input: $input) { id outcome category sex age ageGroup }
}
"""

KILLED = "query($id: ID) { incident(id: $id) { killed injured casualties { id } } }"


async def test_add_casualty_derives_the_age_group_and_counts_it(gql: GraphQLClient) -> None:
    incident = await record(gql, "ACC-C1")
    groups = {}
    for age in (0, 17, 18, 120, None):
        body = await gql(
            ADD,
            {"incidentId": incident["id"], "input": {"outcome": "KILLED", "age": age}},
        )
        assert "errors" not in body, body
        groups[age] = body["data"]["addCasualty"]["ageGroup"]
    assert groups == {0: "CHILD", 17: "CHILD", 18: "ADULT", 120: "ADULT", None: "UNKNOWN"}
    added = await gql(
        ADD,
        {
            "incidentId": incident["id"],
            "input": {"outcome": "INJURED", "category": "DEMINER", "sex": "FEMALE", "age": 31},
        },
    )
    casualty = added["data"]["addCasualty"]
    assert (casualty["outcome"], casualty["category"], casualty["sex"]) == (
        "INJURED",
        "DEMINER",
        "FEMALE",
    )
    totals = (await gql(KILLED, {"id": incident["id"]}))["data"]["incident"]
    assert (totals["killed"], totals["injured"], len(totals["casualties"])) == (5, 1, 6)


async def test_add_casualty_refuses_a_bad_age_and_writes_nothing(
    gql: GraphQLClient, conn: Connection
) -> None:
    incident = await record(gql, "ACC-C2")
    before = await counts(conn)
    for age in (-1, 121):
        body = await gql(ADD, {"incidentId": incident["id"], "input": {"age": age}})
        assert error_fields(body) == ["input.age"]
        assert "between 0 and 120" in body["errors"][0]["message"]
    assert await counts(conn) == before


async def test_add_casualty_to_an_unknown_incident(gql: GraphQLClient, conn: Connection) -> None:
    before = await counts(conn)
    missing = await gql(ADD, {"incidentId": "999999", "input": {"outcome": "KILLED"}})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert error_fields(await gql(ADD, {"incidentId": "one", "input": {}})) == ["incidentId"]
    assert await counts(conn) == before


PERSONAL = """
query($id: ID) {
  incident(id: $id) { casualties { outcome age fullName notes } }
}
"""


async def test_personal_data_is_forbidden_to_the_public(gql: GraphQLClient) -> None:
    incident = await record(
        gql,
        "ACC-C3",
        casualties=[{"outcome": "KILLED", "age": 40, "fullName": "A. B.", "notes": "n"}],
    )
    body = await gql(PERSONAL, {"id": incident["id"]}, authorization="")  # anonymous: public
    # The record is there; only its personal fields resolve to null, each with FORBIDDEN.
    assert body["data"]["incident"]["casualties"] == [
        {"outcome": "KILLED", "age": 40, "fullName": None, "notes": None}
    ]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert sorted(e["path"][-1] for e in body["errors"]) == ["fullName", "notes"]
    assert "A. B." not in str(body)
    # Asking without the personal fields is no error at all.
    plain = await gql(
        "query($id: ID) { incident(id: $id) { casualties { age } } }",
        {"id": incident["id"]},
        authorization="",
    )
    assert "errors" not in plain


async def run_as(
    role: str, conn: Connection, settings: Settings, query: str, variables: dict[str, Any]
) -> tuple[Any, list[dict[str, Any]]]:
    """Execute against the schema with a context of the given role (keys arrive later)."""
    context = Context(
        db=SingleConnectionSource(conn), settings=settings, request_id="test", role=role
    )
    result = await build_schema().execute(query, variable_values=variables, context_value=context)
    errors = [
        {"code": (e.extensions or {}).get("code"), "path": e.path} for e in result.errors or []
    ]
    return result.data, errors


@pytest.mark.parametrize(
    ("role", "visible"), [("editor", True), ("admin", True), ("partner", False), ("public", False)]
)
async def test_personal_data_by_role(
    gql: GraphQLClient, conn: Connection, settings: Settings, role: str, visible: bool
) -> None:
    incident = await record(
        gql, "ACC-C4", casualties=[{"outcome": "INJURED", "fullName": "C. D.", "notes": "leg"}]
    )
    data, errors = await run_as(role, conn, settings, PERSONAL, {"id": incident["id"]})
    (casualty,) = data["incident"]["casualties"]
    if visible:
        assert (casualty["fullName"], casualty["notes"]) == ("C. D.", "leg")
        assert errors == []
    else:
        assert (casualty["fullName"], casualty["notes"]) == (None, None)
        assert {e["code"] for e in errors} == {"FORBIDDEN"} and len(errors) == 2
