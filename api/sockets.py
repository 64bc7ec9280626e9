"""The open WebSockets of this process: capped per key and per address, closed when their key
stops holding.

A socket is authenticated once, at its handshake, but lives for hours. Migration 0007 has
PostgreSQL announce at commit every key revoked, deleted or given another role, whatever wrote it;
api/live.py hears it on the process's listening connection and hands it to key_changed(), which
closes every socket of that key here: 4401 when the key no longer holds, 4403 when its role
changed (the client connects again and is authenticated afresh).

Between the handshake's key lookup and the moment a socket is known here, an announcement can
pass unseen; while the listening connection is down, announcements are lost. So a keyed socket
counts as checked only once its key has been read from the database while this process was
listening (check(), before each operation it runs), and every time the listening connection is
established again, all keyed sockets are checked at once on that connection (recheck()), after
its LISTEN and so without a gap. When the listener is down, each operation reads its key first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import Any, TypeVar

import asyncpg

from api.auth import Caller
from api.errors import ApiError
from db.pool import ConnectionSource
from db.queries import keys as key_sql

log = logging.getLogger("mar.sockets")

# (WebSocket close code, reason) for a socket whose key stopped holding.
Refusal = tuple[int, str]
REVOKED: Refusal = (4401, "the key has been revoked")
ROLE_CHANGED: Refusal = (4403, "the key's role has changed; connect again")
UNCHECKED: Refusal = (1011, "the key could not be checked; connect again")
Closer = Callable[[int, str], Coroutine[Any, Any, None]]
NEVER = -1  # the epoch of a socket whose key was never read while listening
Name = TypeVar("Name", bound=Hashable)


class TooManySockets(ApiError):
    """A key (or an address, without a key) already holds as many WebSockets as it may."""

    code = "RATE_LIMITED"
    http_status = 429


class Socket:
    """One open WebSocket: whose key it was opened with, and how to close it."""

    def __init__(self, owner: Sockets, caller: Caller, address: str, key_hash: str | None) -> None:
        self.owner = owner  # the registry that holds it
        self.key_id = caller.key_id
        self.role = caller.role
        self.address = address
        self.key_hash = key_hash  # None without a key
        self.checked_epoch = NEVER
        self.refusal: Refusal | None = None  # set once: the socket is closing, nothing more runs
        self.closer: Closer | None = None


class Sockets:
    """The open WebSockets of this process, by key and by address (those without a key)."""

    def __init__(self, max_per_key: int, max_per_address: int) -> None:
        self.max_per_key = max_per_key
        self.max_per_address = max_per_address
        self.by_key: dict[int, set[Socket]] = {}
        self.by_address: dict[str, set[Socket]] = {}
        # Bumped each time the listening connection is established: a socket checked in an
        # earlier epoch may have missed an announcement.
        self.epoch = 0
        self.listening = False
        self._closing: set[asyncio.Task[None]] = set()

    # --- who holds what -----------------------------------------------------------------

    def admit(self, caller: Caller, address: str, key_hash: str | None) -> Socket:
        """Register a socket about to be accepted, or raise TooManySockets over the cap."""
        if caller.key_id is not None:
            held = self.by_key.setdefault(caller.key_id, set())
            if len(held) >= self.max_per_key:
                raise TooManySockets(
                    f"this key already holds {len(held)} WebSockets, the most it may; "
                    "close one first"
                )
        else:
            held = self.by_address.setdefault(address, set())
            if len(held) >= self.max_per_address:
                raise TooManySockets(
                    f"this address already holds {len(held)} WebSockets without a key, the "
                    "most it may; close one first"
                )
        socket = Socket(self, caller, address, key_hash if caller.key_id is not None else None)
        held.add(socket)
        return socket

    def leave(self, socket: Socket) -> None:
        """Forget a socket that has closed."""
        if socket.key_id is not None:
            _discard(self.by_key, socket.key_id, socket)
        else:
            _discard(self.by_address, socket.address, socket)

    def attach(self, socket: Socket, closer: Closer) -> None:
        """Say how to close `socket`; closes it at once if its key stopped holding meanwhile."""
        socket.closer = closer
        if socket.refusal is not None:
            self._schedule_close(socket)

    def open_count(self) -> int:
        """How many sockets are open in this process."""
        return sum(len(s) for s in self.by_key.values()) + sum(
            len(s) for s in self.by_address.values()
        )

    # --- keys that stop holding ---------------------------------------------------------

    def key_changed(self, payload: str) -> None:
        """Close the sockets of a key announced as changed (`<id> revoked` or `<id> <role>`)."""
        key, _, state = payload.partition(" ")
        if key == "*":
            targets: Iterable[Socket] = [s for held in self.by_key.values() for s in held]
        elif key.isdigit():
            targets = list(self.by_key.get(int(key), ()))
        else:
            return
        for socket in targets:
            if state == "revoked":
                self.refuse(socket, REVOKED)
            elif state != socket.role:
                self.refuse(socket, ROLE_CHANGED)

    def listener_lost(self) -> None:
        """Announcements may be missed from now on: operations read their key first."""
        self.listening = False

    async def recheck(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        """On a connection that has just begun to LISTEN: check every keyed socket's key, then
        trust announcements again."""
        sockets = [s for held in self.by_key.values() for s in held]
        epoch = self.epoch + 1
        states = await _states(conn, sockets)
        for socket in sockets:
            refusal = _verdict(socket, states)
            if refusal is not None:
                self.refuse(socket, refusal)
            else:
                socket.checked_epoch = epoch
        self.epoch = epoch
        self.listening = True

    async def check(self, socket: Socket, db: ConnectionSource) -> Refusal | None:
        """Before an operation: None when the socket's key still holds, as far as this process
        knows, else why the socket is closing (it then is)."""
        if socket.refusal is not None or socket.key_hash is None:
            return socket.refusal
        if self.listening and socket.checked_epoch == self.epoch:
            return None
        epoch, listening = self.epoch, self.listening
        try:
            async with db.acquire() as conn:
                states = await _states(conn, [socket])
        except Exception as exc:  # the database is away: no operation runs on an unknown key
            log.warning("could not check a WebSocket's key: %s", exc)
            self.refuse(socket, UNCHECKED)
            return socket.refusal
        refusal = _verdict(socket, states)
        if refusal is not None:
            self.refuse(socket, refusal)
        elif listening and self.listening and self.epoch == epoch:
            # Read while listening in this epoch: any later change is announced to us.
            socket.checked_epoch = epoch
        return socket.refusal

    def refuse(self, socket: Socket, refusal: Refusal) -> None:
        """Mark `socket` closing (once) and close it as soon as it can be."""
        if socket.refusal is not None:
            return
        socket.refusal = refusal
        log.info("closing a WebSocket of key %s: %s", socket.key_id, refusal[1])
        if socket.closer is not None:
            self._schedule_close(socket)

    def _schedule_close(self, socket: Socket) -> None:
        assert socket.closer is not None and socket.refusal is not None
        task = asyncio.get_running_loop().create_task(socket.closer(*socket.refusal))
        self._closing.add(task)  # keep a reference until it is done
        task.add_done_callback(self._closing.discard)


async def _states(
    conn: asyncpg.Connection[asyncpg.Record], sockets: list[Socket]
) -> dict[str, asyncpg.Record]:
    """The keys of `sockets` as they are now, by hash (absent: deleted or re-hashed)."""
    hashes = sorted({s.key_hash for s in sockets if s.key_hash is not None})
    if not hashes:
        return {}
    rows = await conn.fetch(key_sql.STATES, hashes)
    return {row["key_hash"]: row for row in rows}


def _verdict(socket: Socket, states: dict[str, asyncpg.Record]) -> Refusal | None:
    """Why `socket` may not go on under its key as it is now, or None."""
    row = states.get(socket.key_hash or "")
    if row is None or row["revoked_at"] is not None:
        return REVOKED
    if row["role"] != socket.role:
        return ROLE_CHANGED
    return None


def _discard(index: dict[Name, set[Socket]], name: Name, socket: Socket) -> None:
    held = index.get(name)
    if held is not None:
        held.discard(socket)
        if not held:
            del index[name]
