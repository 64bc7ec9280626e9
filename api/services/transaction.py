"""One transaction per use-case, with database refusals turned into the API's errors.

Every write transaction first names its actor and request for the audit triggers (migration
0003): transaction-local settings, so they vanish with the transaction and no write can go
unattributed or borrow another request's name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from api.auth import current_caller
from api.errors import from_domain
from api.requests import server_request_id
from db.errors import translate
from db.pool import Connection
from db.queries import audit as audit_sql


@asynccontextmanager
async def write_transaction(conn: Connection) -> AsyncIterator[Connection]:
    """Run the block in one transaction; a refusal by a constraint becomes BAD_USER_INPUT/CONFLICT.

    Anything else the database raises is re-raised as it is (and masked for the client).
    """
    caller = current_caller()
    try:
        async with conn.transaction():
            if caller is not None:
                # The server's own id, never one a client chose (api/requests.py).
                await conn.execute(audit_sql.SET_ACTOR, caller.label, server_request_id() or "")
            yield conn
    except asyncpg.PostgresError as exc:
        domain = translate(exc)
        if domain is None:
            raise
        raise from_domain(domain) from exc
