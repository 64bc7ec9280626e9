"""Organisations and teams: create, look up, nest, filter, page; every rule with bad input."""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

import asyncpg
import pytest

from api.services.organisations import COUNTRY_CODES
from tests.helpers import GraphQLClient, error_fields

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record]"

CREATE_ORGANISATION = """
mutation($input: CreateOrganisationInput!) {
  createOrganisation(input: $input) { id code name orgType country teams { code } }
}
"""

CREATE_TEAM = """
mutation($input: CreateTeamInput!) {
  createTeam(input: $input) {
    id code name capabilities size status accreditationExpiresOn version
    organisation { code }
  }
}
"""

UPDATE_TEAM = """
mutation($id: ID!, $version: Int!, $input: UpdateTeamInput!) {
  updateTeam(id: $id, version: $version, input: $input) {
    id code name capabilities size status accreditationExpiresOn version updatedAt
    organisation { code }
  }
}
"""

TEAMS = """
query($filter: TeamFilter, $orderBy: TeamOrder, $first: Int, $after: String) {
  teams(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    nodes { code }
    edges { cursor node { code } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def create_organisation(gql: GraphQLClient, code: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": code,
        "name": f"Operator {code}",
        "orgType": "INTERNATIONAL_NGO",
        "country": "GB",
    }
    values.update(overrides)
    body = await gql(CREATE_ORGANISATION, {"input": values})
    assert "errors" not in body, body
    organisation: dict[str, Any] = body["data"]["createOrganisation"]
    return organisation


def team_input(code: str, organisation_id: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": code,
        "name": f"Team {code}",
        "organisationId": organisation_id,
        "capabilities": ["MANUAL"],
        "size": 8,
    }
    values.update(overrides)
    return values


async def create_team(
    gql: GraphQLClient, code: str, organisation_id: str, **overrides: Any
) -> dict[str, Any]:
    body = await gql(CREATE_TEAM, {"input": team_input(code, organisation_id, **overrides)})
    assert "errors" not in body, body
    team: dict[str, Any] = body["data"]["createTeam"]
    return team


async def count(conn: Conn, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def team_row(conn: Conn, code: str) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT * FROM teams WHERE code = $1", code)
    assert row is not None
    return dict(row)


# Organisations


async def test_create_organisation_and_look_it_up_by_id_and_code(gql: GraphQLClient) -> None:
    created = await create_organisation(gql, "OP-1", orgType="COMMERCIAL", country="AO")
    assert created["orgType"] == "COMMERCIAL"
    assert created["country"] == "AO"
    assert created["teams"] == []
    query = "query($id: ID, $code: String) { organisation(id: $id, code: $code) { id code } }"
    by_id = await gql(query, {"id": created["id"]})
    by_code = await gql(query, {"code": "OP-1"})
    expected = {"id": created["id"], "code": "OP-1"}
    assert by_id["data"]["organisation"] == by_code["data"]["organisation"] == expected
    assert await gql(query, {"code": "OP-404"}) == {"data": {"organisation": None}}
    assert error_fields(await gql(query, {"id": "x1"})) == ["id"]
    assert error_fields(await gql(query, {})) == ["id"]
    assert error_fields(await gql(query, {"id": created["id"], "code": "OP-1"})) == ["id"]


async def test_country_is_optional_and_user_assigned_codes_are_accepted(
    gql: GraphQLClient,
) -> None:
    assert (await create_organisation(gql, "OP-2", country=None))["country"] is None
    assert (await create_organisation(gql, "OP-3", country="ZZ"))["country"] == "ZZ"
    assert (await create_organisation(gql, "OP-4", country="XK"))["country"] == "XK"


def test_country_codes_are_the_assigned_ones_and_the_user_assigned_ones() -> None:
    user_assigned = 1 + 14 + 26 + 1  # AA, QM-QZ, XA-XZ, ZZ
    assert len(COUNTRY_CODES) == 249 + user_assigned
    assert {"GB", "AF", "KH", "UA", "ZW"} <= COUNTRY_CODES
    assert not {"UK", "EU", "gb"} & COUNTRY_CODES


async def test_organisation_rules_name_every_bad_field_and_write_nothing(
    gql: GraphQLClient, conn: Conn
) -> None:
    before = await count(conn, "organisations")
    body = await gql(
        CREATE_ORGANISATION,
        {"input": {"code": " bad", "name": "  ", "orgType": "UN", "country": "UK"}},
    )
    assert set(error_fields(body)) == {"input.code", "input.name", "input.country"}
    for country in ("gb", "GBR", "G", "U1"):
        body = await gql(
            CREATE_ORGANISATION,
            {"input": {"code": "OP-C", "name": "Country", "orgType": "UN", "country": country}},
        )
        assert error_fields(body) == ["input.country"], country
    body = await gql(
        CREATE_ORGANISATION,
        {"input": {"code": "OP-L", "name": "x" * 301, "orgType": "UN"}},
    )
    assert error_fields(body) == ["input.name"]
    # An unknown organisation type is refused by the schema itself.
    body = await gql(
        CREATE_ORGANISATION,
        {"input": {"code": "OP-T", "name": "Type", "orgType": "CHARITY"}},
    )
    assert "errors" in body and body.get("data") is None
    assert await count(conn, "organisations") == before


async def test_duplicate_organisation_code_is_a_conflict_and_writes_nothing(
    gql: GraphQLClient, conn: Conn
) -> None:
    await create_organisation(gql, "OP-D")
    before = await count(conn, "organisations")
    body = await gql(
        CREATE_ORGANISATION, {"input": {"code": "OP-D", "name": "Again", "orgType": "UN"}}
    )
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "input.code" in body["errors"][0]["message"]
    assert await count(conn, "organisations") == before


async def test_organisations_pages_in_code_or_name_order(gql: GraphQLClient) -> None:
    for code, name in [("OP-C", "Alpha"), ("OP-A", "Charlie"), ("OP-B", "Bravo")]:
        await create_organisation(gql, code, name=name)
    query = """
    query($orderBy: OrganisationOrder, $first: Int, $after: String) {
      organisations(orderBy: $orderBy, first: $first, after: $after) {
        totalCount nodes { code } pageInfo { hasNextPage endCursor }
      }
    }
    """
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(query, {"first": 2, "after": after}))["data"]["organisations"]
        assert page["totalCount"] == 3
        seen += [n["code"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["OP-A", "OP-B", "OP-C"]
    by_name = await gql(query, {"orderBy": "NAME_ASC"})
    assert [n["code"] for n in by_name["data"]["organisations"]["nodes"]] == [
        "OP-C",
        "OP-B",
        "OP-A",
    ]
    descending = await gql(query, {"orderBy": "CODE_DESC", "first": 1})
    cursor = descending["data"]["organisations"]["pageInfo"]["endCursor"]
    assert [n["code"] for n in descending["data"]["organisations"]["nodes"]] == ["OP-C"]
    assert error_fields(await gql(query, {"after": cursor})) == ["after"]


# Teams


async def test_create_team_defaults_and_nested_organisation(gql: GraphQLClient) -> None:
    organisation = await create_organisation(gql, "OP-T1")
    team = await create_team(
        gql,
        "TM-1",
        organisation["id"],
        capabilities=["TS", "MANUAL", "MDD", "MANUAL"],
        accreditationExpiresOn="2031-06-30",
    )
    assert team["status"] == "ACTIVE"
    assert team["version"] == 1
    assert team["size"] == 8
    # Without duplicates, in the enumeration's order.
    assert team["capabilities"] == ["MANUAL", "MDD", "TS"]
    assert team["accreditationExpiresOn"] == "2031-06-30"
    assert team["organisation"] == {"code": "OP-T1"}
    without = await create_team(gql, "TM-2", organisation["id"], capabilities=[], status="STANDBY")
    assert (without["capabilities"], without["status"]) == ([], "STANDBY")

    query = """
    query($id: ID, $code: String) {
      team(id: $id, code: $code) { id code organisation { code teams { code } } }
    }
    """
    by_id = await gql(query, {"id": team["id"]})
    by_code = await gql(query, {"code": "TM-1"})
    assert by_id["data"]["team"] == by_code["data"]["team"]
    assert by_id["data"]["team"]["organisation"] == {
        "code": "OP-T1",
        "teams": [{"code": "TM-1"}, {"code": "TM-2"}],
    }
    assert await gql(query, {"code": "TM-404"}) == {"data": {"team": None}}
    assert error_fields(await gql(query, {"id": "-1"})) == ["id"]


async def test_team_rules_name_every_bad_field_and_write_nothing(
    gql: GraphQLClient, conn: Conn
) -> None:
    organisation = await create_organisation(gql, "OP-T2")
    before = await count(conn, "teams")
    body = await gql(
        CREATE_TEAM,
        {"input": team_input("bad code!", "999999", name="", size=0)},
    )
    assert set(error_fields(body)) == {
        "input.code",
        "input.name",
        "input.size",
        "input.organisationId",
    }
    messages = {f["field"]: f["message"] for f in body["errors"][0]["extensions"]["fields"]}
    assert "existing organisation" in messages["input.organisationId"]
    for size in (-3, 501, 10_000):
        body = await gql(CREATE_TEAM, {"input": team_input("TM-S", organisation["id"], size=size)})
        assert error_fields(body) == ["input.size"], size
    body = await gql(CREATE_TEAM, {"input": team_input("TM-I", "not-an-id")})
    assert error_fields(body) == ["input.organisationId"]
    body = await gql(CREATE_TEAM, {"input": team_input("TM-N", organisation["id"], name="n" * 301)})
    assert error_fields(body) == ["input.name"]
    assert await count(conn, "teams") == before


async def test_team_size_bounds_are_accepted(gql: GraphQLClient) -> None:
    organisation = await create_organisation(gql, "OP-T3")
    assert (await create_team(gql, "TM-MIN", organisation["id"], size=1))["size"] == 1
    assert (await create_team(gql, "TM-MAX", organisation["id"], size=500))["size"] == 500


async def test_duplicate_team_code_is_a_conflict_and_writes_nothing(
    gql: GraphQLClient, conn: Conn
) -> None:
    organisation = await create_organisation(gql, "OP-T4")
    await create_team(gql, "TM-D", organisation["id"])
    before = await count(conn, "teams")
    body = await gql(CREATE_TEAM, {"input": team_input("TM-D", organisation["id"])})
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "input.code" in body["errors"][0]["message"]
    assert await count(conn, "teams") == before


async def test_update_team_changes_only_what_is_sent_and_bumps_the_version(
    gql: GraphQLClient, conn: Conn
) -> None:
    first = await create_organisation(gql, "OP-U1")
    second = await create_organisation(gql, "OP-U2")
    team = await create_team(gql, "TM-U", first["id"], accreditationExpiresOn="2030-01-01")
    body = await gql(
        UPDATE_TEAM,
        {
            "id": team["id"],
            "version": 1,
            "input": {
                "name": "Renamed",
                "capabilities": ["EOD", "NTS"],
                "size": 12,
                "status": "STANDBY",
                "organisationId": second["id"],
            },
        },
    )
    updated = body["data"]["updateTeam"]
    assert updated["version"] == 2
    assert updated["name"] == "Renamed"
    assert updated["capabilities"] == ["EOD", "NTS"]
    assert (updated["size"], updated["status"]) == (12, "STANDBY")
    assert updated["organisation"] == {"code": "OP-U2"}
    assert updated["accreditationExpiresOn"] == "2030-01-01"  # not sent: kept
    cleared = await gql(
        UPDATE_TEAM, {"id": team["id"], "version": 2, "input": {"accreditationExpiresOn": None}}
    )
    assert cleared["data"]["updateTeam"]["accreditationExpiresOn"] is None
    assert cleared["data"]["updateTeam"]["version"] == 3
    nothing = await gql(UPDATE_TEAM, {"id": team["id"], "version": 3, "input": {}})
    assert nothing["data"]["updateTeam"]["version"] == 4
    assert (await team_row(conn, "TM-U"))["name"] == "Renamed"


async def test_update_team_refuses_bad_values_and_writes_nothing(
    gql: GraphQLClient, conn: Conn
) -> None:
    organisation = await create_organisation(gql, "OP-U3")
    team = await create_team(gql, "TM-UB", organisation["id"])
    before = await team_row(conn, "TM-UB")
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"size": 501, "name": " "}, {"input.size", "input.name"}),
        ({"size": 0}, {"input.size"}),
        ({"organisationId": "999999"}, {"input.organisationId"}),
        ({"organisationId": "abc"}, {"input.organisationId"}),
        (
            {"name": None, "capabilities": None, "size": None, "status": None},
            {"input.name", "input.capabilities", "input.size", "input.status"},
        ),
        ({"organisationId": None}, {"input.organisationId"}),
    ]
    for changes, fields in cases:
        body = await gql(UPDATE_TEAM, {"id": team["id"], "version": 1, "input": changes})
        assert set(error_fields(body)) == fields, changes
    assert await team_row(conn, "TM-UB") == before


async def test_stale_version_is_a_conflict_and_unknown_team_not_found(
    gql: GraphQLClient, conn: Conn
) -> None:
    organisation = await create_organisation(gql, "OP-U4")
    team = await create_team(gql, "TM-V", organisation["id"])
    await gql(UPDATE_TEAM, {"id": team["id"], "version": 1, "input": {"size": 20}})
    after_first = await team_row(conn, "TM-V")
    stale = await gql(UPDATE_TEAM, {"id": team["id"], "version": 1, "input": {"size": 30}})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "version 1" in stale["errors"][0]["message"]
    assert await team_row(conn, "TM-V") == after_first
    assert after_first["size"] == 20 and after_first["version"] == 2

    missing = await gql(UPDATE_TEAM, {"id": "999999", "version": 1, "input": {"size": 2}})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert error_fields(await gql(UPDATE_TEAM, {"id": "x", "version": 1, "input": {}})) == ["id"]


async def seed_teams(gql: GraphQLClient) -> tuple[str, str]:
    """Two organisations and five teams; return the organisations' ids."""
    demining = await create_organisation(gql, "OP-F1", name="Demining Org")
    army = await create_organisation(gql, "OP-F2", name="Army Engineers", orgType="MILITARY")
    specs: list[tuple[str, str, str, list[str], str, str | None]] = [
        ("TM-F1", "Alpha manual", demining["id"], ["MANUAL"], "ACTIVE", "2030-12-31"),
        ("TM-F2", "Bravo dogs", demining["id"], ["MDD", "MANUAL"], "STANDBY", "2024-01-31"),
        ("TM-F3", "Charlie machine", demining["id"], ["MECHANICAL"], "INACTIVE", None),
        ("TM-F4", "Delta EOD", army["id"], ["EOD"], "ACTIVE", "2025-06-30"),
        ("TM-F5", "Echo survey", army["id"], ["NTS", "TS"], "ACTIVE", None),
    ]
    for code, name, organisation_id, capabilities, status, expires in specs:
        await create_team(
            gql,
            code,
            organisation_id,
            name=name,
            capabilities=capabilities,
            status=status,
            accreditationExpiresOn=expires,
        )
    return demining["id"], army["id"]


async def test_team_filters(gql: GraphQLClient) -> None:
    demining, army = await seed_teams(gql)

    async def codes(filter: dict[str, Any]) -> list[str]:
        body = await gql(TEAMS, {"filter": filter})
        assert "errors" not in body, body
        return [n["code"] for n in body["data"]["teams"]["nodes"]]

    assert await codes({"status": ["STANDBY", "INACTIVE"]}) == ["TM-F2", "TM-F3"]
    assert await codes({"organisationId": army}) == ["TM-F4", "TM-F5"]
    assert await codes({"organisationId": demining, "status": ["ACTIVE"]}) == ["TM-F1"]
    assert await codes({"capability": ["MANUAL", "TS"]}) == ["TM-F1", "TM-F2", "TM-F5"]
    assert await codes({"search": "ALPHA"}) == ["TM-F1"]
    assert await codes({"search": "tm-f"}) == ["TM-F1", "TM-F2", "TM-F3", "TM-F4", "TM-F5"]
    assert await codes({"search": "_"}) == []
    # Expired before that day: left out; no expiry date: counted as accredited.
    assert await codes({"accreditedOn": "2025-01-01", "search": "TM-F"}) == [
        "TM-F1",
        "TM-F3",
        "TM-F4",
        "TM-F5",
    ]
    assert await codes({"accreditedOn": "2025-06-30", "search": "TM-F"}) == [
        "TM-F1",
        "TM-F3",
        "TM-F4",
        "TM-F5",
    ]
    assert await codes({"accreditedOn": "2025-07-01", "search": "TM-F"}) == [
        "TM-F1",
        "TM-F3",
        "TM-F5",
    ]
    assert await codes({"organisationId": "999999"}) == []
    assert error_fields(await gql(TEAMS, {"filter": {"organisationId": "x"}})) == [
        "filter.organisationId"
    ]
    assert error_fields(await gql(TEAMS, {"filter": {"search": "s" * 201}})) == ["filter.search"]


async def test_team_keyset_pages_orders_and_bad_cursors(gql: GraphQLClient) -> None:
    await seed_teams(gql)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(TEAMS, {"first": 2, "after": after, "filter": {"search": "TM-F"}})
        page = body["data"]["teams"]
        assert page["totalCount"] == 5
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [n["code"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["TM-F1", "TM-F2", "TM-F3", "TM-F4", "TM-F5"]

    descending = await gql(TEAMS, {"orderBy": "CODE_DESC", "first": 2})
    page = descending["data"]["teams"]
    assert [n["code"] for n in page["nodes"]] == ["TM-F5", "TM-F4"]
    rest = await gql(
        TEAMS, {"orderBy": "CODE_DESC", "first": 2, "after": page["pageInfo"]["endCursor"]}
    )
    assert [n["code"] for n in rest["data"]["teams"]["nodes"]] == ["TM-F3", "TM-F2"]
    by_name = await gql(TEAMS, {"orderBy": "NAME_ASC", "filter": {"organisationId": None}})
    assert [n["code"] for n in by_name["data"]["teams"]["nodes"]][:2] == ["TM-F1", "TM-F2"]

    other_order = await gql(TEAMS, {"after": page["pageInfo"]["endCursor"]})
    assert error_fields(other_order) == ["after"]
    assert error_fields(await gql(TEAMS, {"after": "garbage!"})) == ["after"]
    too_many = await gql(TEAMS, {"first": 501})
    assert too_many["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


# Compiled, a read is one statement; executed, the page and one batch per nested level.
@pytest.mark.parametrize(("compiled_reads", "expected"), [(True, 1), (False, 3)])
async def test_nested_organisations_cost_the_same_statements_for_5_and_40_teams(
    gql: GraphQLClient, sql_log: list[str], expected: int
) -> None:
    query = "{ teams(first: 50) { nodes { code organisation { name teams { code } } } } }"
    organisations = [(await create_organisation(gql, f"OP-N{i}"))["id"] for i in range(8)]

    async def statements_for(teams: int) -> int:
        for i in range(teams):
            await create_team(gql, f"TM-N{teams}-{i:02}", organisations[i % len(organisations)])
        await asyncio.sleep(0)
        sql_log.clear()
        body = await gql(query)
        await asyncio.sleep(0)  # asyncpg hands log records to the logger on the next loop turn
        assert "errors" not in body, body
        assert len(body["data"]["teams"]["nodes"]) >= teams
        return len(sql_log)

    few = await statements_for(5)
    many = await statements_for(35)  # 40 teams in all
    # Executed: the page, the organisations of its teams, and those organisations' teams.
    assert few == many == expected
