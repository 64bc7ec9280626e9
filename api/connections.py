"""Let an endpoint abort its client's connection: the outermost layer of `mar serve`.

ASGI has no message that aborts a connection: an app that stops mid-answer can only return, and
uvicorn then closes the socket gracefully, which waits for the unsent bytes to drain, i.e. forever
for a client that never reads (its socket, buffers and file descriptor stay). A client that must
be cut off (api/rest/export_stream.py) is aborted instead: the socket is reset at once (RST, not
FIN: a lingering close would still keep the unsent bytes in the kernel for the client). uvicorn's
`send` is a method of the request cycle that holds the asyncio transport; this layer, the first
to see `send`, puts that transport's `abort` in the scope. Under another server, or in-process
tests, there is none and the endpoint just stops.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send

ABORT = "mar.abort"


class AbortableConnections:
    """Put `abort()` of the HTTP request's connection in `scope["extensions"]["mar.abort"]`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if callable(getattr(transport, "abort", None)):
                scope.setdefault("extensions", {})[ABORT] = lambda: _reset(transport)
        await self.app(scope, receive, send)


def _reset(transport: Any) -> None:
    """Close the connection at once, dropping what it has not sent (SO_LINGER 0: a reset)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def aborter(scope: Scope) -> Callable[[], None] | None:
    """The function that resets this request's connection, when the server offers one."""
    abort = (scope.get("extensions") or {}).get(ABORT)
    return cast(Callable[[], None], abort) if callable(abort) else None
