"""Refusing a request before it reaches its endpoint, in the shape that endpoint speaks: a GraphQL
error document on /graphql, problem+json elsewhere, and the same HTTP answer for a WebSocket
handshake (the ASGI "websocket.http.response" extension, which uvicorn has), else a close code."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Scope, Send

from api.requests import current_request_id

GRAPHQL_RESPONSE = "application/graphql-response+json"
PROBLEM = "application/problem+json"
# A refused handshake on a server without the extension: the HTTP status as a close code.
CLOSE_CODES = {400: 1008, 401: 4401, 403: 4403, 429: 4429}


def refusal_body(
    scope: Scope, status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> tuple[str, dict[str, Any]]:
    """The media type and body that refuse this request with `code`, naming its request id."""
    request_id = current_request_id()
    if scope.get("path", "").rstrip("/") == "/graphql":
        accept = Headers(scope=scope).get("accept", "")
        media_type = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
        extensions: dict[str, Any] = {"code": code, "requestId": request_id}
        if fields:
            extensions["fields"] = fields
        body: dict[str, Any] = {"errors": [{"message": message, "extensions": extensions}]}
        if code == "INTERNAL_SERVER_ERROR":
            # A failure of the service, not of the request: shaped like an execution error.
            body = {"data": None, **body}
        return media_type, body
    body = {
        "type": "about:blank",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": message,
        "code": code,
        "requestId": request_id,
    }
    if fields:
        body["fields"] = fields
    return PROBLEM, body


async def send_refusal(
    scope: Scope,
    send: Send,
    status: int,
    media_type: str,
    body: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a refusal as an HTTP answer, or close a handshake that cannot get one."""
    websocket = scope["type"] == "websocket"
    if websocket and "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": CLOSE_CODES.get(status, 1011)})
        return
    # problem+json as every REST error is sent (api/rest/problems.py); GraphQL answers say UTF-8.
    content_type = media_type if media_type == PROBLEM else f"{media_type}; charset=utf-8"
    all_headers = [(b"content-type", content_type.encode()), *(headers or [])]
    if status == 401:
        all_headers.append((b"www-authenticate", b'Bearer realm="mar"'))
    prefix = "websocket.http" if websocket else "http"
    await send({"type": f"{prefix}.response.start", "status": status, "headers": all_headers})
    await send({"type": f"{prefix}.response.body", "body": json.dumps(body).encode()})


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Refuse the request with `status` and `code` in its endpoint's shape."""
    media_type, body = refusal_body(scope, status, code, message)
    await send_refusal(scope, send, status, media_type, body, headers)
