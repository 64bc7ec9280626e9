"""The Casualty type (one person killed or injured), its input, and addCasualty."""

from __future__ import annotations

import asyncpg
import strawberry

from api.graphql.context import Info
from api.graphql.enums import AgeGroup, CasualtyCategory, Outcome, Sex
from api.graphql.ids import parse_id
from api.graphql.loaders import many_per_key
from api.graphql.node_interface import Node
from api.services import casualties as casualty_service
from db.pool import ConnectionSource
from db.queries import casualties as casualty_sql


@strawberry.type(description="A person killed or injured in an incident.")
class Casualty(Node):
    id: strawberry.ID
    outcome: Outcome
    category: CasualtyCategory
    sex: Sex
    age: int | None = strawberry.field(description="Age in years at the time of the explosion.")
    age_group: AgeGroup = strawberry.field(description="Derived from age: under 18 is CHILD.")
    full_name: str | None = strawberry.field(
        description="Personal data: editor and admin only.",
    )
    notes: str | None = strawberry.field(
        description="Personal data: editor and admin only.",
    )

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Casualty:
        """Build a Casualty from a row of casualty_sql.COLUMNS."""
        return cls(
            id=strawberry.ID(str(row["id"])),
            outcome=Outcome(row["outcome"]),
            category=CasualtyCategory(row["category"]),
            sex=Sex(row["sex"]),
            age=row["age"],
            age_group=AgeGroup(row["age_group"]),
            full_name=row["full_name"],
            notes=row["notes"],
        )


@strawberry.input(description="A person killed or injured; what is not known stays UNKNOWN.")
class CasualtyInput:
    outcome: Outcome = Outcome.UNKNOWN
    category: CasualtyCategory = CasualtyCategory.UNKNOWN
    sex: Sex = Sex.UNKNOWN
    age: int | None = strawberry.field(
        default=None, description="0 to 120; the age group is derived from it."
    )
    full_name: str | None = None
    notes: str | None = None

    def to_new(self) -> casualty_service.NewCasualty:
        """Return the service's plain value."""
        return casualty_service.NewCasualty(
            outcome=self.outcome.value,
            category=self.category.value,
            sex=self.sex.value,
            age=self.age,
            full_name=self.full_name,
            notes=self.notes,
        )


async def casualties_by_incident(db: ConnectionSource, keys: list[int]) -> list[list[Casualty]]:
    """Batch for a per-request loader: each incident's casualties (by id), in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(casualty_sql.BY_INCIDENTS, keys)
    return [
        [Casualty.from_record(r) for r in group]
        for group in many_per_key(rows, keys, "incident_id")
    ]


async def casualty_counts_by_incident(
    db: ConnectionSource, keys: list[int]
) -> list[tuple[int, int]]:
    """Batch for a per-request loader: (killed, injured) of each incident, in one statement."""
    async with db.acquire() as conn:
        rows = await conn.fetch(casualty_sql.COUNTS_BY_INCIDENTS, keys)
    by_incident = {r["incident_id"]: (int(r["killed"]), int(r["injured"])) for r in rows}
    return [by_incident.get(k, (0, 0)) for k in keys]


async def add_casualty(info: Info, incident_id: strawberry.ID, input: CasualtyInput) -> Casualty:
    """Add a person killed or injured to a recorded incident."""
    incident = parse_id(incident_id, "incidentId")
    async with info.context.db.acquire() as conn:
        row = await casualty_service.add_casualty(
            conn,
            incident,
            input.to_new(),
            max_casualties=info.context.settings.max_casualties_per_incident,
        )
    return Casualty.from_record(row)


@strawberry.type
class CasualtyMutations:
    add_casualty: Casualty = strawberry.field(resolver=add_casualty)
