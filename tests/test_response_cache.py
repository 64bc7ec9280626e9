"""Read-only answers are reused exactly while no record has changed (these tests commit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from db.pool import PoolSource, create_pool
from tests.helpers import make_key

LIST = {"query": "{ zones(first: 10, orderBy: CODE_ASC) { totalCount nodes { code } } }"}
CREATE = {
    "query": """mutation($code: String!) { createZone(input: {code: $code, name: "Cached",
        hazardType: SHA, contamination: [UXO], geometry: {type: "Polygon",
        coordinates: [[[5, 5], [5.001, 5], [5.001, 5.001], [5, 5.001], [5, 5]]]}}) { code } }""",
}


@pytest.fixture
async def http(fresh_db_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    pool = await create_pool(fresh_db_url, min_size=0, max_size=4)
    app = create_app(replace(settings, response_cache=True), db=PoolSource(pool))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as client:
        yield client
    await pool.close()


@pytest.fixture
async def editor(fresh_db_url: str) -> dict[str, str]:
    """Headers of an editor's key, committed in the test's database."""
    conn = await asyncpg.connect(fresh_db_url)
    try:
        secret = await make_key(conn, "cache editor", "editor")
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {secret}"}


async def codes(http: httpx.AsyncClient, **headers: str) -> tuple[str, list[str]]:
    response = await http.post("/graphql", json=LIST, headers=headers)
    body = response.json()
    return response.headers["x-cache"], [n["code"] for n in body["data"]["zones"]["nodes"]]


async def test_a_repeated_query_is_answered_from_the_cache(http: httpx.AsyncClient) -> None:
    assert await codes(http) == ("miss", [])
    assert await codes(http) == ("hit", [])
    # A client can always ask for a fresh execution.
    response = await http.post("/graphql", json=LIST, headers={"cache-control": "no-cache"})
    assert "x-cache" not in response.headers


async def test_a_committed_write_through_the_api_is_seen_at_once(
    http: httpx.AsyncClient, editor: dict[str, str]
) -> None:
    await codes(http)
    created = await http.post(
        "/graphql", json={**CREATE, "variables": {"code": "HA-C1"}}, headers=editor
    )
    assert "x-cache" not in created.headers  # mutations are never cached
    assert created.json() == {"data": {"createZone": {"code": "HA-C1"}}}
    assert await codes(http) == ("miss", ["HA-C1"])
    assert await codes(http) == ("hit", ["HA-C1"])
    # An editor may see personal data: its answers are never cached.
    response = await http.post("/graphql", json=LIST, headers=editor)
    assert "x-cache" not in response.headers


async def test_a_write_from_outside_the_api_is_seen_at_once(
    http: httpx.AsyncClient, fresh_db_url: str
) -> None:
    await codes(http)
    assert (await codes(http))[0] == "hit"
    other = await asyncpg.connect(fresh_db_url)
    try:
        async with other.transaction():
            await other.execute(
                "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
                "VALUES ('HA-SQL', 'By SQL', 'CHA', '{IED}', ST_Multi(ST_GeomFromText("
                "'POLYGON((6 6, 6.001 6, 6.001 6.001, 6 6.001, 6 6))', 4326)), 2)"
            )
            # Not committed yet: the cached answer is still the truth.
            assert await codes(http) == ("hit", [])
        assert await codes(http) == ("miss", ["HA-SQL"])
        # One bump per committed transaction, however many rows and statements it changed;
        # none for a transaction that rolls back.
        version = await other.fetchval("SELECT n FROM data_version")
        async with other.transaction():
            await other.execute("UPDATE zones SET priority = 5")
            await other.execute("UPDATE zones SET priority = 4")
        assert await other.fetchval("SELECT n FROM data_version") == version + 1
        rolled_back = other.transaction()
        await rolled_back.start()
        await other.execute("UPDATE zones SET priority = 3")
        await rolled_back.rollback()
        assert await other.fetchval("SELECT n FROM data_version") == version + 1
    finally:
        await other.close()


INCIDENT = {"query": '{ incident(code: "ACC-C1") { code description } }'}
RECORD = """mutation { recordIncident(input: {code: "ACC-C1", incidentType: MINE_ACCIDENT,
    occurredOn: "2024-03-01", location: {type: "Point", coordinates: [7, 7]},
    description: "Partners only: struck while ploughing"}) { code } }"""


@pytest.mark.parametrize("order", [("partner", "public"), ("public", "partner")])
async def test_each_role_gets_its_own_answer_from_the_cache(
    http: httpx.AsyncClient, editor: dict[str, str], fresh_db_url: str, order: tuple[str, str]
) -> None:
    """The same body sent by two roles, in either order, is two entries: neither is ever
    answered with the other's, whether they differ (a field only partners read) or not."""
    recorded = await http.post("/graphql", json={"query": RECORD}, headers=editor)
    assert recorded.json() == {"data": {"recordIncident": {"code": "ACC-C1"}}}
    conn = await asyncpg.connect(fresh_db_url)
    try:
        partner = await make_key(conn, "cache partner", "partner")
    finally:
        await conn.close()
    headers = {"public": {}, "partner": {"Authorization": f"Bearer {partner}"}}

    async def ask(role: str, body: dict[str, str]) -> tuple[str, Any]:
        response = await http.post("/graphql", json=body, headers=headers[role])
        return response.headers["x-cache"], response.json()

    partner_answer = {
        "data": {
            "incident": {"code": "ACC-C1", "description": "Partners only: struck while ploughing"}
        }
    }
    # Every role asks twice, one after the other; then both once more.
    seen = {role: [await ask(role, INCIDENT) for _ in range(2)] for role in order}
    for role in order:
        seen[role].append(await ask(role, INCIDENT))
    assert seen["partner"] == [
        ("miss", partner_answer),
        ("hit", partner_answer),
        ("hit", partner_answer),
    ]
    for cached, public_answer in seen["public"]:
        assert "ploughing" not in str(public_answer)
        assert public_answer["data"] == {"incident": {"code": "ACC-C1", "description": None}}
        (error,) = public_answer["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert cached == "miss"  # an answer with an error is never kept
    # A body both roles read alike is still kept once per role.
    lists = {role: [await ask(role, LIST) for _ in range(2)] for role in order}
    for role in order:
        assert [cached for cached, _ in lists[role]] == ["miss", "hit"], role
    assert lists["partner"] == lists["public"]
