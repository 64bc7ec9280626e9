"""The time budget of one HTTP request (MAR_REQUEST_TIMEOUT): over it, a clean error.

A request that has not begun its answer when its time is up is cancelled where it waits (the
statement it runs is cancelled on the server by asyncpg, its connection goes back to the pool,
rolled back) and answered with QUERY_TOO_COMPLEX: a GraphQL error over /graphql, a problem+json
document elsewhere, both HTTP 400 with the request id. An answer already begun (a streamed
export) is not cut short by it. Exports and imports have rules of their own (streaming, size),
and WebSockets are not HTTP requests: none of them is timed here.
"""

from __future__ import annotations

import asyncio
import json

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import QueryTooComplex
from api.graphql.view import negotiate
from api.requests import current_request_id
from api.rest.problems import problem

# Paths whose requests are not timed: streamed exports, bulk imports.
UNTIMED = ("/exports/", "/imports/")
GRAPHQL_PATH = "/graphql"


class RequestTimedOut(QueryTooComplex):
    """A request that ran out of its time budget."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The request took longer than the {seconds:g} s the service allows for one request "
            "and was stopped; ask for less (smaller pages, fewer nested lists, a narrower filter)"
        )
        self.seconds = seconds

    def extensions(self) -> dict[str, object]:
        return {
            "code": self.code,
            "timeoutSeconds": self.seconds,
            "requestId": current_request_id(),
        }


class RequestTimeoutMiddleware:
    """End every timed HTTP request that has not begun its answer within `seconds` (0: never)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not self.seconds or path.startswith(UNTIMED):
            await self.app(scope, receive, send)
            return
        started = False
        deadline = asyncio.timeout(self.seconds)

        async def send_and_note(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)  # the answer has begun: let it finish
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_and_note)
        except TimeoutError:
            if started or not deadline.expired():
                raise  # not ours: a timeout of the request's own
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = RequestTimedOut(self.seconds)
        state = scope.setdefault("state", {})
        response: Response
        if scope.get("path") == GRAPHQL_PATH:
            state["graphql_codes"] = [error.code]  # the access log's outcome
            accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
            media_type = negotiate(accept)
            body = {"errors": [{"message": error.message, "extensions": error.extensions()}]}
            response = Response(
                json.dumps(body),
                status_code=error.http_status,
                media_type=f"{media_type}; charset=utf-8",
            )
        else:
            response = problem(
                error.http_status, error.code, error.message, timeoutSeconds=self.seconds
            )
        await response(scope, receive, send)
