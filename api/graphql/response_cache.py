"""Answers of read-only GraphQL requests, reused while the records have not changed.

A request that only reads, from a role that sees no personal data, is answered from the cache
when the same role sent the same request body (query, variables, operation) while the database's
data version (migration 0004) was the same. Every request reads the current data version first,
so an answer is never older than the records a fresh execution would see: the cache is exact, not
eventually consistent. The entries live in the process; they are bounded in count and bytes,
keys included: a request is known by the SHA-256 of its body, never by the body itself.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from graphql import OperationType
from graphql.language import DocumentNode, OperationDefinitionNode

from api.graphql.documents import ENTRY_OVERHEAD
from db.pool import Connection
from db.queries import cache as cache_sql

# Roles whose answers hold no personal data and no per-key side effects (API.md "Access").
CACHEABLE_ROLES = frozenset({"public", "partner"})


@dataclass(frozen=True)
class Entry:
    """One stored answer."""

    status: int
    media_type: str
    body: bytes


# A cached answer's key: the role, the media type and the SHA-256 of the request body.
Key = tuple[str, str, bytes]


def read_only_operation(document: DocumentNode, operation_name: str | None) -> str | None:
    """The name of the operation that `operation_name` selects in `document` ("query" when it
    has none) if that operation is a query, not a write; else None."""
    operation = query_operation(document, operation_name)
    if operation is None:
        return None
    return operation.name.value if operation.name else OperationType.QUERY.value


def query_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation `operation_name` selects in `document` if it is a query, else None."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return None
    return operations[0]


async def data_version(conn: Connection) -> int:
    """The database's current data version."""
    return int(await conn.fetchval(cache_sql.DATA_VERSION))


def entry_bytes(key: Key, entry: Entry) -> int:
    """What an entry holds, counted: its key, its answer and a fixed overhead."""
    return sum(len(part) for part in key) + len(entry.body) + len(entry.media_type) + ENTRY_OVERHEAD


class ResponseCache:
    """A bounded LRU of answers, all of one data version (a newer version empties it)."""

    def __init__(self, *, max_entries: int = 2048, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.version: int | None = None
        self.bytes = 0
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def _at(self, version: int) -> None:
        if version != self.version:
            self._entries.clear()
            self.bytes = 0
            self.version = version

    def get(self, version: int, key: Key) -> Entry | None:
        """The answer stored for `key` at `version`, if any."""
        self._at(version)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, version: int, key: Key, entry: Entry) -> None:
        """Keep `entry` for `key` at `version`, evicting the least recently used when full."""
        size = entry_bytes(key, entry)
        if version != self.version or size > self.max_bytes // 16:
            return  # computed under another version, or too large to be worth keeping
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.bytes -= entry_bytes(key, previous)
        self._entries[key] = entry
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            evicted_key, evicted = self._entries.popitem(last=False)
            self.bytes -= entry_bytes(evicted_key, evicted)

    def __len__(self) -> int:
        return len(self._entries)
