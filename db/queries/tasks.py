"""SQL for tasks (IMSMA 'Activities') and their teams. Values are always parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from db.queries.listing import Listing, Order
from db.queries.sql import Params

# team_ids rides along with every task, so that Task.teams needs only the teams' own statement.
COLUMNS = """
t.id, t.code, t.zone_id, t.task_type, t.status, t.planned_start, t.planned_end,
t.started_on, t.completed_on, t.assets, t.version, t.created_at, t.updated_at,
ARRAY(SELECT tt.team_id FROM task_teams AS tt WHERE tt.task_id = t.id ORDER BY tt.team_id)
    AS team_ids
"""
LISTING = Listing("tasks", "t", COLUMNS)

BY_ID = f"SELECT {COLUMNS} FROM tasks AS t WHERE t.id = $1"
BY_CODE = f"SELECT {COLUMNS} FROM tasks AS t WHERE t.code = $1"
BY_IDS = f"SELECT {COLUMNS} FROM tasks AS t WHERE t.id = ANY($1::bigint[])"

# $1 zone ids; $2 statuses to keep, or NULL for all.
BY_ZONE_IDS = f"""
SELECT {COLUMNS} FROM tasks AS t
WHERE t.zone_id = ANY($1::bigint[]) AND ($2::text[] IS NULL OR t.status = ANY($2::text[]))
ORDER BY t.id
"""

# $1 team ids; $2 statuses to keep, or NULL for all. One row per (team, task).
BY_TEAM_IDS = f"""
SELECT m.team_id AS of_team_id, {COLUMNS}
FROM task_teams AS m JOIN tasks AS t ON t.id = m.task_id
WHERE m.team_id = ANY($1::bigint[]) AND ($2::text[] IS NULL OR t.status = ANY($2::text[]))
ORDER BY t.id
"""

# Whether each named team can be put on a task: $1 team ids.
TEAMS_AVAILABILITY = """
SELECT id, code, status, accreditation_expires_on FROM teams WHERE id = ANY($1::bigint[])
"""

ZONE_EXISTS = "SELECT EXISTS (SELECT 1 FROM zones WHERE id = $1)"

# The identity value is drawn first, so that a task without a code can be named after its id.
# $1 code or NULL, $2 zone, $3 type, $4 planned start, $5 planned end, $6 assets, $7 team ids.
INSERT = """
WITH n AS (
  SELECT nextval(pg_get_serial_sequence('tasks', 'id')) AS id
), t AS (
  INSERT INTO tasks (id, code, zone_id, task_type, planned_start, planned_end, assets)
  OVERRIDING SYSTEM VALUE
  SELECT n.id, COALESCE($1, 'TASK-' || lpad(n.id::text, greatest(6, length(n.id::text)), '0')),
         $2, $3, $4, $5, $6::text[]
  FROM n
  RETURNING id
), m AS (
  INSERT INTO task_teams (task_id, team_id)
  SELECT t.id, team_id FROM t, unnest($7::bigint[]) AS team_id
)
SELECT id FROM t
"""

# Lock the task while its next status is decided: concurrent moves are serialised. NO KEY
# UPDATE, the lock the UPDATE itself takes: a stronger one would also block the foreign-key
# checks of releases and incidents naming the task, and could deadlock with a release that
# holds the zone's lock while the move waits for it.
LOCK = "SELECT id, status, started_on FROM tasks WHERE id = $1 FOR NO KEY UPDATE"

# $1 id, $2 new status, $3 the date of the move (NULL: today). A task keeps the date it first
# started when it resumes; completing records the completion date.
SET_STATUS = f"""
WITH t AS (
  UPDATE tasks SET
    status = $2,
    started_on = CASE WHEN $2 = 'ONGOING' AND started_on IS NULL
                      THEN COALESCE($3::date, current_date) ELSE started_on END,
    completed_on = CASE WHEN $2 = 'COMPLETED'
                        THEN COALESCE($3::date, current_date) ELSE completed_on END
  WHERE id = $1
  RETURNING *
)
SELECT {COLUMNS} FROM t
"""

# Filter fragments: {} is replaced by a parameter placeholder, never by a value.
STATUS_IN = "t.status = ANY({}::text[])"
TASK_TYPE_IN = "t.task_type = ANY({}::text[])"
ZONE_IS = "t.zone_id = {}"
TEAM_IS = "EXISTS (SELECT 1 FROM task_teams AS m WHERE m.task_id = t.id AND m.team_id = {})"
# The planned period [planned_start, planned_end or planned_start] overlaps the asked one.
PLANNED_FROM = "COALESCE(t.planned_end, t.planned_start) >= {}"
PLANNED_TO = "t.planned_start <= {}"


@dataclass(frozen=True)
class TaskCriteria:
    """Which tasks a list asks for; every field left None does not filter."""

    status: list[str] | None = None
    task_type: list[str] | None = None
    zone_id: int | None = None
    team_id: int | None = None
    planned_from: date | None = None
    planned_to: date | None = None


def conditions(criteria: TaskCriteria, params: Params) -> list[str]:
    """Return the WHERE conditions for `criteria`, adding their values to `params`."""
    out: list[str] = []
    if criteria.status is not None:
        out.append(STATUS_IN.format(params.add(criteria.status)))
    if criteria.task_type is not None:
        out.append(TASK_TYPE_IN.format(params.add(criteria.task_type)))
    if criteria.zone_id is not None:
        out.append(ZONE_IS.format(params.add(criteria.zone_id)))
    if criteria.team_id is not None:
        out.append(TEAM_IS.format(params.add(criteria.team_id)))
    if criteria.planned_from is not None:
        out.append(PLANNED_FROM.format(params.add(criteria.planned_from)))
    if criteria.planned_to is not None:
        out.append(PLANNED_TO.format(params.add(criteria.planned_to)))
    return out


# Tasks are listed in id order (oldest first).
BY_ID_ORDER = Order("id", False, "int")
