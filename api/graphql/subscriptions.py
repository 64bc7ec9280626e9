"""Subscriptions: incidentRecorded and zoneChanged, fed by the live changes of api/live.py.

Each announced id is read again with the subscription's filter in one statement, so a record is
sent as it is when announced and only when it matches; the nested fields of every event are read
with fresh loaders, never from an earlier event's. Casualties' personal data that an event shows
is counted for the subscriber's key, as for a query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import asyncpg
import strawberry

from api.errors import ApiError
from api.graphql.context import Info
from api.graphql.incident import Incident, IncidentFilter
from api.graphql.loaders import Loaders
from api.graphql.permissions import count_personal_data_reads
from api.graphql.zone import Zone, ZoneFilter
from db.queries import incidents as incident_sql
from db.queries import zones as zone_sql
from db.queries.listing import Listing
from db.queries.sql import Params


class LiveUnavailable(ApiError):
    """This server process does not follow live changes."""

    code = "INTERNAL_SERVER_ERROR"


async def _changes(
    info: Info, kind: str, listing: Listing, conditions: Callable[[Params], list[str]]
) -> AsyncIterator[asyncpg.Record]:
    """The rows of the records announced for `kind` from now on that match `conditions`."""
    live = info.context.live
    if live is None:
        raise LiveUnavailable("live changes are not available from this server")
    async with live.follow(kind) as feed:
        try:
            async for record_id in feed:
                params = Params()
                sql = listing.one(record_id, conditions(params), params)
                async with info.context.db.acquire() as conn:
                    row = await conn.fetchrow(sql, *params.values)
                if row is not None:
                    info.context.loaders = Loaders(info.context.db)
                    yield row
                    # The event has been sent: count the personal data it showed. Shielded, so
                    # that a subscription closed meanwhile does not cut the count short.
                    await asyncio.shield(count_personal_data_reads(info.context))
        finally:
            await asyncio.shield(count_personal_data_reads(info.context))


async def incident_recorded(
    info: Info, filter: IncidentFilter | None = None
) -> AsyncGenerator[Incident, None]:
    """Every incident recorded from now on that matches the filter."""
    criteria = filter.criteria() if filter else incident_sql.IncidentCriteria()
    changes = _changes(
        info, "incident", incident_sql.LISTING, lambda p: incident_sql.conditions(criteria, p)
    )
    async for row in changes:
        yield Incident.from_record(row)


async def zone_changed(info: Info, filter: ZoneFilter | None = None) -> AsyncGenerator[Zone, None]:
    """Every zone created or changed from now on that matches the filter."""
    criteria = filter.criteria() if filter else zone_sql.ZoneCriteria()
    changes = _changes(info, "zone", zone_sql.LISTING, lambda p: zone_sql.conditions(criteria, p))
    async for row in changes:
        yield Zone.from_record(row)


@strawberry.type
class Subscription:
    """Live changes (graphql-transport-ws over WS /graphql)."""

    incident_recorded: AsyncGenerator[Incident, None] = strawberry.subscription(
        resolver=incident_recorded,
        description="Every incident recorded from now on that matches the filter.",
    )
    zone_changed: AsyncGenerator[Zone, None] = strawberry.subscription(
        resolver=zone_changed,
        description="Every zone created or changed from now on that matches the filter, as it "
        "is after the change (its status, areas and version included).",
    )
