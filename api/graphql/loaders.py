"""Per-request DataLoaders: every nested field batches its lookups into one statement."""

from __future__ import annotations

from asyncio import AbstractEventLoop
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar, cast

from strawberry.dataloader import DataLoader

from api.graphql.fairness import LoaderLoop
from db.pool import ConnectionSource

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BatchFn = Callable[[ConnectionSource, list[Any]], Awaitable[Sequence[Any]]]


class Loaders:
    """The DataLoaders of one request, each made on first use and cached for the request."""

    def __init__(self, db: ConnectionSource) -> None:
        self.db = db
        self._loaders: dict[BatchFn, DataLoader[Any, Any]] = {}

    def get(self, batch: BatchFn) -> DataLoader[Any, Any]:
        """Return this request's loader for `batch(db, keys) -> values in key order`."""
        loader = self._loaders.get(batch)
        if loader is None:
            # Batches wait for the list items queued in turns before them (fairness.py).
            loop = cast(AbstractEventLoop, LoaderLoop())
            loader = DataLoader(load_fn=partial(batch, self.db), loop=loop)
            self._loaders[batch] = loader
        return loader


def one_per_key(rows: Iterable[Any], keys: Sequence[K], key: str) -> list[Any | None]:
    """Order rows by `keys` (one row or None per key), matching on column `key`."""
    by_key = {row[key]: row for row in rows}
    return [by_key.get(k) for k in keys]


def many_per_key(rows: Iterable[Any], keys: Sequence[K], key: str) -> list[list[Any]]:
    """Group rows under `keys` (a list, maybe empty, per key), matching on column `key`."""
    groups: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    return [groups.get(k, []) for k in keys]
