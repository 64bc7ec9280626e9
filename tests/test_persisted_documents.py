"""Operations sent by reference against the real server: Apollo's Automatic Persisted Queries
(with @apollo/client's persisted query link, over POST and GET), trusted documents registered
with `mar documents add` and run by `documentId`, GETs revalidated with an exact ETag (304 until
the data changes), and MAR_TRUSTED_DOCUMENTS_ONLY."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.cli import main
from tests.clients import node_client
from tests.helpers import make_key, serving
from tests.test_subscriptions import (
    INCIDENT,
    next_events,
    open_socket,
    subscriptions_open,
)

pytestmark = pytest.mark.commits

COUNT = "query Count { incidents(first: 1) { totalCount } }"
COUNT_ID = "sha256:" + hashlib.sha256(COUNT.encode()).hexdigest()


@pytest.fixture
async def server(fresh_db_url: str) -> AsyncIterator[str]:
    async with serving(fresh_db_url) as base_url:
        yield base_url


async def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, text: str) -> str:
    """Register `text` with `mar documents add` and return the id it printed."""
    monkeypatch.setenv("DATABASE_URL", url)
    path = tmp_path / "count.graphql"
    path.write_text(text, encoding="utf-8")
    assert await asyncio.to_thread(main, ["documents", "add", str(path)]) == 0
    return COUNT_ID if text == COUNT else "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def fetches(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["fetch"] for line in lines if "fetch" in line]


async def test_apollo_persisted_query_link_registers_then_sends_the_hash_alone(
    server: str,
) -> None:
    lines = await node_client.run("apollo.mjs", "apq", f"{server}/graphql", "", COUNT)
    exchanges = fetches(lines)
    # The hash alone (not found), then the text with its hash, then the hash alone (found).
    assert [(f["method"], f["hasQuery"], f["status"]) for f in exchanges] == [
        ("POST", False, 200),
        ("POST", True, 200),
        ("POST", False, 200),
    ]
    results = [line["result"] for line in lines if "result" in line]
    assert results == [{"incidents": {"totalCount": 0}}] * 2


async def test_apollo_hashed_queries_over_get_carry_an_etag(server: str) -> None:
    lines = await node_client.run("apollo.mjs", "apq-get", f"{server}/graphql", "", COUNT)
    exchanges = fetches(lines)
    assert [(f["method"], f["hasQuery"], f["status"]) for f in exchanges] == [
        ("GET", False, 200),
        ("POST", True, 200),
        ("GET", False, 200),
    ]
    assert exchanges[2]["etag"] is not None


async def test_unknown_hash_wrong_hash_and_version(server: str) -> None:
    digest = hashlib.sha256(COUNT.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with httpx.AsyncClient(base_url=server) as http:
        missing = await http.post("/graphql", json={"extensions": persisted})
        assert missing.status_code == 200
        (error,) = missing.json()["errors"]
        assert error["message"] == "PersistedQueryNotFound"
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        wrong = await http.post(
            "/graphql", json={"query": "{ incidents { totalCount } }", "extensions": persisted}
        )
        assert wrong.status_code == 400
        assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        v2 = {"persistedQuery": {"version": 2, "sha256Hash": digest}}
        other = await http.post("/graphql", json={"extensions": v2})
        assert other.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
        unknown = await http.post("/graphql", json={"documentId": COUNT_ID})
        assert unknown.status_code == 400
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_trusted_documents_run_by_id_and_revalidate_until_the_data_changes(
    server: str,
    fresh_db_url: str,
    db: asyncpg.Connection[asyncpg.Record],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ident = await registered(tmp_path, monkeypatch, fresh_db_url, COUNT)
    async with httpx.AsyncClient(base_url=server) as http:
        posted = await http.post("/graphql", json={"documentId": ident})
        assert posted.json() == {"data": {"incidents": {"totalCount": 0}}}
        first = await http.get("/graphql", params={"documentId": ident})
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, no-cache"
        again = await http.get("/graphql", params={"documentId": ident})
        assert again.headers["etag"] == etag
        unchanged = await http.get(
            "/graphql", params={"documentId": ident}, headers={"If-None-Match": etag}
        )
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        await db.execute(INCIDENT, "ETAG-1", "OTHER")  # the data's version moves on
        changed = await http.get(
            "/graphql", params={"documentId": ident}, headers={"If-None-Match": etag}
        )
        assert changed.status_code == 200
        assert changed.json() == {"data": {"incidents": {"totalCount": 1}}}
        assert changed.headers["etag"] != etag
        # Other variables, another role: another ETag.
        key = await make_key(db, "cdn partner", "partner")
        keyed = await http.get(
            "/graphql",
            params={"documentId": ident},
            headers={"If-None-Match": changed.headers["etag"], "Authorization": f"Bearer {key}"},
        )
        assert keyed.status_code == 200
        assert keyed.headers["cache-control"] == "private, no-cache"


async def test_a_mutation_is_never_run_by_get(
    server: str, fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutation = 'mutation { deleteZone(id: "1", version: 1) { id } }'
    ident = await registered(tmp_path, monkeypatch, fresh_db_url, mutation)
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.get("/graphql", params={"documentId": ident})
    assert response.status_code == 405


async def test_the_database_holds_each_id_to_its_text(
    db: asyncpg.Connection[asyncpg.Record],
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO trusted_documents (id, body) VALUES ($1, $2)", COUNT_ID, "{ other }"
        )


async def test_only_trusted_documents_run_when_so_configured(
    fresh_db_url: str,
    db: asyncpg.Connection[asyncpg.Record],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ident = await registered(tmp_path, monkeypatch, fresh_db_url, COUNT)
    admin = await make_key(db, "operator", "admin")
    other = "{ incidents(first: 2) { totalCount } }"
    digest = hashlib.sha256(other.encode()).hexdigest()
    async with (
        serving(fresh_db_url, MAR_TRUSTED_DOCUMENTS_ONLY="true") as server,
        httpx.AsyncClient(base_url=server) as http,
    ):
        plain = await http.post("/graphql", json={"query": other})
        assert plain.status_code == 403
        assert plain.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        registering = await http.post("/graphql", json={"query": other, "extensions": apq})
        assert registering.status_code == 403
        # The text of a trusted document runs, by id or as it is.
        assert (await http.post("/graphql", json={"documentId": ident})).status_code == 200
        assert (await http.post("/graphql", json={"query": COUNT})).status_code == 200
        # The operator's own key runs anything.
        admin_headers = {"Authorization": f"Bearer {admin}"}
        anything = await http.post("/graphql", json={"query": other}, headers=admin_headers)
        assert json.loads(anything.content) == {"data": {"incidents": {"totalCount": 0}}}


async def test_only_trusted_documents_run_over_websockets_when_so_configured(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = "subscription Live { incidentRecorded { code } }"
    ident = await registered(tmp_path, monkeypatch, fresh_db_url, live)
    async with serving(fresh_db_url, MAR_TRUSTED_DOCUMENTS_ONLY="true") as server:
        ws = await open_socket(server)
        try:
            await ws.send(json.dumps({"id": "a", "type": "subscribe", "payload": {"query": COUNT}}))
            (refused,) = await next_events(ws, 1)
            assert refused["type"] == "error"
            assert refused["payload"][0]["extensions"]["code"] == "FORBIDDEN"
            trusted = {"id": "b", "type": "subscribe", "payload": {"documentId": ident}}
            await ws.send(json.dumps(trusted))
            await subscriptions_open(server, "incident", 1)
        finally:
            await ws.close()


async def test_a_persisted_query_is_answered_from_the_response_cache(server: str) -> None:
    digest = hashlib.sha256(COUNT.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    async with httpx.AsyncClient(base_url=server) as http:
        registered_now = await http.post("/graphql", json={"query": COUNT, "extensions": persisted})
        assert registered_now.json() == {"data": {"incidents": {"totalCount": 0}}}
        answers = [await http.post("/graphql", json={"extensions": persisted}) for _ in range(2)]
    assert [a.json() for a in answers] == [{"data": {"incidents": {"totalCount": 0}}}] * 2
    assert answers[1].headers["x-cache"] == "hit"
