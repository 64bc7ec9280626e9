"""Request bodies over the limit are 413; every request is one JSON access-log line; CORS only for
the configured origins."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from api.app import create_app
from api.logs import JsonFormatter
from api.settings import Settings
from db.pool import Connection, SingleConnectionSource

QUERY = "query CountZones { zones(first: 1) { totalCount } }"


def client_for(settings: Settings, conn: Connection) -> httpx.AsyncClient:
    app = create_app(settings, db=SingleConnectionSource(conn))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mar.test")


@pytest.fixture
async def small(settings: Settings, conn: Connection) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(replace(settings, max_body_bytes=2048), conn) as http:
        yield http


async def test_a_body_over_the_limit_is_413_problem_json(
    small: httpx.AsyncClient, conn: Connection
) -> None:
    await conn.execute(
        "INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority) "
        "VALUES ('HA-FITS', 'Fits', 'CHA', '{IED}', ST_Multi(ST_GeomFromText("
        "'POLYGON((6 6, 6.001 6, 6.001 6.001, 6 6.001, 6 6))', 4326)), 2)"
    )
    padding = "x" * 3000
    response = await small.post("/graphql", json={"query": QUERY, "variables": {"p": padding}})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "PAYLOAD_TOO_LARGE" and "2048 bytes" in problem["detail"]
    assert problem["requestId"] == response.headers["x-request-id"]
    # Just under the limit passes.
    fits = await small.post("/graphql", json={"query": QUERY, "variables": {"p": "x" * 1900}})
    assert fits.status_code == 200
    assert fits.json()["data"]["zones"]["totalCount"] == 1  # the one zone above: it was served


async def test_a_streamed_body_without_length_is_cut_at_the_limit(
    small: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "' + QUERY.encode() + b'", "variables": {"p": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}}'

    response = await small.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_default_body_limit_is_one_mebibyte(settings: Settings, conn: Connection) -> None:
    assert Settings.from_env({}).max_body_bytes == 1024 * 1024
    async with client_for(settings, conn) as http:
        big = await http.post("/graphql", content=b" " * (1024 * 1024 + 1))
        assert big.status_code == 413


async def test_each_request_is_one_access_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mar.access")
    await client.post("/graphql", json={"query": QUERY}, headers={"X-Request-ID": "req-log-1"})
    await client.post("/graphql", json={"query": '{ zone(id: "x") { code } }'})
    await client.get("/no/such/path")
    first, second, third = [r for r in caplog.records if r.name == "mar.access"]
    line = json.loads(JsonFormatter().format(first))
    assert line["request_id"] == "req-log-1"
    assert line["operation"] == "CountZones"
    assert line["key_name"] is None  # anonymous
    assert line["status"] == 200 and line["outcome"] == "ok"
    assert line["path"] == "/graphql" and line["method"] == "POST"
    assert isinstance(line["duration_ms"], float)
    assert second.outcome == "BAD_USER_INPUT" and second.operation == "query"
    assert third.outcome == "client_error" and third.status == 404


async def test_cors_answers_only_the_configured_origins(
    settings: Settings, conn: Connection
) -> None:
    preflight = {
        "origin": "https://dash.example.org",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    async with client_for(settings, conn) as http:
        response = await http.options("/graphql", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    allowed = replace(settings, cors_origins=("https://dash.example.org",))
    async with client_for(allowed, conn) as http:
        response = await http.options("/graphql", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://dash.example.org"
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        answer = await http.post(
            "/graphql", json={"query": QUERY}, headers={"origin": "https://dash.example.org"}
        )
        assert answer.headers["access-control-allow-origin"] == "https://dash.example.org"
        assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
        other = await http.options(
            "/graphql", headers={**preflight, "origin": "https://evil.example.com"}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("https://a.example.org", ("https://a.example.org",)),
        (
            " https://a.example.org/ , http://localhost:3000",
            ("https://a.example.org", "http://localhost:3000"),
        ),
        ("*", ("*",)),
    ],
)
def test_cors_origins_setting(raw: str, expected: tuple[str, ...]) -> None:
    assert Settings.from_env({"MAR_CORS_ORIGINS": raw}).cors_origins == expected


def test_a_bad_cors_origin_is_refused_with_the_variable_named() -> None:
    from api.settings import SettingsError

    with pytest.raises(SettingsError, match="MAR_CORS_ORIGINS"):
        Settings.from_env({"MAR_CORS_ORIGINS": "dash.example.org/path"})
