"""Executor work in short slices, so that one large answer cannot hold the event loop.

graphql-core completes a list synchronously, item after item: 500 zones of 20 fields each are a
quarter of a second in which the process answers nothing else (not even /healthz), and a query
with 15 such lists made ready by the same database round trip held the loop for seconds. Here
the items of a long list (beyond the first EAGER_ITEMS) are completed a few at a time, in turns
of the event loop shared by every request of the process, and other requests are served between
them; the answer is written to JSON in turns as well.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from graphql import GraphQLList, GraphQLOutputType, GraphQLResolveInfo
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# Lists up to this long are completed at once: taking turns would cost more than it saves.
EAGER_ITEMS = 16
# The items of a longer list are completed this many per turn of the event loop.
ITEMS_PER_TURN = 8


class Checkpoint:
    """The turns of one event loop: what waits for a turn runs in arrival order, one turn per
    pass of the loop, so that the loop polls its sockets (and answers /healthz) between them.

    A DataLoader's batch is dispatched only once the turns queued before it have run, so items
    that take turns still have their lookups batched together (api/graphql/loaders.py).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: deque[asyncio.Future[None] | Callable[[], object]] = deque()
        self.scheduled = False

    def turn(self) -> asyncio.Future[None]:
        """A turn after those already queued: done when it comes."""
        turn = self.loop.create_future()
        self.queue.append(turn)
        self._schedule()
        return turn

    def after_turns(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the turns queued now have run (at once when none is queued)."""
        if not self.queue:
            self.loop.call_soon(callback)
            return
        self.queue.append(callback)

    def _schedule(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._next)

    def _next(self) -> None:
        """Give the turn to the first entry still waiting, and schedule the next turn."""
        self.scheduled = False
        while self.queue:
            entry = self.queue.popleft()
            if isinstance(entry, asyncio.Future):
                if entry.done():  # a cancelled request's turn
                    continue
                entry.set_result(None)
                break
            self.loop.call_soon(entry)
        if self.queue:
            self._schedule()


_CHECKPOINTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Checkpoint] = (
    weakref.WeakKeyDictionary()
)


def checkpoint() -> Checkpoint:
    """The checkpoint of the running event loop."""
    loop = asyncio.get_running_loop()
    found = _CHECKPOINTS.get(loop)
    if found is None:
        found = _CHECKPOINTS[loop] = Checkpoint(loop)
    return found


class LoaderLoop:
    """What a DataLoader needs of its event loop, with its batches dispatched after the turns
    queued before them (a DataLoader calls only these two methods)."""

    def __init__(self) -> None:
        self.gate = checkpoint()

    def create_future(self) -> asyncio.Future[Any]:
        """A future of the running loop."""
        return self.gate.loop.create_future()

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        """Call `callback(*args)` once the turns queued now have run."""
        self.gate.after_turns(partial(callback, *args))


async def _in_turn(item: Any, turn: asyncio.Future[None]) -> Any:
    await turn
    if isinstance(item, Awaitable):
        return await item
    return item


class FairExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """The executor, with the items of long lists completed in the process's time slices."""

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any = None,
    ) -> AwaitableOrValue[list[Any]]:
        if (
            isinstance(result, list | tuple)
            and len(result) > EAGER_ITEMS
            and not info.parent_type.name.startswith("__")  # introspection: small and sync
            and _running()
        ):
            return self._in_turns(
                return_type, field_details_list, info, path, result, position_context
            )
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    async def _in_turns(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: list[Any] | tuple[Any, ...],
        position_context: Any,
    ) -> list[Any]:
        # A long list begins in a turn of its own: lists made ready together (the aliases of
        # one request, whose statements come back at once) do not begin all in one turn.
        await checkpoint().turn()
        completed = super().complete_list_value(
            return_type, field_details_list, info, path, _sliced(result), position_context
        )
        if isinstance(completed, Awaitable):
            return list(await completed)
        return list(completed)


def _running() -> bool:
    """Whether an event loop runs this execution (execute_sync has none and cannot wait)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _sliced(items: list[Any] | tuple[Any, ...]) -> Iterable[Any]:
    """The first EAGER_ITEMS items as they are, the others in turns of ITEMS_PER_TURN (the turns
    are queued now, before any lookup of the first items asks for a batch)."""
    gate = checkpoint()
    out = list(items[:EAGER_ITEMS])
    for start in range(EAGER_ITEMS, len(items), ITEMS_PER_TURN):
        turn = gate.turn()
        out.extend(_in_turn(item, turn) for item in items[start : start + ITEMS_PER_TURN])
    return out


class Encoded(dict[str, Any]):
    """A response already written as JSON (`text`), so that writing it blocks nobody."""

    text: str = ""


async def encode(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False)`, the same text; the items of long lists are
    written ITEMS_PER_TURN at a time, in turns, so a large answer is written in turns too."""
    if isinstance(value, dict):
        members = [
            f"{json.dumps(key, ensure_ascii=False)}: {await encode(v)}" for key, v in value.items()
        ]
        return "{" + ", ".join(members) + "}"
    if isinstance(value, list) and len(value) > EAGER_ITEMS:
        gate = checkpoint()
        items = []
        for index, item in enumerate(value):
            if index % ITEMS_PER_TURN == 0:
                await gate.turn()
            items.append(json.dumps(item, ensure_ascii=False))
        return "[" + ", ".join(items) + "]"
    return json.dumps(value, ensure_ascii=False)
