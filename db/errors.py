"""The data layer's error vocabulary, and the one translation from SQLSTATE to it."""

from __future__ import annotations

import asyncpg


class DomainError(Exception):
    """A refusal the client can act on; `message` is safe to show to the client."""

    def __init__(self, message: str, *, constraint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.constraint = constraint


class NotFound(DomainError):
    """The record named by an id or code does not exist."""


class Conflict(DomainError):
    """A duplicate code, or a version that someone else has already replaced."""


class InvalidReference(DomainError):
    """A foreign key names a record that does not exist."""


class RuleViolation(DomainError):
    """A value breaks a rule held by a CHECK constraint or a trigger."""


def translate(exc: asyncpg.PostgresError) -> DomainError | None:
    """Map a database refusal to a domain error, or None when it is not the client's doing."""
    constraint = getattr(exc, "constraint_name", None)
    detail = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(detail, constraint=constraint)
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return InvalidReference(detail, constraint=constraint)
    if isinstance(
        exc,
        asyncpg.CheckViolationError
        | asyncpg.NotNullViolationError
        | asyncpg.ExclusionViolationError,
    ):
        return RuleViolation(detail, constraint=constraint)
    return None
