"""REST errors as application/problem+json (RFC 9457), with the codes of API.md."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import ApiError, BadUserInput, from_database_failure
from api.requests import current_request_id

log = logging.getLogger("mar.rest")
PROBLEM_JSON = "application/problem+json"

_HTTP_CODES = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
}


def problem(status: int, code: str, detail: str, **extra: object) -> JSONResponse:
    """Return a problem document with our code and the request id."""
    body: dict[str, object] = {
        "type": "about:blank",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": current_request_id(),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def api_error(_request: Request, exc: Exception) -> Response:
    """An expected failure of a REST endpoint."""
    assert isinstance(exc, ApiError)
    extra: dict[str, object] = {}
    if isinstance(exc, BadUserInput):
        extra["fields"] = [{"field": f.field, "message": f.message} for f in exc.fields]
    return problem(exc.http_status, exc.code, exc.message, **extra)


async def http_error(_request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 and friends, in the same shape."""
    assert isinstance(exc, HTTPException)
    return http_problem(exc.status_code, str(exc.detail))


def http_problem(status: int, detail: str) -> JSONResponse:
    """A refusal known only by its HTTP status, as a problem document with our code."""
    return problem(status, _HTTP_CODES.get(status, "HTTP_ERROR"), detail)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Anything else: logged in full, masked for the client (a busy pool or a statement over its
    time limit is said as such)."""
    failure = from_database_failure(exc)
    if failure is not None:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return await api_error(request, failure)
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    request_id = current_request_id()
    return problem(500, "INTERNAL_SERVER_ERROR", f"Internal server error (request id {request_id})")


async def database_failure(request: Request, exc: Exception) -> Response:
    """A busy pool, a cancelled statement or a NUL in text: the client is told which (a warning
    in the log, no traceback: the service works as designed)."""
    failure = from_database_failure(exc)
    if failure is None:  # pragma: no cover - registered only for DATABASE_FAILURES
        return await unexpected_error(request, exc)
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return await api_error(request, failure)


async def client_gone(request: Request, _exc: Exception) -> Response:
    """The client went away while its request was read: an INFO line, no traceback (it is not
    a fault of the service); the answer goes nowhere."""
    log.info(
        "%s %s: the client went away before its request was read", request.method, request.url.path
    )
    return problem(400, "BAD_USER_INPUT", "the request ended before its body did")
