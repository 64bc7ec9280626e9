"""`mar seed --demo`: a deterministic synthetic demo data set, written all or nothing."""

from __future__ import annotations

import asyncpg

from api.demo.dataset import build_plan
from api.demo.result import SeedResult
from api.demo.writer import SeedError, write_plan
from db.queries import demo as sql

__all__ = ["SeedError", "SeedResult", "seed_demo"]


async def seed_demo(conn: asyncpg.Connection[asyncpg.Record], *, show_progress: bool) -> SeedResult:
    """Write the demo set in one transaction; change nothing when a DEMO- organisation exists."""
    async with conn.transaction():
        await conn.execute(sql.LOCK)
        if await conn.fetchval(sql.PRESENT):
            return SeedResult(created=False)
        return await write_plan(conn, build_plan(), show_progress=show_progress)
