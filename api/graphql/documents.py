"""Parsed GraphQL documents and their validation verdicts, kept by digest within a byte budget.

Dashboards send the same few documents over and over: each is parsed and validated once. A cache
keyed by the text itself would keep every text it saw (a hostile client sends unique 1 MB ones):
here an entry is keyed by the SHA-256 of its text, counted in bytes (its key, an estimate of
what it holds, and a fixed overhead), and the least recently used go first once a cache is over
its budget. Documents longer than `max_document_bytes` are never kept: they are validated every
time, and parsed once per request (the last one is remembered, so that the response cache, the
compiled reads and the executor, which each ask for it, do not parse it three times).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from strawberry.extensions import SchemaExtension

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What Python keeps per entry besides its key and value (the dict slot, the tuple, the ints).
ENTRY_OVERHEAD = 200
# A parsed document holds about this many bytes per character of its text at most (dense
# documents; whitespace and long strings hold far less), plus the text itself.
AST_BYTES_PER_CHAR = 160


def digest(text: str | bytes) -> bytes:
    """The SHA-256 of a text or body: a key of 32 bytes, whatever its length."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).digest()


def document_bytes(text: str) -> int:
    """An upper estimate of the memory that the parsed document of `text` holds."""
    return (AST_BYTES_PER_CHAR + 1) * len(text)


class BoundedCache(Generic[K, V]):
    """An LRU of values with their sizes, kept within `max_bytes` in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value kept for `key`, if any (it becomes the most recently used)."""
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def put(self, key: K, value: V, size: int) -> None:
        """Keep `value` for `key`, counted as `size` bytes plus the entry's overhead (a value
        larger than a quarter of the budget is not kept); evict until within the budget."""
        size += ENTRY_OVERHEAD
        previous = self._entries.pop(key, None)
        if previous is not None:
            self.bytes -= previous[1]
        if size > self.max_bytes // 4:
            return
        self._entries[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class Documents:
    """The parse and validation caches of one schema."""

    max_bytes: int = 16 * 1024 * 1024
    max_document_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        self.parsed: BoundedCache[tuple[bytes, int | None], DocumentNode] = BoundedCache(
            self.max_bytes
        )
        self.verdicts: BoundedCache[tuple[bytes, tuple[Any, ...]], list[GraphQLError]] = (
            BoundedCache(self.max_bytes)
        )
        # The last document too large to keep, with its key: one, whatever its size.
        self.last: tuple[tuple[bytes, int | None], DocumentNode] | None = None

    def cacheable(self, text: str) -> bool:
        """Whether a document this long may be kept."""
        return len(text) <= self.max_document_bytes

    def parse(self, text: str, max_tokens: int | None = None) -> DocumentNode:
        """The parsed document of `text` (GraphQLError when it does not parse)."""
        key = (digest(text), max_tokens)
        if not self.cacheable(text):
            if self.last is not None and self.last[0] == key:
                return self.last[1]
            self.last = None  # let the previous one go before parsing this one
            large = parse(text, max_tokens=max_tokens)
            self.last = (key, large)
            return large
        found = self.parsed.get(key)
        if found is not None:
            return found
        document = parse(text, max_tokens=max_tokens)
        self.parsed.put(key, document, document_bytes(text) + len(key[0]))
        return document

    def validate(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Sequence[type[ASTValidationRule]],
        text: str,
    ) -> list[GraphQLError]:
        """The validation errors of the document of `text` under `rules` (none: valid)."""
        if not self.cacheable(text):
            return validate(schema, document, rules)
        key = (digest(text), tuple(rules))
        errors = self.verdicts.get(key)
        if errors is None:
            errors = validate(schema, document, rules)
            # The errors point into the document: count it, as the verdict keeps it alive.
            size = document_bytes(text) + sum(2 * len(e.message) for e in errors)
            self.verdicts.put(key, errors, size + len(key[0]))
        return errors


def documents_extension(documents: Documents) -> Callable[[], SchemaExtension]:
    """The schema extension that parses and validates through `documents` (in place of
    strawberry's ParserCache and ValidationCache, which key their entries by the text)."""

    class DocumentCache(SchemaExtension):
        def on_parse(self) -> Iterator[None]:
            context = self.execution_context
            if context.query is not None and context.graphql_document is None:
                # A document that does not parse is parsed again by strawberry, which answers
                # with the error.
                with suppress(GraphQLError):
                    context.graphql_document = documents.parse(
                        context.query, context.parse_options.get("max_tokens")
                    )
            yield

        def on_validate(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if context.query is not None and document is not None:
                context.pre_execution_errors = documents.validate(
                    context.schema._schema, document, context.validation_rules, context.query
                )
            yield

    return DocumentCache
