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
from typing import Any, cast

from graphql import GraphQLFormattedError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    Message,
    SubscribeMessage,
)

from api.auth import authenticate, caller_var, hash_secret
from api.errors import Unauthenticated
from api.graphql import persisted
from api.graphql.context import Context
from api.graphql.permissions import count_personal_data_reads
from api.ratelimit import TokenBuckets
from api.sockets import TooManySockets

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

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # Browsers cannot set headers on a WebSocket: a key may come in connection_init's
        # payload instead, checked as the header is, before the connection is acknowledged.
        payload = message.get("payload")
        token = payload_key(payload) if isinstance(payload, dict) else None
        adopt = token is not None and not self.connection_init_received
        if adopt and not await self._adopt_key(token or ""):
            return
        await super().handle_connection_init(message)

    async def _adopt_key(self, token: str) -> bool:
        """Run the socket under the key of its payload; False when the socket was closed."""
        context = self._socket_context
        socket = context.socket
        state = getattr(context.request, "state", None)
        failures: TokenBuckets | None = getattr(state, "auth_failures", None)
        address = socket.address if socket is not None else ""
        if failures is not None and failures.wait(address) > 0:
            # Guessing keys through sockets is limited as through headers (api/auth.py).
            await self.websocket.close(code=4429, reason="too many failed key checks; wait")
            return False
        try:
            if token == "":
                raise Unauthenticated("send the key as `Bearer <key>`")
            caller = await authenticate(context.db, f"Bearer {token}", anonymous=True)
        except Unauthenticated as exc:
            if failures is not None:
                failures.take(address)
            await self.websocket.close(code=4401, reason=exc.message[:120])
            return False
        except Exception as exc:  # the database is away: no socket runs on an unknown key
            log.warning("could not check a WebSocket's payload key: %s", exc)
            await self.websocket.close(code=1011, reason="the key could not be checked")
            return False
        if context.key_id is not None:
            if caller.key_id == context.key_id:
                return True  # the same key in the header and the payload
            await self.websocket.close(code=4400, reason="two different keys: send one")
            return False
        if socket is not None:
            registry = socket.owner
            try:
                keyed = registry.admit(caller, socket.address, hash_secret(token))
            except TooManySockets as exc:
                await self.websocket.close(code=4429, reason=exc.message[:120])
                return False
            registry.leave(socket)
            socket.closer = None
            registry.attach(keyed, self._withdraw)
            if state is not None:
                state.socket = keyed  # GraphQLApp._socket forgets it when the socket ends
            socket = keyed
        self._socket_context = dataclasses.replace(
            context, role=caller.role, key_name=caller.name, key_id=caller.key_id, socket=socket
        )
        # Operations run in tasks started from here: they see this caller (audit, services).
        caller_var.set(caller)
        return True

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
        if self.connection_acknowledged and not await self._with_document(message):
            return
        await super().handle_subscribe(message)

    async def _with_document(self, message: SubscribeMessage) -> bool:
        """Put the text of the document a subscribe message names in it (persisted queries,
        trusted documents, as over HTTP); False when it was refused with an error message."""
        payload: dict[str, Any] = cast(dict[str, Any], message.get("payload"))
        context = self._socket_context
        trusted_only = context.settings.trusted_documents_only
        if not isinstance(payload, dict) or (
            not trusted_only and "documentId" not in payload and "extensions" not in payload
        ):
            return True
        apq = getattr(self.view, "apq", None) or persisted.PersistedQueries(0)
        try:
            resolved = await persisted.resolve(payload, context.role, context.db, apq, trusted_only)
        except persisted.DocumentRefused as refused:
            error: GraphQLFormattedError = {
                "message": refused.message,
                "extensions": {"code": refused.code},
            }
            await self.send_message({"id": message["id"], "type": "error", "payload": [error]})
            return False
        payload["query"] = resolved.get("query")
        return True

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


# Where clients put a key in connection_init's payload: graphql-ws's connectionParams as Apollo
# and urql examples write them, flat or under `headers`.
KEY_FIELDS = ("Authorization", "authorization", "authToken", "token")


def payload_key(payload: dict[str, Any]) -> str | None:
    """The key a connection_init payload carries (without `Bearer `), None when it has none."""
    for holder in (payload, payload.get("headers")):
        if not isinstance(holder, dict):
            continue
        for field in KEY_FIELDS:
            value = holder.get(field)
            if value is None:
                continue
            if not isinstance(value, str):
                return ""  # a key of the wrong shape is refused, never ignored
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                return rest.strip()
            return value.strip() if " " not in value.strip() else ""
    return None


def over_the_limit(operation_id: str, limit: int) -> ErrorMessage:
    """The error that refuses one more operation on a socket that runs `limit` already."""
    error: GraphQLFormattedError = {
        "message": f"A socket may run at most {limit} operations at once; complete one first",
        "extensions": {"code": "RATE_LIMITED"},
    }
    return {"id": operation_id, "type": "error", "payload": [error]}
