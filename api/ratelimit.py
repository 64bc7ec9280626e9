"""Per-key rate limit: a token bucket for every API key (for every client address when anonymous;
an IPv6 client's /64), where each request costs what it costs the service.

A bucket holds up to `burst` tokens and gains `rate` tokens a second. A request is charged its
route's weight up front (below); a bucket short of it answers RATE_LIMITED with HTTP 429 and
`Retry-After` (whole seconds until the tokens are back): a GraphQL error document on /graphql,
problem+json elsewhere. Once the answer is known, one served without work (`X-Cache: hit`, or
`304 Not Modified`) is refunded down to CACHED_COST.

| request | tokens |
|---|---|
| GraphQL over HTTP, a WebSocket handshake, `/` and any other path | 1 |
| OGC items page (`…/items`) | 0.25 + 0.5 per 1 000 features of `limit` (absent: 1 000) |
| one OGC item, a vector tile (`/tiles/{layer}/{z}/{x}/{y}.pbf`) | 0.25 |
| OGC metadata (landing, conformance, collections, queryables), TileJSON, OpenAPI | 0.1 |
| a CSV or GeoJSON export | 5 |
| a GeoPackage or KML export (a GDAL process besides the query) | 10 |
| an import (`POST /imports/…`) | 10 |
| an answer from the response cache (`X-Cache: hit`) or a 304, after the fact | 0.1 |

A charge is never more than the burst, so every request can be served by a full bucket.
`MAR_RATE_LIMIT` and `MAR_RATE_BURST` are thus tokens: 20 GraphQL queries a second, or 80 tiles.
The weights are the code's own measure of its routes (an items page of 10 features is a quarter
of a GraphQL query; a whole export scans a table), not deployment policy, so they are constants:
a deployment scales the budget with those two settings.

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
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.refusals import refuse
from api.requests import current_request_id
from api.rest.problems import problem

# Probes and metrics are never limited: an orchestrator must always reach them.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
GRAPHQL_PATH = "/graphql"

# Weights in tokens (the table of the module docstring); tests/test_ratelimit.py checks them.
DEFAULT_COST = 1.0  # GraphQL, WebSocket handshakes, pages, anything not named below
LIGHT_COST = 0.1  # metadata documents, answers from a cache, 304
ITEM_COST = 0.25  # one OGC item, one tile, the fixed part of an items page
ITEMS_COST_PER_1000 = 0.5  # an items page's share per 1 000 features asked
ITEMS_DEFAULT_LIMIT = 1000  # what a page without `limit` is charged for
EXPORT_COST = 5.0
GDAL_EXPORT_COST = 10.0
IMPORT_COST = 10.0
CACHED_COST = LIGHT_COST
# Small enough that float sums of the weights above never refuse a request a bucket can pay.
EPSILON = 1e-9

_ITEMS = re.compile(r"^/ogc/collections/[^/]+/items/?$")
_ITEM = re.compile(r"^/ogc/collections/[^/]+/items/[^/]+$")
_OGC_META = re.compile(r"^/ogc(/|/conformance|/collections(/[^/]+(/queryables)?)?)?/?$")
_TILE = re.compile(r"^/tiles/[^/]+/\d+/\d+/\d+\.pbf$")
_TILEJSON = re.compile(r"^/tiles/[^/]+\.json$")
_EXPORT = re.compile(r"^/exports/[^/]+\.(csv|geojson)$")
_GDAL_EXPORT = re.compile(r"^/exports/[^/]+\.(gpkg|kml)$")


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

    def wait(self, key: str, cost: float = 1.0) -> float:
        """Seconds until `key`'s bucket holds `cost` tokens (0.0: it does now); spends nothing."""
        cost = min(cost, self.burst)
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        elapsed = max(0.0, self.clock() - bucket.updated)
        tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
        return 0.0 if tokens + EPSILON >= cost else (cost - tokens) / self.rate

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend `cost` tokens (at most the burst) of `key`'s bucket: 0.0 when allowed, else
        seconds until they are back; a refused request spends nothing."""
        cost = min(cost, self.burst)
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
        if bucket.tokens + EPSILON >= cost:
            bucket.tokens = max(0.0, bucket.tokens - cost)
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def give(self, key: str, tokens: float) -> None:
        """Give `tokens` back to `key`'s bucket (a refund), never filling it over the burst."""
        bucket = self._buckets.get(key)
        if bucket is not None and tokens > 0:
            bucket.tokens = min(self.burst, bucket.tokens + tokens)

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


def request_cost(scope: Scope) -> float:
    """The tokens a request is charged up front: its route's weight (the module's table)."""
    path = str(scope.get("path", ""))
    if scope["type"] == "websocket" or path == GRAPHQL_PATH:
        return DEFAULT_COST
    if _ITEMS.match(path):
        return ITEM_COST + ITEMS_COST_PER_1000 * _asked_limit(scope) / 1000
    if _ITEM.match(path) or _TILE.match(path):
        return ITEM_COST
    if _OGC_META.match(path) or _TILEJSON.match(path) or path == "/openapi.json":
        return LIGHT_COST
    if _EXPORT.match(path):
        return EXPORT_COST
    if _GDAL_EXPORT.match(path):
        return GDAL_EXPORT_COST
    if path.startswith("/imports/"):
        return IMPORT_COST
    return DEFAULT_COST


def _asked_limit(scope: Scope) -> int:
    """The `limit` an items request asks for (the endpoint caps it; so is the charge)."""
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query):
        if name == "limit":
            try:
                return min(max(int(value), 1), 10 * ITEMS_DEFAULT_LIMIT)
            except ValueError:
                return ITEMS_DEFAULT_LIMIT  # the endpoint refuses it; the charge is the default
    return ITEMS_DEFAULT_LIMIT


def _served_without_work(message: Message) -> bool:
    """Whether an answer's start says it came from a cache (X-Cache: hit) or is a 304."""
    if message.get("status") == 304:
        return True
    return any(
        name.lower() == b"x-cache" and value.lower() == b"hit"
        for name, value in message.get("headers", [])
    )


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
        key, cost = bucket_key(scope), request_cost(scope)
        wait = self.buckets.take(key, cost)
        # A batch of GraphQL operations spends a token for each (api/graphql/batches.py).
        scope.setdefault("state", {})["rate_buckets"] = self.buckets
        if wait <= 0:
            await self.app(scope, receive, self._refunding(send, key, cost))
            return
        retry_after = max(1, math.ceil(wait))
        message = (
            f"Too many requests: at most {self.buckets.rate:g} tokens a second (bursts of "
            f"{self.buckets.burst:g}; this request costs {min(cost, self.buckets.burst):g}); "
            f"try again in {retry_after} s"
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

    def _refunding(self, send: Send, key: str, cost: float) -> Send:
        """`send`, refunding the charge down to CACHED_COST when the answer took no work."""
        refund = cost - CACHED_COST
        if refund <= 0 or self.buckets is None:
            return send
        buckets = self.buckets

        async def refunding_send(message: Message) -> None:
            if message["type"] == "http.response.start" and _served_without_work(message):
                buckets.give(key, refund)
            await send(message)

        return refunding_send


def _graphql_media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"accept" and b"application/graphql-response+json" in value.lower():
            return "application/graphql-response+json"
    return "application/json"
