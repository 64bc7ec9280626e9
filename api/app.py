"""create_app(settings) -> the Starlette application: routes, middleware, errors, lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import Route, WebSocketRoute

from api.auth import AuthMiddleware
from api.deadline import RequestTimeoutMiddleware
from api.edge import EdgeApp
from api.errors import DATABASE_FAILURES, ApiError
from api.graphql.documents import Documents
from api.graphql.limits import QueryLimits
from api.graphql.schema import build_schema
from api.graphql.view import GraphQLApp
from api.headers import SecurityHeadersMiddleware
from api.hosts import AllowedHostsMiddleware
from api.idempotency import IdempotentGraphQL
from api.live import Live
from api.metrics import Metrics, metrics_endpoint
from api.middleware import AccessLogMiddleware, BodySizeLimitMiddleware, cors
from api.proxies import TrustedProxyMiddleware
from api.ratelimit import RateLimitMiddleware
from api.requests import RequestIdMiddleware
from api.rest import (
    docs,
    exports,
    file_exports,
    health,
    home,
    imports,
    ogc,
    openapi,
    problems,
    tiles,
)
from api.settings import Settings
from db.pool import ConnectionSource, PoolSource, create_pool

log = logging.getLogger("mar.app")


def create_app(settings: Settings, *, db: ConnectionSource | None = None) -> EdgeApp:
    """Build the application; with `db` given, use it instead of opening a pool (tests)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if db is not None:
            yield
            return
        pool = await create_pool(
            settings.require_database_url(),
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            statement_timeout_ms=settings.statement_timeout_ms,
            max_casualties_per_incident=settings.max_casualties_per_incident,
        )
        app.state.db = PoolSource(pool, acquire_timeout=settings.pool_acquire_timeout_s)
        log.info("database pool open (max %d connections)", settings.pool_max_size)
        app.state.live = Live(settings.require_database_url(), sockets=graphql.sockets)
        app.state.live.start()
        # What startup made lives as long as the process: the collector need not walk it again
        # in every full collection, which the objects of large answers trigger.
        gc.freeze()
        try:
            yield
        finally:
            await app.state.live.stop()
            await pool.close()

    schema = build_schema(
        introspection=settings.introspection,
        limits=QueryLimits.from_settings(settings),
        documents=Documents(settings.query_cache_bytes, settings.cached_query_max_bytes),
    )
    graphql = GraphQLApp(schema, settings)
    metrics = Metrics()
    app = EdgeApp(
        routes=[
            Route("/", home.home, methods=["GET"]),
            Route("/healthz", health.healthz, methods=["GET"]),
            Route("/readyz", health.readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/graphql", IdempotentGraphQL(graphql), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *ogc.ROUTES,
            Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
            Route("/docs", docs.docs, methods=["GET"]),
            Route("/exports/{kind}.csv", exports.export_csv, methods=["GET"]),
            Route("/exports/{kind}.geojson", exports.export_geojson, methods=["GET"]),
            Route("/exports/{kind}.gpkg", file_exports.export_file, methods=["GET"]),
            Route("/exports/{kind}.kml", file_exports.export_file, methods=["GET"]),
            Route("/imports/{kind}", imports.import_records, methods=["POST"]),
            Route("/tiles/{layer}.json", tiles.tilejson, methods=["GET"]),
            Route("/tiles/{layer}/{z}/{x}/{y}.pbf", tiles.tile, methods=["GET"]),
        ],
        # Around the error handler, so that its 500s get them too (api/edge.py).
        edge=[
            Middleware(TrustedProxyMiddleware, trusted=settings.trusted_proxies),
            Middleware(RequestIdMiddleware),
            Middleware(AccessLogMiddleware, metrics=metrics),
            Middleware(SecurityHeadersMiddleware),
            Middleware(AllowedHostsMiddleware, allowed=settings.allowed_hosts),
        ],
        middleware=[
            *cors(settings.cors_origins),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(RequestTimeoutMiddleware, seconds=settings.request_timeout_s),
            Middleware(
                AuthMiddleware,
                anonymous_access=settings.anonymous_access,
                failures_per_minute=settings.auth_failures_per_minute,
            ),
            # After authentication: its buckets are keyed by request.state.key_name (None when
            # anonymous: then by the client's address).
            Middleware(
                RateLimitMiddleware,
                rate=settings.rate_limit_per_s,
                burst=settings.rate_limit_burst,
            ),
        ],
        exception_handlers={
            ApiError: problems.api_error,
            HTTPException: problems.http_error,
            Exception: problems.unexpected_error,
            ClientDisconnect: problems.client_gone,
            **dict.fromkeys(DATABASE_FAILURES, problems.database_failure),
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sockets = graphql.sockets  # for /metrics
    app.state.metrics = metrics
    metrics.watch_state(app.state)
    if db is not None:
        app.state.db = db
    return app
