"""The Organisation type (an operator or authority), and the queries and mutations about it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import asyncpg
import strawberry

from api.graphql.context import Info
from api.graphql.enums import OrgType
from api.graphql.listing import ListQuery, by_id_or_code, keyset_connection
from api.graphql.loaders import one_per_key
from api.graphql.node_interface import Node
from api.graphql.pagination import Connection
from api.services import organisations as organisation_service
from db.pool import ConnectionSource
from db.queries import organisations as organisation_sql

if TYPE_CHECKING:
    from api.graphql.team import Team


@strawberry.enum(
    description="Sort orders of organisation lists; ties are broken by id in the same direction."
)
class OrganisationOrder(Enum):
    CODE_ASC = "CODE_ASC"
    CODE_DESC = "CODE_DESC"
    NAME_ASC = "NAME_ASC"


async def _teams(
    root: Organisation, info: Info
) -> list[Annotated[Team, strawberry.lazy("api.graphql.team")]]:
    # Imported here: api.graphql.team imports this module for Team.organisation.
    from api.graphql.team import teams_of_organisations

    teams: list[Team] = await info.context.loaders.get(teams_of_organisations).load(int(root.id))
    return teams


@strawberry.type(description="An operator or authority: NGO, commercial firm, army, NMAA, UN.")
class Organisation(Node):
    id: strawberry.ID
    code: str
    name: str
    org_type: OrgType
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    created_at: datetime
    updated_at: datetime
    teams: list[Annotated[Team, strawberry.lazy("api.graphql.team")]] = strawberry.field(
        resolver=_teams, description="The organisation's teams, in code order."
    )

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Organisation:
        """Build an Organisation from a row of organisation_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            code=row["code"],
            name=row["name"],
            org_type=OrgType(row["org_type"]),
            country=row["country"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


async def organisations_by_id(db: ConnectionSource, keys: list[int]) -> list[Organisation | None]:
    """Batch for a per-request loader: the organisation of each id (None when missing)."""
    async with db.acquire() as conn:
        rows = await conn.fetch(organisation_sql.BY_IDS, keys)
    return [Organisation.from_record(r) if r else None for r in one_per_key(rows, keys, "id")]


@strawberry.input(description="A new operator or authority.")
class CreateOrganisationInput:
    code: str
    name: str
    org_type: OrgType
    country: str | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 code in upper case, e.g. 'GB'."
    )


async def organisation(
    info: Info, id: strawberry.ID | None = None, code: str | None = None
) -> Organisation | None:
    """One organisation by id or code; null when there is none."""
    row = await by_id_or_code(info, id, code, organisation_sql.BY_ID, organisation_sql.BY_CODE)
    return Organisation.from_record(row) if row else None


async def organisations(
    info: Info,
    order_by: OrganisationOrder | None = OrganisationOrder.CODE_ASC,
    first: int | None = 50,
    after: str | None = None,
) -> Connection[Organisation]:
    """A page of organisations in the asked order, after the given cursor."""
    return await keyset_connection(
        info,
        organisation_list(order_by),
        build=Organisation.from_record,
        first=first,
        after=after,
    )


def organisation_list(order_by: OrganisationOrder | None = None) -> ListQuery:
    """Every organisation, in the asked order."""
    order_by = order_by or OrganisationOrder.CODE_ASC
    return ListQuery(
        "organisations",
        organisation_sql.LISTING,
        order_by.value,
        organisation_sql.ORDERS[order_by.value],
        lambda _params: [],
    )


async def create_organisation(info: Info, input: CreateOrganisationInput) -> Organisation:
    """Record an operator or authority; its code must be new."""
    new = organisation_service.NewOrganisation(
        code=input.code, name=input.name, org_type=input.org_type.value, country=input.country
    )
    async with info.context.db.acquire() as conn:
        row = await organisation_service.create_organisation(conn, new)
    return Organisation.from_record(row)


@strawberry.type
class OrganisationQueries:
    organisation: Organisation | None = strawberry.field(resolver=organisation)
    organisations: Connection[Organisation] = strawberry.field(resolver=organisations)


@strawberry.type
class OrganisationMutations:
    create_organisation: Organisation = strawberry.field(resolver=create_organisation)
