"""Prometheus metrics at GET /metrics: requests by route and GraphQL operation, their durations,
the response cache, and the connection pool.

Each application keeps its own registry, so apps built side by side (tests) never share counts.
Label values come from a fixed set (route templates, not raw paths) or are bounded (GraphQL
operation names), so a client cannot make the number of series grow without limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as render
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from api.live import Live
from api.sockets import Sockets
from db.pool import PoolSource

# A GraphQL name, as the spec defines it; anything else is counted as "other".
_OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
# At most this many distinct operation names get their own series; later ones are "other".
MAX_OPERATIONS = 200
# Request durations from a millisecond to a minute.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _StateCollector(Collector):
    """What the lifespan puts in the app's state, read when scraped: the connection pool (tests
    have none) and the live changes (whether they are heard, open subscriptions by kind)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        source = getattr(self.state, "db", None)
        if isinstance(source, PoolSource):
            pool = source.pool
            for name, doc, value in (
                ("mar_db_pool_connections", "Connections the pool holds", pool.get_size()),
                (
                    "mar_db_pool_idle_connections",
                    "Connections idle in the pool",
                    pool.get_idle_size(),
                ),
                (
                    "mar_db_pool_max_connections",
                    "Most connections the pool opens",
                    pool.get_max_size(),
                ),
            ):
                yield GaugeMetricFamily(name, doc, value=value)
        live = getattr(self.state, "live", None)
        if isinstance(live, Live):
            yield GaugeMetricFamily(
                "mar_live_listening",
                "1 while the process listens for live changes, else 0",
                value=1 if live.listening.is_set() else 0,
            )
            open_now = GaugeMetricFamily(
                "mar_live_subscriptions", "Open GraphQL subscriptions, by kind", labels=["kind"]
            )
            for kind, feeds in live.feeds.items():
                open_now.add_metric([kind], len(feeds))
            yield open_now
        sockets = getattr(self.state, "sockets", None)
        if isinstance(sockets, Sockets):
            yield GaugeMetricFamily(
                "mar_websockets", "Open WebSockets (WS /graphql)", value=sockets.open_count()
            )


class Metrics:
    """The registry of one application and the figures it records."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mar_http_requests",
            "HTTP requests answered, by method, route, GraphQL operation and status",
            ["method", "route", "operation", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "mar_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route and GraphQL operation",
            ["method", "route", "operation"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.response_cache = Counter(
            "mar_graphql_response_cache_lookups",
            "GraphQL requests that could be answered from the response cache, by result",
            ["result"],
            registry=self.registry,
        )
        self.executions = Counter(
            "mar_graphql_requests_by_path",
            "GraphQL requests over HTTP by how they were answered: by SQL that writes the "
            "answer (compiled) or by the executor (executed)",
            ["path"],
            registry=self.registry,
        )
        self._operations: set[str] = set()

    def watch_state(self, app_state: Any) -> None:
        """Report, when scraped, the pool and the live changes that the lifespan puts in
        `app_state` (it opens them after the app is built)."""
        self.registry.register(_StateCollector(app_state))

    def _operation(self, name: object) -> str:
        if not name:
            return ""
        if not isinstance(name, str) or not _OPERATION_NAME.fullmatch(name):
            return "other"
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATIONS:
                return "other"
            self._operations.add(name)
        return name

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered HTTP request."""
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        state = scope.get("state") or {}
        method = str(scope.get("method", ""))
        operation = self._operation(state.get("graphql_operation"))
        self.requests.labels(method, route, operation, str(status or 0)).inc()
        self.duration.labels(method, route, operation).observe(seconds)
        cached = state.get("response_cache")
        if cached in ("hit", "miss"):
            self.response_cache.labels(cached).inc()
        path = state.get("graphql_path")
        if path in ("compiled", "executed"):
            self.executions.labels(path).inc()


async def metrics_endpoint(request: Request) -> Response:
    """GET /metrics: every figure in the Prometheus text format."""
    metrics: Metrics = request.app.state.metrics
    return Response(render(metrics.registry), media_type=CONTENT_TYPE_LATEST)
