"""One transaction per use-case, with database refusals turned into the API's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from api.errors import from_domain
from db.errors import translate
from db.pool import Connection


@asynccontextmanager
async def write_transaction(conn: Connection) -> AsyncIterator[Connection]:
    """Run the block in one transaction; a refusal by a constraint becomes BAD_USER_INPUT/CONFLICT.

    Anything else the database raises is re-raised as it is (and masked for the client).
    """
    try:
        async with conn.transaction():
            yield conn
    except asyncpg.PostgresError as exc:
        domain = translate(exc)
        if domain is None:
            raise
        raise from_domain(domain) from exc
