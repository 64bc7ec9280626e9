"""API keys -> roles (API.md "Access"): who is calling, what each role may read and write.

A key is `mar_` + 43 URL-safe characters (256 random bits); only its SHA-256 is stored (a hash
that cannot be reversed is enough for a secret that cannot be guessed). The caller of the request
being served is kept in a context variable, so services and the audit log see it without passing
it through every call. The role policy lives here, once; GraphQL (api/graphql/permissions.py)
and REST routes both consult it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import Forbidden, Unauthenticated, from_database_failure
from api.ratelimit import TokenBuckets, address_bucket
from api.refusals import refuse
from db.pool import CONNECTION_ERRORS, ConnectionSource
from db.queries import keys as key_sql

log = logging.getLogger("mar.auth")

ROLES = ("public", "partner", "editor", "admin")
KEY_PREFIX = "mar_"
# A key is marked used at most once in this many seconds (not a write on every request).
TOUCH_INTERVAL_S = 60.0

PARTNER_UP = frozenset({"partner", "editor", "admin"})
EDITOR_UP = frozenset({"editor", "admin"})
ADMIN_ONLY = frozenset({"admin"})

# What each role may read: a record type (or a list of them) that not every role may see, and
# single fields. A type or field named nowhere here is readable by every role.
TYPE_READERS: dict[str, frozenset[str]] = {
    "Task": PARTNER_UP,
    "ProgressReport": PARTNER_UP,
    "DeviceFind": PARTNER_UP,
    "LandRelease": PARTNER_UP,
    "AuditEntry": ADMIN_ONLY,
}
FIELD_READERS: dict[str, frozenset[str]] = {
    "Incident.description": PARTNER_UP,
    "Incident.source": PARTNER_UP,
    "Casualty.fullName": EDITOR_UP,
    "Casualty.notes": EDITOR_UP,
    "Query.auditLog": ADMIN_ONLY,
}
# Fields that are casualties' personal data: reading them is counted per key.
PERSONAL_DATA_FIELDS = frozenset({"Casualty.fullName", "Casualty.notes"})
# Fields that copy a casualty's columns (an audit entry's before/after): reading one that holds
# any of these columns is a read of that casualty's personal data, and counted as one.
PERSONAL_DATA_CARRIERS = frozenset({"AuditEntry.before", "AuditEntry.after"})
PERSONAL_DATA_COLUMNS = frozenset({"full_name", "notes"})
# Who may write records; managing keys is the CLI's (the server's operator).
WRITERS = EDITOR_UP


@dataclass(frozen=True)
class Caller:
    """Who sends the request: a key's name and role, or the anonymous public."""

    role: str
    name: str | None = None
    key_id: int | None = None

    @property
    def label(self) -> str:
        """How the audit log names the caller."""
        return self.name if self.name is not None else "anonymous"


ANONYMOUS = Caller(role="public")
caller_var: ContextVar[Caller | None] = ContextVar("caller", default=None)


def current_caller() -> Caller | None:
    """Return the caller of the request being served (None outside a request)."""
    return caller_var.get()


@contextmanager
def acting_as(caller: Caller) -> Iterator[None]:
    """Run the block as `caller` (the CLI names itself so for the audit log)."""
    token = caller_var.set(caller)
    try:
        yield
    finally:
        caller_var.reset(token)


def may_read(role: str, type_name: str, field: str | None = None) -> bool:
    """Whether `role` may read records of `type_name` (and its `field`, when given)."""
    readers = TYPE_READERS.get(type_name)
    if readers is not None and role not in readers:
        return False
    if field is not None:
        readers = FIELD_READERS.get(f"{type_name}.{field}")
        if readers is not None and role not in readers:
            return False
    return True


def may_write(role: str) -> bool:
    """Whether `role` may change records."""
    return role in WRITERS


def require(request: Request, allowed: frozenset[str]) -> Caller:
    """For a REST route: return the caller, or raise Forbidden when its role is not allowed."""
    caller: Caller = getattr(request.state, "caller", None) or ANONYMOUS
    if caller.role not in allowed:
        raise Forbidden(f"the {caller.role} role may not do this")
    return caller


# --- keys ---------------------------------------------------------------------------------


def new_secret() -> str:
    """Return a fresh key: the recognisable prefix and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Return the stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def shown_prefix(secret: str) -> str:
    """The first characters of a key, kept so that `mar keys list` can tell keys apart."""
    return secret[: len(KEY_PREFIX) + 6]


def bearer_token(header: str | None) -> str | None:
    """Return the key of an Authorization header; None when absent; raise when malformed."""
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send the key as `Authorization: Bearer <key>`")
    return token


async def authenticate(db: ConnectionSource, header: str | None, anonymous: bool) -> Caller:
    """Return the caller a request's Authorization header names, or raise Unauthenticated.

    No header: the public role when anonymous access is on. A wrong, malformed or revoked key
    is always refused, never treated as anonymous.
    """
    token = bearer_token(header)
    if token is None:
        if anonymous:
            return ANONYMOUS
        raise Unauthenticated("this service needs a key: `Authorization: Bearer <key>`")
    if not token.startswith(KEY_PREFIX) or len(token) > 200:
        raise Unauthenticated("the key is not valid")
    digest = hash_secret(token)
    async with db.acquire() as conn:
        row = await conn.fetchrow(key_sql.AUTHENTICATE, digest, TOUCH_INTERVAL_S)
    # The lookup is by hash; the comparison of what came back takes the same time wherever the
    # two differ, so nothing about a stored hash can be learnt from the answer's timing.
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        raise Unauthenticated("the key is not valid")
    if row["revoked_at"] is not None:
        raise Unauthenticated("the key has been revoked")
    return Caller(role=row["role"], name=row["name"], key_id=row["id"])


# --- middleware ----------------------------------------------------------------------------

# Probes answer without a key, whatever the settings.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


class AuthMiddleware:
    """Resolve every request's key to a caller (scope state `caller`, and current_caller()).

    Failed key checks are counted per client address: over `failures_per_minute` (a token bucket
    of that size, refilled over a minute), the address's requests that carry a key are refused
    with RATE_LIMITED before their key is looked at, so guessing keys costs no database work and
    a good key cannot be told from a bad one. Requests without a key pass as before.
    """

    def __init__(
        self, app: ASGIApp, *, anonymous_access: bool, failures_per_minute: int = 0
    ) -> None:
        self.app = app
        self.anonymous_access = anonymous_access
        self.failures = (
            TokenBuckets(failures_per_minute / 60.0, failures_per_minute)
            if failures_per_minute > 0
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        header = headers.get("authorization")
        address = address_bucket(scope)
        # A WebSocket may present its key later, in connection_init (api/graphql/websocket.py):
        # its failures count here too.
        scope.setdefault("state", {})["auth_failures"] = self.failures
        # Only requests that present a key are key checks (and limited as such).
        presents_key = bool(header and header.strip())
        if presents_key and self.failures is not None:
            wait = self.failures.wait(address)
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                message = (
                    f"Too many failed key checks from this address: at most "
                    f"{self.failures.burst:g} a minute; try again in {retry_after} s"
                )
                extra = [(b"retry-after", str(retry_after).encode())]
                await refuse(scope, send, 429, "RATE_LIMITED", message, extra)
                return
        try:
            caller = await authenticate(scope["app"].state.db, header, self.anonymous_access)
        except Unauthenticated as exc:
            if presents_key and self.failures is not None:
                self.failures.take(address)
            await refuse(scope, send, 401, "UNAUTHENTICATED", exc.message)
            return
        except CONNECTION_ERRORS as exc:
            log.error("database unavailable while checking a key: %s", exc)
            message = "The database is unavailable; try again shortly"
            await refuse(scope, send, 503, "INTERNAL_SERVER_ERROR", message)
            return
        except Exception as exc:
            # A pool exhausted or a statement cancelled: the same answer as for any request.
            failure = from_database_failure(exc)
            if failure is None:
                raise
            log.warning("could not check a key: %s", failure.message)
            await refuse(scope, send, failure.http_status, failure.code, failure.message)
            return
        state = scope.setdefault("state", {})
        state["caller"] = caller
        state["role"] = caller.role  # what REST routes check (api.auth.require, exports)
        state["key_name"] = caller.name  # the rate limiter's bucket and the access log
        token = caller_var.set(caller)
        try:
            await self.app(scope, receive, send)
        finally:
            caller_var.reset(token)
