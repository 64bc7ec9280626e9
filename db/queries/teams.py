"""SQL for teams (deployable units of an organisation). Values are always parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from db.queries.listing import Listing, Order
from db.queries.sql import Params
from db.queries.zones import escape_like

COLUMNS = """
t.id, t.code, t.name, t.organisation_id, t.capabilities, t.size, t.status,
t.accreditation_expires_on, t.version, t.created_at, t.updated_at
"""
LISTING = Listing("teams", "t", COLUMNS)

BY_ID = f"SELECT {COLUMNS} FROM teams AS t WHERE t.id = $1"
BY_CODE = f"SELECT {COLUMNS} FROM teams AS t WHERE t.code = $1"
BY_IDS = f"SELECT {COLUMNS} FROM teams AS t WHERE t.id = ANY($1::bigint[])"
# The teams of several organisations, each organisation's in code order.
BY_ORGANISATION_IDS = f"""
SELECT {COLUMNS} FROM teams AS t
WHERE t.organisation_id = ANY($1::bigint[])
ORDER BY t.code, t.id
"""

INSERT = f"""
WITH t AS (
  INSERT INTO teams (code, name, organisation_id, capabilities, size, status,
                     accreditation_expires_on)
  VALUES ($1, $2, $3, $4::text[], $5, $6, $7)
  RETURNING *
)
SELECT {COLUMNS} FROM t
"""

# The columns updateTeam may set, each as an assignment with one {} placeholder.
SETTABLE = {
    "name": "name = {}",
    "organisation_id": "organisation_id = {}",
    "capabilities": "capabilities = {}::text[]",
    "size": "size = {}",
    "status": "status = {}",
    "accreditation_expires_on": "accreditation_expires_on = {}",
}

VERSION_OF = "SELECT version FROM teams WHERE id = $1"


def update(changes: dict[str, object], team_id: int, version: int) -> tuple[str, list[object]]:
    """Return the statement that applies `changes` if the row's version is still `version`."""
    return LISTING.update(SETTABLE, changes, team_id, version)


# Filter fragments: {} is replaced by a parameter placeholder, never by a value.
STATUS_IN = "t.status = ANY({}::text[])"
ORGANISATION_IS = "t.organisation_id = {}"
CAPABILITY_ANY = "t.capabilities && {}::text[]"
SEARCH = "(lower(t.code) LIKE {0} OR lower(t.name) LIKE {0})"
# As when a team is put on a task: without an expiry date, a team counts as accredited.
ACCREDITED_ON = "(t.accreditation_expires_on IS NULL OR t.accreditation_expires_on >= {})"

ORDERS: dict[str, Order] = {
    "CODE_ASC": Order("code", False, "text"),
    "CODE_DESC": Order("code", True, "text"),
    "NAME_ASC": Order("name", False, "text"),
}


@dataclass(frozen=True)
class TeamCriteria:
    """Which teams a list asks for; every field left None does not filter."""

    status: list[str] | None = None
    organisation_id: int | None = None
    capability: list[str] | None = None
    search: str | None = None
    accredited_on: date | None = None


def conditions(criteria: TeamCriteria, params: Params) -> list[str]:
    """Return the WHERE conditions for `criteria`, adding their values to `params`."""
    out: list[str] = []
    if criteria.status is not None:
        out.append(STATUS_IN.format(params.add(criteria.status)))
    if criteria.organisation_id is not None:
        out.append(ORGANISATION_IS.format(params.add(criteria.organisation_id)))
    if criteria.capability is not None:
        out.append(CAPABILITY_ANY.format(params.add(criteria.capability)))
    if criteria.search:
        out.append(SEARCH.format(params.add(f"%{escape_like(criteria.search.lower())}%")))
    if criteria.accredited_on is not None:
        out.append(ACCREDITED_ON.format(params.add(criteria.accredited_on)))
    return out
