"""Helpers the tests share."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from api.auth import hash_secret, new_secret, shown_prefix


class GraphQLClient:
    """POST GraphQL operations and return the decoded answer."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
        self.http = http
        self.headers = headers or {}

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            # Header names are case-insensitive: a call's own header replaces the default.
            headers={k.lower(): v for k, v in [*self.headers.items(), *headers.items()]},
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body


def error_fields(body: dict[str, Any]) -> list[str]:
    """The offending field paths of a BAD_USER_INPUT answer."""
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return [f["field"] for f in error["extensions"]["fields"]]


async def make_key(conn: asyncpg.Connection[asyncpg.Record], name: str, role: str) -> str:
    """Store a key for `role` named `name` and return its secret."""
    secret = new_secret()
    await conn.execute(
        "INSERT INTO api_keys (name, role, key_hash, key_prefix) VALUES ($1, $2, $3, $4)",
        name,
        role,
        hash_secret(secret),
        shown_prefix(secret),
    )
    return secret
