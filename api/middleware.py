"""HTTP middleware: the access log (and the request metrics), the request body limit and CORS
(create_app() orders them)."""

from __future__ import annotations

import logging
import time

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics
from api.rest.problems import problem

log = logging.getLogger("mar.access")

# Bulk imports read bodies far larger than a request should be; they enforce their own limit.
BODY_LIMIT_EXEMPT = ("/imports/",)


class AccessLogMiddleware:
    """One log line per HTTP request: request id, key name, operation, status, duration, outcome.

    `outcome` is `ok`, the GraphQL error codes of the answer (api/graphql/view.py records them in
    request.state), `client_error` / `server_error` by HTTP status, or `crashed`.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        crashed = False
        try:
            await self.app(scope, receive, send_and_note)
        except BaseException:
            crashed = True
            raise
        finally:
            seconds = time.perf_counter() - started
            self._log(scope, status, seconds, crashed)
            if self.metrics is not None:
                self.metrics.observe(scope, 500 if crashed else status, seconds)

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float, crashed: bool) -> None:
        state = scope.get("state") or {}
        codes = state.get("graphql_codes") or []
        if crashed:
            outcome = "crashed"
        elif status >= 500:
            outcome = "server_error"
        elif codes:
            outcome = ",".join(codes)
        elif status >= 400:
            outcome = "client_error"
        else:
            outcome = "ok"
        duration_ms = round(seconds * 1000, 1)
        log.info(
            "%s %s %s %s ms",
            scope.get("method"),
            scope.get("path"),
            status or "-",
            duration_ms,
            extra={
                "request_id": state.get("request_id"),
                "server_request_id": state.get("server_request_id"),
                "key_name": state.get("key_name"),
                "operation": state.get("graphql_operation"),
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status or None,
                "duration_ms": duration_ms,
                "outcome": outcome,
            },
        )


class BodyTooLarge(HTTPException):
    """A request body over the limit: answered 413 as problem+json by the app's handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")


class BodySizeLimitMiddleware:
    """Refuse request bodies over `max_bytes`: at once by Content-Length, else while reading."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(BODY_LIMIT_EXEMPT):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                too_large = BodyTooLarge(self.max_bytes)
                response = problem(413, "PAYLOAD_TOO_LARGE", too_large.detail)
                await response(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


def cors(origins: tuple[str, ...]) -> list[Middleware]:
    """CORS for the listed browser origins (none: no CORS headers at all)."""
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    ]
