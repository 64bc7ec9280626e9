"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse

from api.migrations import head_revision
from db.pool import CONNECTION_ERRORS
from db.queries import health as health_sql

log = logging.getLogger("mar.health")
READY_TIMEOUT_S = 3.0
UNREACHABLE: tuple[type[BaseException], ...] = (TimeoutError, *CONNECTION_ERRORS)


async def healthz(_request: Request) -> JSONResponse:
    """200 while the process serves; it does not look at the database."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and its schema is at the migration head, else 503 and why."""
    expected = head_revision(request.app.state.settings.alembic_ini)
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), request.app.state.db.acquire() as conn:
            try:
                current = await conn.fetchval(health_sql.SCHEMA_REVISION)
            except asyncpg.UndefinedTableError:
                current = None
    except UNREACHABLE as exc:
        log.warning("not ready: database unreachable: %s", exc)
        return JSONResponse(
            {"status": "unavailable", "reason": "the database does not answer"}, status_code=503
        )
    if current != expected:
        reason = (
            "the database has no migrations applied; run `mar migrate`"
            if current is None
            else f"the database schema is at {current}, not at {expected}; run `mar migrate`"
        )
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready", "schema": current})
