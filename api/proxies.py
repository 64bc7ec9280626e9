"""The client's address and scheme behind reverse proxies: X-Forwarded-For and X-Forwarded-Proto
count only when the connection comes from one of MAR_TRUSTED_PROXIES (none by default).

This is the one place that reads them (`mar serve` runs uvicorn without its own proxy headers),
so the rate limits, the failed-key limit and the logs all see the same address, and no client can
choose its own by sending the header.
"""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


def parse_address(text: str) -> IPAddress | None:
    """An address of X-Forwarded-For (a port or IPv6 brackets allowed), or None when it is none."""
    value = text.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


class TrustedProxyMiddleware:
    """Take the client's address (and scheme) from a trusted proxy's X-Forwarded-* headers."""

    def __init__(self, app: ASGIApp, *, trusted: tuple[str, ...]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(n) for n in trusted]

    def trusts(self, address: IPAddress | None) -> bool:
        """Whether `address` is one of the trusted proxies."""
        return address is not None and any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if (
            self.networks
            and scope["type"] in ("http", "websocket")
            and client
            and self.trusts(parse_address(client[0]))
        ):
            self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> None:
        forwarded: list[str] = []
        proto = None
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                forwarded += value.decode("latin-1").split(",")
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
        # Each proxy appends the address it was called from: read from the right, past our own
        # proxies, to the first address none of them is; what is left of it a client could write.
        chosen = None
        for entry in reversed(forwarded):
            address = parse_address(entry)
            if address is None:
                break
            chosen = address
            if not self.trusts(address):
                break
        if chosen is not None:
            scope["client"] = (str(chosen), 0)
        if proto in _SCHEMES:
            scope["scheme"] = _SCHEMES[proto][scope["type"] == "websocket"]
