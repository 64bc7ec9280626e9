"""The API's error vocabulary (API.md "Errors"): one class per code, and the map from db errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg

from db.constraints import CONSTRAINTS
from db.errors import Conflict, DomainError, InvalidReference, NotFound, RuleViolation
from db.pool import PoolExhausted


@dataclass(frozen=True)
class FieldError:
    """One offending input field, named by its path as the client sent it (`input.geometry`)."""

    field: str
    message: str


class ApiError(Exception):
    """An expected failure: a code from API.md, a message safe for the client, an HTTP status."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extensions(self) -> dict[str, Any]:
        """Return the GraphQL `extensions` object for this error."""
        return {"code": self.code}


class BadUserInput(ApiError):
    """One or more values break a rule; every offending field is named."""

    code = "BAD_USER_INPUT"
    http_status = 400

    def __init__(self, fields: list[FieldError], message: str | None = None) -> None:
        if message is None:
            message = "; ".join(f"{f.field}: {f.message}" for f in fields) or "invalid input"
        super().__init__(message)
        self.fields = fields

    def extensions(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "fields": [{"field": f.field, "message": f.message} for f in self.fields],
        }


class NotFoundError(ApiError):
    """An id or code names nothing."""

    code = "NOT_FOUND"
    http_status = 404


class ConflictError(ApiError):
    """A duplicate code, or a stale version."""

    code = "CONFLICT"
    http_status = 409


class Unauthenticated(ApiError):
    """No valid key where one is needed: a wrong or revoked key, or none (anonymous access off)."""

    code = "UNAUTHENTICATED"
    http_status = 401


class Forbidden(ApiError):
    """The caller's role may not do or see this (a field resolves to null)."""

    code = "FORBIDDEN"
    http_status = 403


class QueryTooComplex(ApiError):
    """A request asks for more than the limits allow (page size, depth, cost)."""

    code = "QUERY_TOO_COMPLEX"
    http_status = 400


class ServiceBusy(ApiError):
    """No database connection became free in time: the service is overloaded, try again soon."""

    code = "INTERNAL_SERVER_ERROR"
    http_status = 503


# The database failures a client is told about as such (from_database_failure): handled by their
# own exception handlers, so Starlette answers them without re-raising them as a server error.
DATABASE_FAILURES: tuple[type[Exception], ...] = (
    PoolExhausted,
    asyncpg.CharacterNotInRepertoireError,
    asyncpg.QueryCanceledError,
)


def from_database_failure(error: BaseException) -> ApiError | None:
    """A pool exhausted or a statement cancelled by statement_timeout, as the client sees it."""
    if isinstance(error, PoolExhausted):
        return ServiceBusy(
            f"The service is busy: no database connection became free within "
            f"{error.timeout:g} s; try again shortly"
        )
    if isinstance(error, asyncpg.CharacterNotInRepertoireError):
        # PostgreSQL text cannot hold a NUL character (SQLSTATE 22021): the client's value is wrong.
        return BadUserInput([], "a text value contains a NUL character, which cannot be stored")
    if isinstance(error, asyncpg.QueryCanceledError):
        return QueryTooComplex(
            "The request ran longer than the service allows for one database statement and was "
            "cancelled; ask for less (a smaller `first`, fewer nested lists, a narrower filter)"
        )
    return None


class Problems:
    """Collect every bad field of one input, then raise them together."""

    def __init__(self, prefix: str = "input") -> None:
        self.prefix = prefix
        self.fields: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        """Record that `field` (relative to the prefix) is wrong, and why."""
        path = f"{self.prefix}.{field}" if self.prefix else field
        self.fields.append(FieldError(path, message))

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self) -> None:
        """Raise BadUserInput naming every recorded field, if any."""
        if self.fields:
            raise BadUserInput(list(self.fields))


def from_domain(error: DomainError, *, prefix: str = "input") -> ApiError:
    """Turn a refusal of the data layer into the API error a client gets."""
    known = CONSTRAINTS.get(error.constraint or "")
    field = f"{prefix}.{known[0]}" if known and prefix else (known[0] if known else prefix)
    if isinstance(error, NotFound):
        return NotFoundError(error.message)
    if isinstance(error, Conflict):
        message = f"{field}: {known[1]}" if known else "conflicts with an existing record"
        return ConflictError(message)
    if isinstance(error, InvalidReference | RuleViolation):
        reason = known[1] if known else "breaks a rule of the records"
        return BadUserInput([FieldError(field, reason)])
    return ApiError("unexpected refusal")
