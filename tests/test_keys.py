"""API keys: `mar keys`, only hashes stored, Bearer keys, 401 for wrong/revoked/missing keys."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.cli import main
from api.settings import Settings
from db.pool import Connection as Conn
from db.pool import PoolSource, SingleConnectionSource, create_pool
from tests.helpers import TEST_HOSTS, GraphQLClient, make_key

QUERY = {"query": "{ zones { totalCount } }"}


async def key_rows(url: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await conn.fetch("SELECT * FROM api_keys ORDER BY name")]
    finally:
        await conn.close()


async def post_with(url: str, settings: Settings, authorization: str) -> httpx.Response:
    """POST a query to an app over a pool of its own on `url`."""
    pool = await create_pool(url, min_size=0, max_size=2)
    try:
        app = create_app(settings, db=PoolSource(pool))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mar.test") as http:
            return await http.post("/graphql", json=QUERY, headers={"Authorization": authorization})
    finally:
        await pool.close()


def test_keys_commands(
    fresh_db_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    assert main(["keys", "create", "--name", "Dashboard A", "--role", "partner"]) == 0
    out = capsys.readouterr()
    secret = out.out.strip()
    # stdout is the secret alone, so that `KEY=$(mar keys create …)` works.
    assert out.out == secret + "\n" and secret.startswith("mar_") and len(secret) >= 40
    assert "Dashboard A" in out.err
    (row,) = asyncio.run(key_rows(fresh_db_url))
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["role"] == "partner" and secret.startswith(row["key_prefix"])
    assert secret not in str(row)

    assert main(["keys", "create", "--name", "Dashboard A", "--role", "editor"]) == 1
    assert "exists already" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["keys", "create", "--name", "X", "--role", "superuser"])
    capsys.readouterr()

    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert "Dashboard A" in listed and "partner" in listed and row["key_prefix"] in listed
    assert secret not in listed and row["key_hash"] not in listed

    assert asyncio.run(post_with(fresh_db_url, settings, f"Bearer {secret}")).status_code == 200
    assert main(["keys", "revoke", "Dashboard A"]) == 0
    assert "revoked" in capsys.readouterr().out
    refused = asyncio.run(post_with(fresh_db_url, settings, f"Bearer {secret}"))
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert main(["keys", "revoke", "nobody"]) == 1
    assert "no key is named 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer mar_not-a-key-at-all-000000000000000000000000000",
        "Bearer something-else",
        "Basic dXNlcjpwYXNz",
        "Bearer",
    ],
)
async def test_a_wrong_key_is_401_never_public(
    client: httpx.AsyncClient, conn: Conn, authorization: str
) -> None:
    for accept in ("application/json", "application/graphql-response+json"):
        response = await client.post(
            "/graphql", json=QUERY, headers={"Authorization": authorization, "Accept": accept}
        )
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"].startswith(accept)
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
    # Other paths answer the same refusal as problem+json; probes stay open.
    other = await client.get("/anywhere", headers={"Authorization": authorization})
    assert other.status_code == 401
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "UNAUTHENTICATED"
    healthz = await client.get("/healthz", headers={"Authorization": authorization})
    assert healthz.status_code == 200


async def test_a_revoked_key_is_401(client: httpx.AsyncClient, conn: Conn) -> None:
    secret = await make_key(conn, "old laptop", "admin")
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await client.post("/graphql", json=QUERY, headers=headers)).status_code == 200
    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'old laptop'")
    response = await client.post("/graphql", json=QUERY, headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["errors"][0]["message"]


@pytest.fixture
async def closed_client(settings: Settings, conn: Conn) -> AsyncIterator[httpx.AsyncClient]:
    """An app with anonymous access turned off."""
    closed = Settings.from_env(
        {"MAR_LOG_JSON": "false", "MAR_ANONYMOUS_ACCESS": "false", **TEST_HOSTS}
    )
    app = create_app(closed, db=SingleConnectionSource(conn))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mar.test") as http:
        yield http


async def test_anonymous_access_off_needs_a_key(
    closed_client: httpx.AsyncClient, client: httpx.AsyncClient, conn: Conn
) -> None:
    response = await closed_client.post("/graphql", json=QUERY)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await closed_client.get("/readyz")).status_code in (200, 503)
    secret = await make_key(conn, "closed reader", "public")
    keyed = await closed_client.post(
        "/graphql", json=QUERY, headers={"Authorization": f"Bearer {secret}"}
    )
    assert keyed.status_code == 200 and "errors" not in keyed.json()
    # With anonymous access on (the default), no key is the public role.
    anonymous = await client.post("/graphql", json=QUERY, headers={"Authorization": ""})
    assert anonymous.status_code == 200 and "errors" not in anonymous.json()


async def test_last_used_at_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, conn: Conn
) -> None:
    secret = await make_key(conn, "counter", "partner")
    headers = {"Authorization": f"Bearer {secret}"}
    last_used = "SELECT last_used_at FROM api_keys WHERE name = 'counter'"
    assert await conn.fetchval(last_used) is None
    await client.post("/graphql", json=QUERY, headers=headers)
    first = await conn.fetchval(last_used)
    assert first is not None
    # Within the minute: no write. (now() is the test transaction's start, so move it back.)
    await conn.execute(
        "UPDATE api_keys SET last_used_at = now() - interval '30 seconds' WHERE name = 'counter'"
    )
    await client.post("/graphql", json=QUERY, headers=headers)
    assert await conn.fetchval(last_used) == first - timedelta(seconds=30)
    await conn.execute(
        "UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE name = 'counter'"
    )
    await client.post("/graphql", json=QUERY, headers=headers)
    assert await conn.fetchval(last_used) == first


async def test_personal_data_reads_are_counted_per_key_in_one_statement(
    gql: GraphQLClient, conn: Conn, sql_log: list[str]
) -> None:
    from tests.test_incidents import record

    people = [{"outcome": "KILLED", "fullName": "G. H."}, {"outcome": "INJURED", "notes": "arm"}]
    incident = await record(gql, "PD-1", casualties=people)
    await record(gql, "PD-2", casualties=[{"outcome": "INJURED"}])
    query = "{ incidents { nodes { casualties { fullName notes } } } }"
    counter = "SELECT personal_data_reads FROM api_keys WHERE name = 'test editor'"
    assert await conn.fetchval(counter) == 0
    await asyncio.sleep(0)
    sql_log.clear()
    body = await gql(query)
    for _ in range(3):  # the logger's records come on later turns of the loop
        await asyncio.sleep(0)
    statements = list(sql_log)
    assert "errors" not in body and incident["id"]
    assert sum("personal_data_reads" in s for s in statements) == 1, statements
    assert await conn.fetchval(counter) == 3  # three casualties' personal data
    # Reading no personal field counts nothing and costs nothing.
    await asyncio.sleep(0)
    sql_log.clear()
    await gql("{ incidents { nodes { casualties { outcome } } } }")
    await asyncio.sleep(0)
    assert not any("personal_data_reads" in s for s in sql_log)
    assert await conn.fetchval(counter) == 3
