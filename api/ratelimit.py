"""Per-key rate limit: a token bucket for every API key (for every client address when anonymous;
an IPv6 client's /64).

A bucket holds up to `burst` tokens and gains `rate` tokens a second; each request takes one. An
empty bucket answers RATE_LIMITED with HTTP 429 and `Retry-After` (whole seconds until a token is
back): a GraphQL error document on /graphql, problem+json elsewhere.

The buckets live in this process's memory. That is enough for one server process; with several
processes (workers, replicas) each keeps its own buckets, so a key may send up to `rate` times the
number of processes. A shared store (Redis, PostgreSQL) would be needed to enforce one budget
across processes.

The key comes from `request.state.key_name` (scope["state"]["key_name"]), set by the
authentication middleware, which must run before this one; None or absent means anonymous, and
the bucket is then the client's address.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.refusals import refuse
from api.requests import current_request_id
from api.rest.problems import problem

# Probes and metrics are never limited: an orchestrator must always reach them.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
GRAPHQL_PATH = "/graphql"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets by key; `take(key)` spends a token or says how long to wait for one."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_buckets = max_buckets
        self._buckets: dict[str, _Bucket] = {}

    def wait(self, key: str) -> float:
        """Seconds until `key`'s bucket holds a token (0.0: it holds one now); spends nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        elapsed = max(0.0, self.clock() - bucket.updated)
        tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend `cost` tokens of `key`'s bucket: 0.0 when allowed, else seconds until they are
        back (then nothing is spent)."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (they behave like new ones); else the oldest."""
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2 + 1]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def client_address(scope: Scope) -> str:
    """The client's address (behind a trusted proxy, the one it forwarded: api/proxies.py)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def address_bucket(scope: Scope) -> str:
    """The bucket of a client's address: the address itself, its /64 for IPv6 (one host is
    usually given a whole /64, and must not get a fresh budget from each of its addresses)."""
    address = client_address(scope)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address}"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return f"addr:{parsed.ipv4_mapped}"
        return f"addr:{ipaddress.ip_network(f'{parsed}/64', strict=False)}"
    return f"addr:{parsed}"


def bucket_key(scope: Scope) -> str:
    """The key name of the request, else its client's address."""
    name = (scope.get("state") or {}).get("key_name")
    if name:
        return f"key:{name}"
    return address_bucket(scope)


class RateLimitMiddleware:
    """Refuse HTTP requests and WebSocket handshakes over their key's budget with 429 and
    Retry-After."""

    def __init__(self, app: ASGIApp, *, rate: float, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.buckets is None
            or scope["type"] not in ("http", "websocket")
            or scope.get("path", "") in EXEMPT_PATHS
            or scope.get("method") == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        # A WebSocket handshake spends a token too: opening and closing sockets in a loop costs
        # a key lookup each, like any request.
        wait = self.buckets.take(bucket_key(scope))
        # A batch of GraphQL operations spends a token for each (api/graphql/batches.py).
        scope.setdefault("state", {})["rate_buckets"] = self.buckets
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        message = (
            f"Too many requests: at most {self.buckets.rate:g} a second (bursts of "
            f"{self.buckets.burst:g}); try again in {retry_after} s"
        )
        if scope["type"] == "websocket":
            retry = [(b"retry-after", str(retry_after).encode())]
            await refuse(scope, send, 429, "RATE_LIMITED", message, retry)
            return
        headers = {"Retry-After": str(retry_after)}
        if scope.get("path") == GRAPHQL_PATH:
            extensions = {"code": "RATE_LIMITED", "requestId": current_request_id()}
            body = {"errors": [{"message": message, "extensions": extensions}]}
            response: Response = JSONResponse(
                body, status_code=429, media_type=_graphql_media_type(scope), headers=headers
            )
        else:
            response = problem(429, "RATE_LIMITED", message)
            response.headers.update(headers)
        await response(scope, receive, send)


def _graphql_media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"accept" and b"application/graphql-response+json" in value.lower():
            return "application/graphql-response+json"
    return "application/json"
