"""`mar seed --demo`: a deterministic synthetic demo data set, written all or nothing."""

from __future__ import annotations

from datetime import date

import asyncpg

from api.demo.dataset import plan_for
from api.demo.result import SeedResult
from api.demo.writer import SeedError, write_plan
from db.queries import demo as sql

__all__ = ["SeedError", "SeedResult", "seed_demo"]


async def seed_demo(
    conn: asyncpg.Connection[asyncpg.Record], *, show_progress: bool, today: date | None = None
) -> SeedResult:
    """Write the demo set in one transaction; change nothing when a DEMO- organisation exists.

    The set is dated relative to `today`, by default the database's own current_date: the day
    its triggers take for "not in the future" and "accreditation expired".
    """
    async with conn.transaction():
        await conn.execute(sql.LOCK)
        if await conn.fetchval(sql.PRESENT):
            return SeedResult(created=False)
        day: date = today or await conn.fetchval(sql.TODAY)
        return await write_plan(conn, plan_for(day), show_progress=show_progress)
