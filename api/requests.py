"""Request ids: the server makes its own for every request; a client's X-Request-ID is echoed
only when it is a plain token (1-128 of A-Z a-z 0-9 . _ -).

The id a client sees (header and error bodies) is its own when kept, else the server's. The audit
log and the `server_request_id` of every log line always hold the server's own id, so no client
can choose what the audit records; the log lines carry both ids.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class RequestIds:
    """The ids of one request: the server's own, and the client's when it was kept."""

    server: str
    client: str | None = None

    @property
    def shown(self) -> str:
        """The id the client sees: its own when kept, else the server's."""
        return self.client or self.server


request_ids_var: ContextVar[RequestIds | None] = ContextVar("request_ids", default=None)


def current_request_id() -> str | None:
    """Return the id the client of the request being served sees, if any."""
    ids = request_ids_var.get()
    return ids.shown if ids else None


def server_request_id() -> str | None:
    """Return the server's own id of the request being served (what the audit log keeps)."""
    ids = request_ids_var.get()
    return ids.server if ids else None


def new_request_id(offered: str | None) -> str:
    """Keep a caller's id when it is short and plain, else make a fresh one."""
    if offered and _SANE.match(offered):
        return offered
    return uuid.uuid4().hex


def request_ids(offered: str | None) -> RequestIds:
    """A fresh server id, with the client's when it is a sane token."""
    return RequestIds(uuid.uuid4().hex, offered if offered and _SANE.match(offered) else None)


class RequestIdMiddleware:
    """Give every HTTP and WebSocket exchange its ids and echo the shown one in X-Request-ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                offered = value.decode("latin-1")
                break
        ids = request_ids(offered)
        state = scope.setdefault("state", {})
        state["request_id"] = ids.shown
        state["server_request_id"] = ids.server
        token = request_ids_var.set(ids)

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                MutableHeaders(scope=message)["X-Request-ID"] = ids.shown
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_ids_var.reset(token)
