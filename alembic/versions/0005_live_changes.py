"""Live changes: a notification at commit when an incident is recorded or a zone changes.

The GraphQL subscriptions incidentRecorded and zoneChanged LISTEN on these channels (one
connection per server process), so a write made by any process, or straight in SQL, reaches every
subscriber. NOTIFY is transactional: nothing is announced for a write that rolls back, and a zone
changed several times in one transaction is announced once. The payload is the record's id; the
subscriber reads the record as it is when the notification arrives.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, events, channel)
ANNOUNCED = (
    ("incidents", "INSERT", "mar_incident_recorded"),
    ("zones", "INSERT OR UPDATE", "mar_zone_changed"),
)


def upgrade() -> None:
    for table, events, channel in ANNOUNCED:
        op.execute(
            f"""
            CREATE FUNCTION {table}_announce() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{channel}', NEW.id::text);
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_announce AFTER {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_announce()"
        )


def downgrade() -> None:
    for table, _events, _channel in ANNOUNCED:
        op.execute(f"DROP TRIGGER {table}_announce ON {table}")
        op.execute(f"DROP FUNCTION {table}_announce()")
