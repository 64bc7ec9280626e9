"""Key changes: a notification at commit when an API key is revoked, deleted or changes role.

Every server process LISTENs on `mar_key_changed` (api/live.py) and closes the WebSockets that
were authenticated with a key that no longer holds (api/sockets.py), whatever path changed it:
`mar keys revoke`, another process, or plain SQL. NOTIFY is transactional, so a change that rolls
back is never announced. The payload is `<key id> revoked` when the key can no longer be used
(revoked, deleted, or its hash replaced), else `<key id> <role>` (its role now); `* revoked` when
the table is truncated. A key merely used (last_used_at, personal_data_reads) announces nothing.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "mar_key_changed"

ROW_FUNCTION = f"""
CREATE FUNCTION api_keys_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.revoked_at IS NOT NULL
       OR NEW.key_hash IS DISTINCT FROM OLD.key_hash OR NEW.id IS DISTINCT FROM OLD.id THEN
        PERFORM pg_notify('{CHANNEL}', OLD.id::text || ' revoked');
    ELSE
        PERFORM pg_notify('{CHANNEL}', NEW.id::text || ' ' || NEW.role);
    END IF;
    RETURN NULL;
END
$$
"""
TRUNCATE_FUNCTION = f"""
CREATE FUNCTION api_keys_announce_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '* revoked');
    RETURN NULL;
END
$$
"""
TRIGGERS = (
    (
        "api_keys_announce_update",
        "CREATE TRIGGER api_keys_announce_update AFTER UPDATE ON api_keys FOR EACH ROW "
        "WHEN (OLD.role IS DISTINCT FROM NEW.role "
        "OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at "
        "OR OLD.key_hash IS DISTINCT FROM NEW.key_hash OR OLD.id IS DISTINCT FROM NEW.id) "
        "EXECUTE FUNCTION api_keys_announce()",
    ),
    (
        "api_keys_announce_delete",
        "CREATE TRIGGER api_keys_announce_delete AFTER DELETE ON api_keys FOR EACH ROW "
        "EXECUTE FUNCTION api_keys_announce()",
    ),
    (
        "api_keys_announce_truncate",
        "CREATE TRIGGER api_keys_announce_truncate AFTER TRUNCATE ON api_keys "
        "FOR EACH STATEMENT EXECUTE FUNCTION api_keys_announce_truncate()",
    ),
)


def upgrade() -> None:
    op.execute(ROW_FUNCTION)
    op.execute(TRUNCATE_FUNCTION)
    for _name, statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for name, _statement in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON api_keys")
    op.execute("DROP FUNCTION api_keys_announce_truncate()")
    op.execute("DROP FUNCTION api_keys_announce()")
