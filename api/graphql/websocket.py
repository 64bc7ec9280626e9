"""graphql-transport-ws under a key that can be withdrawn while the socket is open.

Strawberry's handler runs every operation of a socket with the one context made at its
handshake. Here each operation gets its own context (fresh loaders, so a query an hour later
reads the records as they are then, and its own tally of personal data, counted for the key when
it ends, as an HTTP request's is), and none starts before the socket's key is checked
(api/sockets.py). A socket whose key is revoked or changes role is closed with all its operations.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from contextvars import ContextVar

from graphql import GraphQLFormattedError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    Message,
    SubscribeMessage,
)

from api.graphql.context import Context
from api.graphql.permissions import count_personal_data_reads

log = logging.getLogger("mar.graphql")

# The context of the operation a task runs; each operation runs in a task of its own, which
# keeps its own value of this variable.
_operation_context: ContextVar[Context | None] = ContextVar("operation_context", default=None)


class KeyedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws whose operations each check the socket's key and count their reads."""

    @property
    def context(self) -> Context:
        """The running operation's own context; outside one, the socket's."""
        return _operation_context.get() or self._socket_context

    @context.setter
    def context(self, value: Context) -> None:
        self._socket_context = value

    async def handle(self) -> None:
        socket = self._socket_context.socket
        if socket is not None:
            socket.owner.attach(socket, self._withdraw)
        await super().handle()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            # Each open operation is a statement per event: one socket may not hold many.
            await self.send_message(over_the_limit(message["id"], limit))
            return
        socket = self._socket_context.socket
        if (
            socket is not None
            and self.connection_acknowledged
            and await socket.owner.check(socket, self._socket_context.db) is not None
        ):
            return  # the socket is being closed; nothing more runs on it
        await super().handle_subscribe(message)

    async def send_message(self, message: Message) -> None:
        socket = self._socket_context.socket
        if socket is not None and socket.refusal is not None:
            return  # the key was withdrawn: nothing more goes out under it, even in flight
        await super().send_message(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        own = dataclasses.replace(self._socket_context)
        _operation_context.set(own)  # this task's own copy of the variable
        try:
            await super().run_operation(operation)
        finally:
            # Shielded: an operation cancelled (completed by the client, its socket closed)
            # still counts what it showed.
            await asyncio.shield(count_personal_data_reads(own))

    async def _withdraw(self, code: int, reason: str) -> None:
        """End every operation of the socket, then close it with `code`."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # the client may have gone already
            await self.websocket.close(code=code, reason=reason)


def over_the_limit(operation_id: str, limit: int) -> ErrorMessage:
    """The error that refuses one more operation on a socket that runs `limit` already."""
    error: GraphQLFormattedError = {
        "message": f"A socket may run at most {limit} operations at once; complete one first",
        "extensions": {"code": "RATE_LIMITED"},
    }
    return {"id": operation_id, "type": "error", "payload": [error]}
