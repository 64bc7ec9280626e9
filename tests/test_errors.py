"""Bad input and unexpected failures: clear codes for the client, details only in the log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from db.pool import Connection, PoolExhausted
from tests.helpers import GraphQLClient


class BrokenSource:
    """A connection source whose every use fails in a way the client must never see."""

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        raise RuntimeError("secret detail: /srv/mar/db.py line 42 SELECT password")
        yield  # pragma: no cover - makes this an async generator


async def test_unexpected_error_is_masked_and_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, db=BrokenSource())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://mar.test"
    ) as http:
        response = await http.post(
            "/graphql",
            json={"query": '{ zone(code: "X") { code } }'},
            headers={"X-Request-ID": "req-77"},
        )
    body = response.json()
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-77"}
    assert "req-77" in error["message"]
    assert "secret" not in response.text and "SELECT" not in response.text
    logged = [r for r in caplog.records if r.name == "mar.graphql"]
    assert logged and logged[0].exc_info is not None
    assert "secret detail" in str(logged[0].exc_info[1])


async def test_malformed_json_is_a_400_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b'{"query": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.text


async def test_syntax_and_validation_errors_are_coded(client: httpx.AsyncClient) -> None:
    syntax = await client.post("/graphql", json={"query": "{ zones("})
    assert syntax.status_code == 200
    assert syntax.headers["content-type"].startswith("application/json")
    assert syntax.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    unknown = await client.post("/graphql", json={"query": "{ zones { nope } }"})
    assert unknown.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    bad_variable = await client.post(
        "/graphql",
        json={
            "query": "query($f: ZoneFilter) { zones(filter: $f) { totalCount } }",
            "variables": {"f": {"status": ["SOMETIMES"]}},
        },
    )
    assert bad_variable.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_rest_errors_are_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/path")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "NOT_FOUND" and problem["status"] == 404
    assert problem["requestId"] == response.headers["x-request-id"]


GRAPHQL_RESPONSE = {"accept": "application/graphql-response+json"}


async def test_graphql_response_json_uses_400_for_request_errors_only(
    client: httpx.AsyncClient, editor_key: str
) -> None:
    syntax = await client.post("/graphql", json={"query": "{ zones("}, headers=GRAPHQL_RESPONSE)
    assert syntax.status_code == 400
    assert syntax.headers["content-type"].startswith("application/graphql-response+json")
    assert "data" not in syntax.json()
    # A rule broken during execution is an execution error: 200, with data null.
    execution = await client.post(
        "/graphql",
        json={
            "query": 'mutation { createZone(input: {code: "!", name: "x", hazardType: SHA, '
            'contamination: [UXO], geometry: {type: "Point", coordinates: [0, 0]}}) { id } }'
        },
        headers={**GRAPHQL_RESPONSE, "authorization": f"Bearer {editor_key}"},
    )
    assert execution.status_code == 200
    assert execution.json()["data"] is None
    assert execution.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_nul_character_in_text_is_bad_input_not_a_crash(gql: GraphQLClient) -> None:
    # PostgreSQL text cannot hold NUL; the fuzzer found it through task(code:). (One statement:
    # the refusal aborts the test's enclosing transaction.)
    body = await gql("query($c: String) { task(code: $c) { id } }", {"c": "A\x00B"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "NUL" in body["errors"][0]["message"]


class BusySource:
    """A connection source whose pool never has a connection free."""

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        raise PoolExhausted(0.1)
        yield  # pragma: no cover - makes this an async generator


async def test_a_busy_pool_on_a_rest_route_is_answered_not_raised(settings: Settings) -> None:
    # Answered by its own handler: Starlette re-raises what the catch-all handler answers, which
    # made uvicorn log a traceback and drop the connection after the 503 was sent.
    app = create_app(settings, db=BusySource())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://mar.test") as http:
        response = await http.get("/ogc/collections/zones/items")
    assert response.status_code == 503
    assert response.json()["code"] == "INTERNAL_SERVER_ERROR"
    assert "busy" in response.json()["detail"]
    assert response.headers["x-request-id"] == response.json()["requestId"]
