"""The Team type (a deployable unit of an organisation), its filter, queries and mutations."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import asyncpg
import strawberry

from api.errors import Problems
from api.graphql.context import Info
from api.graphql.enums import Capability, TaskStatus, TeamStatus
from api.graphql.ids import parse_id
from api.graphql.listing import ListQuery, by_id_or_code, keyset_connection
from api.graphql.loaders import many_per_key, one_per_key
from api.graphql.node_interface import Node
from api.graphql.pagination import Connection
from api.services import teams as team_service
from db.pool import ConnectionSource
from db.queries import teams as team_sql

if TYPE_CHECKING:
    from api.graphql.organisation import Organisation
    from api.graphql.task import Task


@strawberry.enum(
    description="Sort orders of team lists; ties are broken by id in the same direction."
)
class TeamOrder(Enum):
    CODE_ASC = "CODE_ASC"
    CODE_DESC = "CODE_DESC"
    NAME_ASC = "NAME_ASC"


async def _organisation(
    root: Team, info: Info
) -> Annotated[Organisation, strawberry.lazy("api.graphql.organisation")]:
    # Imported here: api.graphql.organisation imports this module for Organisation.teams.
    from api.graphql.organisation import organisations_by_id

    organisation: Organisation | None = await info.context.loaders.get(organisations_by_id).load(
        root.organisation_id
    )
    assert organisation is not None  # teams.organisation_id is a foreign key
    return organisation


@strawberry.type(description="A deployable clearance team of an organisation.")
class Team(Node):
    id: strawberry.ID
    code: str
    name: str
    organisation: Annotated[Organisation, strawberry.lazy("api.graphql.organisation")] = (
        strawberry.field(resolver=_organisation)
    )
    capabilities: list[Capability]
    size: int = strawberry.field(description="People in the team, 1 to 500.")
    status: TeamStatus
    accreditation_expires_on: date | None = strawberry.field(
        description="After this day the team cannot be put on a new task; null: no expiry known."
    )
    version: int
    created_at: datetime
    updated_at: datetime
    organisation_id: strawberry.Private[int]

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Team:
        """Build a Team from a row of team_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            code=row["code"],
            name=row["name"],
            capabilities=[Capability(c) for c in row["capabilities"]],
            size=row["size"],
            status=TeamStatus(row["status"]),
            accreditation_expires_on=row["accreditation_expires_on"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            organisation_id=row["organisation_id"],
        )

    @strawberry.field
    async def tasks(
        self, info: Info, status: list[TaskStatus] | None = None
    ) -> list[Annotated[Task, strawberry.lazy("api.graphql.task")]]:
        """The tasks this team is on, oldest first; with `status`, only those in one of them."""
        # Imported here: api.graphql.task imports this module for Task.teams.
        from api.graphql.task import team_tasks

        return await team_tasks(self, info, status)


async def teams_by_id(db: ConnectionSource, keys: list[int]) -> list[Team | None]:
    """Batch for a per-request loader: the team of each id (None when missing), in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(team_sql.BY_IDS, keys)
    return [Team.from_record(r) if r else None for r in one_per_key(rows, keys, "id")]


async def teams_of_organisations(db: ConnectionSource, keys: list[int]) -> list[list[Team]]:
    """Batch for a per-request loader: the teams of each organisation id, in code order."""
    async with db.acquire() as conn:
        rows = await conn.fetch(team_sql.BY_ORGANISATION_IDS, keys)
    return [
        [Team.from_record(r) for r in group]
        for group in many_per_key(rows, keys, "organisation_id")
    ]


@strawberry.input(description="Which teams to list; list-valued fields match any of their values.")
class TeamFilter:
    status: list[TeamStatus] | None = None
    organisation_id: strawberry.ID | None = None
    capability: list[Capability] | None = strawberry.field(
        default=None, description="Teams with any of these capabilities."
    )
    search: str | None = strawberry.field(default=None, description="Part of the code or name.")
    accredited_on: date | None = strawberry.field(
        default=None,
        description="Teams whose accreditation has not expired on this day (no expiry counts).",
    )

    def criteria(self) -> team_sql.TeamCriteria:
        """Return the data layer's criteria, or raise BadUserInput naming each bad field."""
        problems = Problems("filter")
        if self.search is not None and len(self.search) > 200:
            problems.add("search", "must be at most 200 characters")
        problems.raise_if_any()
        return team_sql.TeamCriteria(
            status=[s.value for s in self.status] if self.status is not None else None,
            organisation_id=(
                parse_id(self.organisation_id, "filter.organisationId")
                if self.organisation_id is not None
                else None
            ),
            capability=[c.value for c in self.capability] if self.capability is not None else None,
            search=self.search,
            accredited_on=self.accredited_on,
        )


@strawberry.input(description="A new team of an existing organisation.")
class CreateTeamInput:
    code: str
    name: str
    organisation_id: strawberry.ID
    size: int = strawberry.field(description="People in the team, 1 to 500.")
    capabilities: list[Capability] = strawberry.field(default_factory=list)
    status: TeamStatus = TeamStatus.ACTIVE
    accreditation_expires_on: date | None = None


@strawberry.input(description="Changes to a team; fields left out stay as they are.")
class UpdateTeamInput:
    name: str | None = strawberry.UNSET
    organisation_id: strawberry.ID | None = strawberry.UNSET
    capabilities: list[Capability] | None = strawberry.UNSET
    size: int | None = strawberry.UNSET
    status: TeamStatus | None = strawberry.UNSET
    accreditation_expires_on: date | None = strawberry.UNSET

    def changes(self) -> dict[str, Any]:
        """Return column -> value for every field the client sent (enums as names, ids parsed)."""
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if value is strawberry.UNSET:
                continue
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, list):
                value = [v.value if isinstance(v, Enum) else v for v in value]
            elif name == "organisation_id" and value is not None:
                value = parse_id(value, "input.organisationId")
            out[name] = value
        return out


async def team(info: Info, id: strawberry.ID | None = None, code: str | None = None) -> Team | None:
    """One team by id or code; null when there is none."""
    row = await by_id_or_code(info, id, code, team_sql.BY_ID, team_sql.BY_CODE)
    return Team.from_record(row) if row else None


async def teams(
    info: Info,
    filter: TeamFilter | None = None,
    order_by: TeamOrder | None = TeamOrder.CODE_ASC,
    first: int | None = 50,
    after: str | None = None,
) -> Connection[Team]:
    """A page of teams in the asked order, after the given cursor."""
    return await keyset_connection(
        info, team_list(filter, order_by), build=Team.from_record, first=first, after=after
    )


def team_list(filter: TeamFilter | None = None, order_by: TeamOrder | None = None) -> ListQuery:
    """The teams a filter and order ask for (BadUserInput naming each bad filter field)."""
    order_by = order_by or TeamOrder.CODE_ASC
    criteria = filter.criteria() if filter else team_sql.TeamCriteria()
    return ListQuery(
        "teams",
        team_sql.LISTING,
        order_by.value,
        team_sql.ORDERS[order_by.value],
        lambda params: team_sql.conditions(criteria, params),
    )


async def create_team(info: Info, input: CreateTeamInput) -> Team:
    """Record a team of an existing organisation; its code must be new."""
    new = team_service.NewTeam(
        code=input.code,
        name=input.name,
        organisation_id=parse_id(input.organisation_id, "input.organisationId"),
        size=input.size,
        capabilities=[c.value for c in input.capabilities],
        status=input.status.value,
        accreditation_expires_on=input.accreditation_expires_on,
    )
    async with info.context.db.acquire() as conn:
        row = await team_service.create_team(conn, new)
    return Team.from_record(row)


async def update_team(info: Info, id: strawberry.ID, version: int, input: UpdateTeamInput) -> Team:
    """Change a team if `version` is still current; a stale version is CONFLICT."""
    team_id = parse_id(id, "id")
    async with info.context.db.acquire() as conn:
        row = await team_service.update_team(conn, team_id, version, input.changes())
    return Team.from_record(row)


@strawberry.type
class TeamQueries:
    team: Team | None = strawberry.field(resolver=team)
    teams: Connection[Team] = strawberry.field(resolver=teams)


@strawberry.type
class TeamMutations:
    create_team: Team = strawberry.field(resolver=create_team)
    update_team: Team = strawberry.field(resolver=update_team)
