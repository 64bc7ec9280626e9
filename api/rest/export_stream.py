"""The answer of an export: its spool sent at the client's pace, within a time for each chunk.

The database side is done by the spool (api.services.spool) at its own speed; this side only
waits for the client. A client may take up to `send_timeout` seconds to accept each chunk; one
that takes longer is cut off (its connection reset: api.connections) and its export slot freed.
A client that goes away, or is cut off, is a line at INFO: not an error of the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Protocol

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from api.connections import aborter
from api.errors import from_database_failure
from api.rest.export_slots import Slot

log = logging.getLogger("mar.exports")


class SendTimeout(Exception):
    """The client accepted nothing for the send timeout."""


class ClientGone(Exception):
    """A send failed because the client has gone (servers of ASGI 2.4 raise OSError then)."""


class Source(Protocol):
    """What an export sends: a spool (api.services.spool), or a file written whole first."""

    def read(self) -> AsyncGenerator[bytes, None]:
        """The bytes to send, in chunks."""
        ...

    async def close(self) -> None:
        """Give back what the source holds (its file, its database work)."""
        ...


class ExportResponse(Response):
    """Stream `spool` to the client; whatever ends it, the spool is closed and the slot freed."""

    def __init__(
        self,
        spool: Source,
        slot: Slot,
        *,
        media_type: str,
        headers: Mapping[str, str],
        send_timeout: float,
    ) -> None:
        self.spool, self.slot, self.send_timeout = spool, slot, send_timeout
        self.status_code = 200
        self.media_type = media_type
        self.background: BackgroundTask | None = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, gone))
        sent = 0
        path = scope.get("path")
        try:
            start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
            await self._send(send, start)
            if scope.get("method") == "HEAD":  # the headers only
                await self._send(send, _body(b"", more=False))
                return
            async with aclosing(self.spool.read()) as chunks:
                async for chunk in chunks:
                    if gone.is_set():
                        break
                    await self._send(send, _body(chunk, more=True))
                    sent += len(chunk)
            if gone.is_set():
                log.info("%s: the client went away after %d bytes", path, sent)
                return
            await self._send(send, _body(b"", more=False))
        except SendTimeout:
            log.info(
                "%s: the client accepted nothing for %g s after %d bytes; cut off",
                path,
                self.send_timeout,
                sent,
            )
            if _abort(scope):
                await _settle(gone)
        except ClientGone:
            log.info("%s: the client went away after %d bytes", path, sent)
        except Exception as error:
            # The export failed half-way (e.g. a statement over its time limit): the status is
            # sent, so the client can only learn it from a connection reset before the end.
            if from_database_failure(error) is not None:  # a limit, not a fault: no traceback
                log.warning("%s: the export failed after %d bytes: %s", path, sent, error)
            else:
                log.exception("%s: the export failed after %d bytes", path, sent)
            if not _abort(scope):
                raise
            await _settle(gone)
        finally:
            watcher.cancel()
            await self.spool.close()
            self.slot.release()

    async def _send(self, send: Send, message: Message) -> None:
        try:
            async with asyncio.timeout(self.send_timeout):
                await send(message)
        except TimeoutError:
            raise SendTimeout from None
        except OSError:
            raise ClientGone from None


def _body(chunk: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": more}


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    """Set `gone` when the client disconnects (a server that cannot say so counts as that too)."""
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
    gone.set()


async def _settle(gone: asyncio.Event) -> None:
    """Wait (briefly) until the server has seen the connection it was told to abort go: returning
    before then, the response would look abandoned to it and be logged as an error."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            await gone.wait()


def _abort(scope: Scope) -> bool:
    """Reset the client's connection, if the server lets us; say whether it did."""
    abort = aborter(scope)
    if abort is None:
        return False
    abort()
    return True
