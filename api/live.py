"""Live changes for GraphQL subscriptions: one listening connection per server process.

Migration 0005 has PostgreSQL announce, at commit, each incident recorded and each zone changed
(the record's id on a channel). Live keeps one connection listening to those channels
(db/listen.py) and hands every id to the feeds of the subscriptions open in this process. When
the connection is lost it reconnects with a growing pause; what is announced while it is away is
not seen (a client that must miss nothing reads the list again after a reconnect).

The same connection hears of API keys revoked or given another role (migration 0007) and hands
them to the open WebSockets of the process (api/sockets.py); once it is listening again after a
loss, those sockets' keys are read again on it (what was announced meanwhile was lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from api.errors import ApiError
from api.sockets import Sockets
from db.listen import listen
from db.pool import Connection

log = logging.getLogger("mar.live")

# What a subscription follows -> the channel migration 0005 announces it on.
CHANNELS = {"incident": "mar_incident_recorded", "zone": "mar_zone_changed"}
KIND_OF = {channel: kind for kind, channel in CHANNELS.items()}
KEY_CHANNEL = "mar_key_changed"  # migration 0007: `<key id> revoked` or `<key id> <role>`
# Ids a subscription may have waiting before it is ended as too slow.
QUEUE_SIZE = 1000
RETRY_FIRST_S, RETRY_MOST_S = 0.5, 10.0


class SubscriberTooSlow(ApiError):
    """A subscription fell too far behind the changes it follows; the client subscribes again."""

    code = "RATE_LIMITED"
    http_status = 429


class Feed:
    """The ids announced for one subscription, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    def push(self, record_id: int) -> None:
        """Add an id; a full feed is marked, and ends once what it holds has been read."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(record_id)
        except asyncio.QueueFull:
            self.overflowed = True

    async def __aiter__(self) -> AsyncIterator[int]:
        while True:
            if self.overflowed and self.queue.empty():
                raise SubscriberTooSlow(
                    f"more than {QUEUE_SIZE} changes waited for this subscription; subscribe again"
                )
            yield await self.queue.get()


class Live:
    """The listening connection of this process and the feeds of its open subscriptions."""

    def __init__(self, database_url: str, sockets: Sockets | None = None) -> None:
        self.database_url = database_url
        self.sockets = sockets
        self.feeds: dict[str, set[Feed]] = {kind: set() for kind in CHANNELS}
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin listening, in the background; it reconnects by itself."""
        self._task = asyncio.create_task(self._listen_forever(), name="mar-live")

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def follow(self, kind: str) -> AsyncIterator[Feed]:
        """A feed of the ids announced for `kind` while the block runs."""
        feed = Feed()
        self.feeds[kind].add(feed)
        try:
            yield feed
        finally:
            self.feeds[kind].discard(feed)

    def _deliver(self, channel: str, payload: str) -> None:
        if channel == KEY_CHANNEL:
            if self.sockets is not None:
                self.sockets.key_changed(payload)
            return
        kind = KIND_OF.get(channel)
        if kind is None or not payload.isdigit():
            return
        for feed in self.feeds[kind]:
            feed.push(int(payload))

    async def _listening(self, conn: Connection) -> None:
        if self.sockets is not None:
            await self.sockets.recheck(conn)
        self.listening.set()
        log.info("live changes: listening")

    async def _listen_forever(self) -> None:
        pause = RETRY_FIRST_S
        while True:
            try:
                channels = [*CHANNELS.values(), KEY_CHANNEL]
                await listen(self.database_url, channels, self._deliver, self._listening)
                log.warning("live changes: the listening connection closed")
                pause = RETRY_FIRST_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: log it and try again, never give up
                log.warning("live changes: not listening (%s); retrying in %.1f s", exc, pause)
            self.listening.clear()
            if self.sockets is not None:
                self.sockets.listener_lost()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MOST_S)
