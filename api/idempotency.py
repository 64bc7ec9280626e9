"""Idempotency-Key: a mutation request is executed once per (key holder, key) (API.md "Access").

The claim of (holder, key), the request's writes and the stored answer are one transaction on one
connection. A retry after the answer was stored gets that answer again; a request racing the
first waits on the claim's row until the first commits (then replays its answer) or rolls back
(then runs itself). A crash or an unexpected error rolls everything back, claim included, so a
retry runs the request afresh: nothing is written twice and nothing is lost. The same key with a
different request is CONFLICT. Entries live 24 hours; expired ones are taken over when their key
comes back and are deleted in small batches now and then.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from typing import Any

import asyncpg
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import json_body
from api.auth import Caller
from api.json_body import BadJson
from api.requests import current_request_id
from db.pool import Connection, SingleConnectionSource
from db.queries import idempotency as idempotency_sql

log = logging.getLogger("mar.idempotency")

HEADER = "idempotency-key"
TTL_S = 24 * 3600.0
# How long a request waits for an identical one that is still running before CONFLICT.
WAIT_S = 10
CLEAN_EVERY_S = 60.0
CLEAN_BATCH = 1000
IN_PROGRESS = "a request with this Idempotency-Key is still in progress; retry shortly"


def request_hash(payload: dict[str, Any]) -> str:
    """A digest of what the request asks, insensitive to JSON spacing and key order."""
    canonical = {
        "query": payload.get("query"),
        "variables": payload.get("variables") or {},
        "operationName": payload.get("operationName"),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def is_mutation(payload: dict[str, Any]) -> bool:
    """Whether the operation the request would run is a mutation (False when it cannot tell)."""
    query = payload.get("query")
    if not isinstance(query, str):
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False
    name = payload.get("operationName")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        if name is None or (operation.name is not None and operation.name.value == name):
            return operation.operation == OperationType.MUTATION
    return False


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and key.isascii() and key.isprintable()


class _Captured:
    """The response of the wrapped app, held back until the transaction is settled."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))

    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == b"content-type":
                return value.decode("latin-1")
        return "application/json"

    def storable(self) -> Any | None:
        """The JSON answer to keep, or None when the outcome was unexpected (retry runs again)."""
        if self.status >= 500:
            return None
        try:
            body = json.loads(self.body)
        except ValueError:
            return None
        errors = body.get("errors") if isinstance(body, dict) else None
        for error in errors or []:
            if (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR":
                return None
        return body


async def _answer(
    send: Send, status: int, body: Any, content_type: str, replayed: bool = False
) -> None:
    headers = [(b"content-type", content_type.encode("latin-1"))]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _error(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    coded = {"code": code, **extensions, "requestId": current_request_id()}
    return {"errors": [{"message": message, "extensions": coded}]}


class IdempotentGraphQL:
    """Wrap the GraphQL endpoint: POSTed mutations with an Idempotency-Key run at most once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cleaned_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        caller: Caller | None = scope.get("state", {}).get("caller")
        if scope["type"] != "http" or scope["method"] != "POST" or key is None:
            await self.app(scope, receive, send)
            return
        if not _valid_key(key):
            body = _error(
                "BAD_USER_INPUT",
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
                fields=[{"field": "Idempotency-Key", "message": "must be 1-255 printable ASCII"}],
            )
            await _answer(send, 400, body, "application/json")
            return
        raw = await _read_body(receive)
        replay = _replaying(raw, receive)
        try:
            payload = json_body.decode(raw)
        except BadJson:
            payload = None  # the GraphQL endpoint answers it with its own 400
        # Anonymous callers cannot write; a query is safe to repeat: neither needs a claim.
        if (
            not isinstance(payload, dict)
            or caller is None
            or caller.name is None
            or not is_mutation(payload)
        ):
            await self.app(scope, replay, send)
            return
        try:
            digest = request_hash(payload)
        except RecursionError:
            # Read, but too deep to write out again: no operation can use such variables.
            body = _error("BAD_USER_INPUT", "The request body is nested too deeply")
            await _answer(send, 400, body, "application/json")
            return
        db = scope["app"].state.db
        async with db.acquire() as conn:
            await self._once(conn, caller.name, key, digest, scope, replay, send)

    async def _once(
        self,
        conn: Connection,
        holder: str,
        key: str,
        digest: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(idempotency_sql.WAIT_AT_MOST, f"{WAIT_S}s")
            claimed = await conn.fetchval(idempotency_sql.CLAIM, holder, key, digest, TTL_S)
            if claimed is None:
                existing = await conn.fetchrow(idempotency_sql.EXISTING, holder, key)
                await transaction.rollback()
                await _replay_or_refuse(existing, digest, send)
                return
            captured = _Captured()
            # The request's statements run on this connection, inside this transaction.
            scope.setdefault("state", {})["db"] = SingleConnectionSource(conn)
            await self.app(scope, receive, captured.send)
            answer = captured.storable()
            if answer is None:
                await transaction.rollback()
            else:
                stored = {"contentType": captured.content_type(), "body": answer}
                await conn.execute(idempotency_sql.STORE, holder, key, captured.status, stored)
                await transaction.commit()
        except asyncpg.exceptions.LockNotAvailableError:
            await transaction.rollback()
            await _answer(send, 200, _error("CONFLICT", IN_PROGRESS), "application/json")
            return
        except BaseException:
            with contextlib.suppress(Exception):
                await transaction.rollback()
            raise
        await send(
            {"type": "http.response.start", "status": captured.status, "headers": captured.headers}
        )
        await send({"type": "http.response.body", "body": bytes(captured.body)})
        await self._clean(conn)

    async def _clean(self, conn: Connection) -> None:
        """Now and then, delete a batch of expired entries."""
        now = time.monotonic()
        if now - self._cleaned_at < CLEAN_EVERY_S:
            return
        self._cleaned_at = now
        try:
            await conn.execute(idempotency_sql.DELETE_EXPIRED, CLEAN_BATCH)
        except asyncpg.PostgresError:
            log.exception("could not delete expired idempotency keys")


async def _replay_or_refuse(existing: asyncpg.Record | None, digest: str, send: Send) -> None:
    if existing is None or existing["response"] is None:
        await _answer(send, 200, _error("CONFLICT", IN_PROGRESS), "application/json")
        return
    if existing["request_hash"] != digest:
        message = "this Idempotency-Key was used for a different request"
        await _answer(send, 200, _error("CONFLICT", message), "application/json")
        return
    stored = existing["response"]
    await _answer(
        send, existing["status_code"], stored["body"], stored["contentType"], replayed=True
    )


async def _read_body(receive: Receive) -> bytes:
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.extend(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return bytes(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the already-read body over once, then defers to the client."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
