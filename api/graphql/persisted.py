"""Operations sent by reference: Automatic Persisted Queries and trusted documents.

- Automatic Persisted Queries (Apollo's protocol): `extensions.persistedQuery = {version: 1,
  sha256Hash}`. Without `query`, the hash must name a text this process has seen (or a trusted
  document), else the answer is PERSISTED_QUERY_NOT_FOUND (200, as Apollo's link expects: it then
  sends the text with the hash). With `query`, the hash must be the text's SHA-256, and the text
  is remembered. They are remembered per process in a bounded LRU (MAR_APQ_MAX_DOCUMENTS): a miss
  costs a client one round trip, so no anonymous client writes anything to the database.
- Trusted documents: operations the operator registers (`mar documents add`), kept in the
  database (migration 0010) so that they survive restarts and every process sees them; run by
  `documentId` ("sha256:<hex>", or the bare hex) or as an APQ hash. With
  MAR_TRUSTED_DOCUMENTS_ONLY only they run (the admin role still runs any operation).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Any

from db.pool import ConnectionSource
from db.queries import documents as documents_sql

HEX64 = re.compile(r"[0-9a-f]{64}")
PREFIX = "sha256:"


class DocumentRefused(Exception):
    """A request whose operation cannot be found or may not run: code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def document_id(text: str) -> str:
    """The id of an operation's text: `sha256:` and the hex SHA-256 of its UTF-8."""
    return PREFIX + hashlib.sha256(text.encode()).hexdigest()


class PersistedQueries:
    """Operation texts by SHA-256 (hex), the most recently used `capacity` of them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._texts: OrderedDict[str, str] = OrderedDict()

    def get(self, digest: str) -> str | None:
        text = self._texts.get(digest)
        if text is not None:
            self._texts.move_to_end(digest)
        return text

    def put(self, digest: str, text: str) -> None:
        if self.capacity == 0:
            return
        self._texts[digest] = text
        self._texts.move_to_end(digest)
        while len(self._texts) > self.capacity:
            self._texts.popitem(last=False)


async def trusted(db: ConnectionSource, ident: str) -> str | None:
    """The text of the trusted document `ident` (sha256:<hex>), None when there is none."""
    async with db.acquire() as conn:
        body: str | None = await conn.fetchval(documents_sql.BODY, ident)
    return body


def _requested_id(params: dict[str, Any]) -> tuple[str | None, bool]:
    """The document id a request names (sha256:<hex>) and whether it came as an APQ hash."""
    if "documentId" in params:
        value = params["documentId"]
        if not isinstance(value, str):
            raise DocumentRefused("BAD_USER_INPUT", "`documentId` must be text", 400)
        digest = value.removeprefix(PREFIX)
        if not HEX64.fullmatch(digest):
            raise DocumentRefused(
                "BAD_USER_INPUT", "`documentId` must be `sha256:` and 64 lowercase hex digits", 400
            )
        return PREFIX + digest, False
    extensions = params.get("extensions")
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None, False
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise DocumentRefused(
            "PERSISTED_QUERY_NOT_SUPPORTED", "Only persistedQuery version 1 is supported", 400
        )
    sent = persisted.get("sha256Hash")
    if not isinstance(sent, str) or not HEX64.fullmatch(sent):
        raise DocumentRefused(
            "BAD_USER_INPUT", "`persistedQuery.sha256Hash` must be 64 lowercase hex digits", 400
        )
    return PREFIX + sent, True


async def resolve(
    params: dict[str, Any],
    role: str,
    db: ConnectionSource,
    apq: PersistedQueries,
    trusted_only: bool,
) -> dict[str, Any]:
    """The request's parameters with the operation's text in `query`; raise DocumentRefused when
    its document is unknown, does not match its hash, or may not run."""
    ident, automatic = _requested_id(params)
    query = params.get("query")
    guarded = trusted_only and role != "admin"
    if ident is None:
        if guarded and isinstance(query, str) and await trusted(db, document_id(query)) is None:
            raise DocumentRefused("FORBIDDEN", ONLY_TRUSTED, 403)
        return params
    digest = ident.removeprefix(PREFIX)
    if isinstance(query, str):
        if document_id(query) != ident:
            raise DocumentRefused(
                "BAD_USER_INPUT", "The document's SHA-256 is not the hash sent with it", 400
            )
        if guarded and await trusted(db, ident) is None:
            raise DocumentRefused("FORBIDDEN", ONLY_TRUSTED, 403)
        if automatic:
            apq.put(digest, query)
        return params
    text = await trusted(db, ident)
    if text is None and automatic and not guarded:
        text = apq.get(digest)
    if text is None:
        if automatic:
            raise DocumentRefused("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 200)
        raise DocumentRefused(
            "PERSISTED_QUERY_NOT_FOUND", f"No trusted document has the id {ident}", 400
        )
    resolved = {k: v for k, v in params.items() if k != "documentId"}
    resolved["query"] = text
    return resolved


ONLY_TRUSTED = (
    "Only trusted documents run on this service (MAR_TRUSTED_DOCUMENTS_ONLY): send a "
    "registered document's `documentId`"
)
