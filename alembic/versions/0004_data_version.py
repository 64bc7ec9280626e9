"""The data version: one number that changes with every committed change to the records.

Read-only answers (GraphQL responses of the public and partner roles) are cached by the service
under the data version they were computed at; a request first reads the current number, so a
cached answer is used only while no record has changed since. The number is bumped once per
writing transaction, at commit time (deferred constraint triggers), so the row lock it takes is
the last one a transaction acquires and can never be part of a deadlock.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table a GraphQL read can show.
RECORD_TABLES = (
    "organisations",
    "teams",
    "zones",
    "tasks",
    "task_teams",
    "progress_reports",
    "device_finds",
    "land_releases",
    "incidents",
    "casualties",
)


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE data_version (
            id boolean PRIMARY KEY DEFAULT true,
            n bigint NOT NULL,
            CONSTRAINT data_version_single_row CHECK (id)
        )
        """
    )
    op.execute("INSERT INTO data_version (id, n) VALUES (true, 1)")
    # Once per transaction: the first row event at commit bumps, the others see the marker.
    op.execute(
        """
        CREATE FUNCTION data_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('mar.data_version_bumped', true) IS DISTINCT FROM
               txid_current()::text THEN
                UPDATE data_version SET n = n + 1 WHERE id;
                PERFORM set_config('mar.data_version_bumped', txid_current()::text, true);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    # For loads that skip triggers (session_replication_role = replica, as the benchmark's):
    # they call it once at the end so that no cached answer outlives them.
    op.execute(
        "CREATE FUNCTION data_version_touch() RETURNS void LANGUAGE sql AS "
        "$$ UPDATE data_version SET n = n + 1 WHERE id $$"
    )
    for table in RECORD_TABLES:
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "EXECUTE FUNCTION data_version_bump()"
        )


def downgrade() -> None:
    for table in RECORD_TABLES:
        op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
    op.execute("DROP FUNCTION data_version_touch()")
    op.execute("DROP FUNCTION data_version_bump()")
    op.execute("DROP TABLE data_version")
