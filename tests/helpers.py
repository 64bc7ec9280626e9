"""Helpers the tests share."""

from __future__ import annotations

from typing import Any

import httpx


class GraphQLClient:
    """POST GraphQL operations and return the decoded answer."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body


def error_fields(body: dict[str, Any]) -> list[str]:
    """The offending field paths of a BAD_USER_INPUT answer."""
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return [f["field"] for f in error["extensions"]["fields"]]
