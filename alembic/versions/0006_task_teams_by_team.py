"""A team's tasks from the index alone: task_teams indexed by (team_id, task_id).

Team.tasks and the `teamId` filter of tasks read the assignments of a team. With the index on
team_id only, each read visited the table's pages for the task ids; with the task id in the
index the assignments of a team are read from one index page (an index-only scan).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX task_teams_team_id_task_id_idx ON task_teams (team_id, task_id)")
    op.execute("DROP INDEX task_teams_team_id_idx")


def downgrade() -> None:
    op.execute("CREATE INDEX task_teams_team_id_idx ON task_teams (team_id)")
    op.execute("DROP INDEX task_teams_team_id_task_id_idx")
