"""The per-request GraphQL context: where connections come from, settings, loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from strawberry.types import Info as StrawberryInfo

from api.graphql.loaders import Loaders
from api.live import Live
from api.settings import Settings
from api.sockets import Socket
from db.pool import ConnectionSource


@dataclass
class Context:
    """Built fresh for every request (and every operation of a WebSocket)."""

    db: ConnectionSource
    settings: Settings
    request_id: str
    role: str = "public"  # the caller's role (API.md "Access"), from its key (api/auth.py)
    key_name: str | None = None  # the caller's key, None for anonymous requests
    key_id: int | None = None
    request: Any = None
    live: Live | None = None  # the live changes subscriptions follow (api/live.py)
    response: Any = None
    socket: Socket | None = None  # the WebSocket this runs on, whose key may be withdrawn
    loaders: Loaders = field(init=False)
    # Casualties whose personal data this request read; counted per key once it ends.
    personal_data_read: set[object] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db)


Info: TypeAlias = StrawberryInfo[Context, None]
