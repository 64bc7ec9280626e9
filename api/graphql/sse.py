"""GraphQL over Server-Sent Events: the graphql-sse protocol, distinct connections mode.

A request to /graphql that accepts `text/event-stream` (and not JSON first) gets a stream: one
`next` event per result (a query or mutation has one, a subscription one per change), then a
`complete` event. It runs under the request's key and role like any request, and while it is open
it is held in the registry of WebSockets (api/sockets.py): it counts against its key's (or its
address's) cap, and a key revoked or given another role ends it at once, with a last `next`
saying why and `complete`. The personal data it showed is counted for its key when it ends.

A subscription sent any other way over HTTP is refused with 400 naming the transports that
carry one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, OperationType, parse
from graphql.language import OperationDefinitionNode
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from strawberry.types import ExecutionResult

from api import json_body
from api.auth import ANONYMOUS, Caller, bearer_token, hash_secret
from api.graphql.permissions import count_personal_data_reads
from api.json_body import BadJson
from api.ratelimit import address_bucket
from api.rest.problems import http_problem, problem
from api.sockets import REVOKED, TooManySockets

if TYPE_CHECKING:
    from api.graphql.view import GraphQLApp

EVENT_STREAM = "text/event-stream"
TRANSPORTS = (
    "a subscription needs a streaming transport: a WebSocket to /graphql "
    "(graphql-transport-ws) or a POST to /graphql with `Accept: text/event-stream` (graphql-sse)"
)


def wants_events(headers: Headers) -> bool:
    """Whether a request asks for an event stream rather than one JSON answer."""
    offered = [part.split(";")[0].strip().lower() for part in headers.get("accept", "").split(",")]
    if EVENT_STREAM not in offered:
        return False
    json_first = [o for o in offered if o.endswith("json")]
    return not json_first or offered.index(EVENT_STREAM) < offered.index(json_first[0])


def is_subscription(query: object, operation_name: object) -> bool:
    """Whether the operation a request selects is a subscription (False when it cannot tell)."""
    if not isinstance(query, str) or "subscription" not in query:
        return False  # the cheap test first: most requests never parse twice
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if isinstance(operation_name, str):
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return len(operations) == 1 and operations[0].operation is OperationType.SUBSCRIPTION


async def request_params(request: Request) -> dict[str, Any] | str:
    """The GraphQL parameters of a POST body or a GET query string, or why they are unusable."""
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        for name in ("variables", "extensions"):
            if name in params:
                try:
                    params[name] = json_body.decode(params[name])
                except BadJson as exc:
                    return f"The `{name}` parameter {exc}"
    elif request.method == "POST":
        try:
            decoded = json_body.decode(await request.body())
        except BadJson as exc:
            return f"The request body {exc}"
        if not isinstance(decoded, dict):
            return "The request body must be a JSON object"
        params = decoded
    else:
        return "An event stream is a GET or a POST"
    if not isinstance(params.get("query"), str):
        return "The request has no `query` text"
    if params.get("variables") is not None and not isinstance(params["variables"], dict):
        return "`variables` must be a JSON object"
    return params


def event(kind: str, data: object | None) -> bytes:
    """One server-sent event of graphql-sse."""
    body = "" if data is None else json.dumps(data, ensure_ascii=False)
    return f"event: {kind}\ndata: {body}\n\n".encode()


async def respond(view: GraphQLApp, request: Request) -> Response:
    """Answer a request for an event stream (graphql-sse, distinct connections mode)."""
    params = await request_params(request)
    if isinstance(params, str):
        return http_problem(405 if "GET or a POST" in params else 400, params)
    caller: Caller = getattr(request.state, "caller", None) or ANONYMOUS
    key_hash = None
    if caller.key_id is not None:
        token = bearer_token(request.headers.get("authorization"))
        key_hash = hash_secret(token) if token is not None else None
    try:
        held = view.sockets.admit(caller, address_bucket(request.scope), key_hash)
    except TooManySockets as exc:
        refused = problem(429, exc.code, exc.message)
        refused.headers["Retry-After"] = "5"
        return refused
    withdrawn: asyncio.Queue[tuple[int, str]] = asyncio.Queue(1)

    async def close(code: int, reason: str) -> None:
        withdrawn.put_nowait((code, reason))

    view.sockets.attach(held, close)
    request.state.socket = held
    context = await view.get_context(request, None)
    request.state.graphql_path = "event-stream"

    async def events() -> AsyncIterator[bytes]:
        try:
            if await view.sockets.check(held, context.db) is not None:
                yield event("next", withdrawal(*(held.refusal or REVOKED)))
                yield event("complete", None)
                return
            source = await view.schema.stream(
                params["query"],
                variable_values=params.get("variables"),
                context_value=context,
                operation_name=params.get("operationName"),
            )
            async with contextlib.aclosing(source):
                while True:
                    following = asyncio.ensure_future(anext(source))
                    ending = asyncio.ensure_future(withdrawn.get())
                    done, _ = await asyncio.wait(
                        {following, ending}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if ending in done:
                        following.cancel()
                        with contextlib.suppress(BaseException):
                            await following
                        yield event("next", withdrawal(*ending.result()))
                        break
                    ending.cancel()
                    try:
                        result = following.result()
                    except StopAsyncIteration:
                        break
                    if isinstance(result, ExecutionResult):
                        yield event("next", await view.process_result(request, result))
            yield event("complete", None)
        finally:
            view.sockets.leave(held)
            # Shielded: a stream the client closed still counts what it showed.
            await asyncio.shield(count_personal_data_reads(context))

    return StreamingResponse(
        events(),
        media_type=EVENT_STREAM,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def withdrawal(code: int, reason: str) -> dict[str, Any]:
    """The last result of a stream whose key stopped holding."""
    kind = "UNAUTHENTICATED" if code == 4401 else "FORBIDDEN"
    error = {"message": f"The stream ended: {reason}", "extensions": {"code": kind}}
    return {"errors": [error]}


async def plain_subscription(request: Request) -> Response | None:
    """400 naming the transports for a subscription sent as a plain HTTP request, else None."""
    if request.method == "GET":
        query, name = request.query_params.get("query"), request.query_params.get("operationName")
    else:
        body = await request.body()
        if b"subscription" not in body:
            return None  # the cheap test first: most requests are never decoded twice
        try:
            decoded = json_body.decode(body)
        except BadJson:
            return None  # strawberry refuses it as it does any body that is not JSON
        if not isinstance(decoded, dict):
            return None
        query, name = decoded.get("query"), decoded.get("operationName")
    return http_problem(400, TRANSPORTS) if is_subscription(query, name) else None
