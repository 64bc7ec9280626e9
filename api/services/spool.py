"""Spool: an export written to a temporary file as fast as the database makes it, read back at the
client's pace.

Why a spool (and not keyset batches on briefly borrowed connections): the export is read in one
read-only transaction, so it is one snapshot of the records whatever its size and whatever the
client's speed, and it needs nothing of its statement (every sort order and the casualty counts'
GROUP BY stay as they are, the answer is the same bytes). The connection is held for as long as
PostgreSQL takes to write the rows and no longer: a client that stops reading stalls only its own
reader, never the producer, so it holds no connection and no transaction. The file is unlinked as
soon as it is made (the kernel drops it when it is closed, a crash included) and the process keeps
only one read chunk in memory, so memory stays flat whatever the size of the export.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any, TypeVar

T = TypeVar("T")

READ_BYTES = 256 * 1024


class Spool:
    """Chunks of `source` written to an unlinked temporary file by a task of their own; `read()`
    gives them back in order, waiting for more while the source runs, and raises what it raised."""

    def __init__(
        self,
        source: AsyncGenerator[bytes, None],
        *,
        folder: str | None = None,
        read_bytes: int = READ_BYTES,
    ) -> None:
        self._source = source
        self._file = tempfile.TemporaryFile(dir=folder or None)  # noqa: SIM115 (closed in close())
        self._fd = self._file.fileno()
        self._read_bytes = read_bytes
        self._written = 0
        self._grew = asyncio.Event()
        self._first = asyncio.Event()
        self._done = False
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_threads: set[asyncio.Future[Any]] = set()

    @property
    def written(self) -> int:
        """Bytes the source has produced so far."""
        return self._written

    @property
    def done(self) -> bool:
        """Whether the source has ended (completely or with an error)."""
        return self._done

    async def start(self) -> None:
        """Start the producer and wait for its first chunk (for an export: the connection borrowed
        and the statement open), so that a failure up to there is raised here, before any answer."""
        self._task = asyncio.create_task(self._produce())
        first = asyncio.create_task(self._first.wait())
        try:
            await asyncio.wait({first, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            first.cancel()
        if self._error is not None and self._written == 0:
            raise self._error

    async def _produce(self) -> None:
        try:
            async with aclosing(self._source) as chunks:
                async for chunk in chunks:
                    if chunk:
                        await self._in_thread(_write_all, self._fd, chunk, self._written)
                        self._written += len(chunk)
                        self._first.set()
                        self._grew.set()
        except asyncio.CancelledError:
            self._error = ConnectionAbortedError("the export was abandoned")
            raise
        except Exception as error:  # handed to the reader, who raises it
            self._error = error
        finally:
            self._done = True
            self._first.set()
            self._grew.set()

    async def read(self) -> AsyncGenerator[bytes, None]:
        """Yield the spooled bytes in order, up to `read_bytes` at a time, as they are written."""
        offset = 0
        while True:
            if offset < self._written:
                size = min(self._read_bytes, self._written - offset)
                data = await self._in_thread(os.pread, self._fd, size, offset)
                offset += len(data)
                yield data
                continue
            if self._done:
                if self._error is not None:
                    raise self._error
                return
            self._grew.clear()
            if offset >= self._written and not self._done:
                await self._grew.wait()

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        """Run blocking file I/O in a thread; a cancelled caller leaves it to finish, and close()
        waits for it, so the descriptor is never closed (and its number reused) under it."""
        future = asyncio.ensure_future(asyncio.to_thread(function, *args))
        self._in_threads.add(future)
        future.add_done_callback(self._in_threads.discard)
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Stop the producer if it still runs (its transaction is rolled back) and drop the file."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._in_threads:
            await asyncio.wait(set(self._in_threads))
        self._file.close()


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
