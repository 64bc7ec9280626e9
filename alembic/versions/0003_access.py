"""Access and audit: every write to a record table lands in audit_log, in the same transaction.

Statement-level AFTER triggers with transition tables write one audit row per changed record, so
a bulk write costs one extra INSERT per statement, not per row. The actor and the request id come
from the transaction-local settings `mar.actor` and `mar.request_id` that
api/services/transaction.py sets at the start of every write transaction; a write made outside
the API (psql, a migration) is recorded as `db:<database user>`. An update keeps only the columns
that changed (before and after). Key hashes and usage counters of api_keys are never copied, and
a key's mere use (last_used_at, personal_data_reads) is not recorded.

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (entity name as the API calls it, id column, columns never copied into the log)
AUDITED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "organisations": ("Organisation", "id", ()),
    "teams": ("Team", "id", ()),
    "zones": ("Zone", "id", ()),
    "tasks": ("Task", "id", ()),
    "task_teams": ("TaskTeam", "task_id", ()),
    "progress_reports": ("ProgressReport", "id", ()),
    "device_finds": ("DeviceFind", "id", ()),
    "land_releases": ("LandRelease", "id", ()),
    "incidents": ("Incident", "id", ()),
    "casualties": ("Casualty", "id", ()),
}
# task_teams has no single-column key to pair old and new rows by; the API only inserts and
# deletes its rows, so only those are recorded.
NO_UPDATE_TRIGGER = {"task_teams"}

AUDIT_FUNCTION = """
CREATE FUNCTION audit_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who text := coalesce(nullif(current_setting('mar.actor', true), ''), 'db:' || session_user);
    request text := nullif(current_setting('mar.request_id', true), '');
    entity_name text := TG_ARGV[0];
    id_column text := TG_ARGV[1];
    hidden text[] := coalesce(TG_ARGV[2:], ARRAY[]::text[]);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (actor, action, entity, entity_id, before, after, request_id)
        SELECT who, 'create', entity_name, r.doc ->> id_column, NULL, r.doc - hidden, request
        FROM (SELECT to_jsonb(n) AS doc FROM new_rows AS n) AS r;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log (actor, action, entity, entity_id, before, after, request_id)
        SELECT who, 'delete', entity_name, r.doc ->> id_column, r.doc - hidden, NULL, request
        FROM (SELECT to_jsonb(o) AS doc FROM old_rows AS o) AS r;
    ELSE
        INSERT INTO audit_log (actor, action, entity, entity_id, before, after, request_id)
        SELECT who, 'update', entity_name, d.entity_id, d.before, d.after, request
        FROM (
            SELECT o.doc ->> id_column AS entity_id,
                   (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
                    FROM jsonb_each(o.doc - hidden) AS e
                    WHERE e.value IS DISTINCT FROM n.doc -> e.key) AS before,
                   (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
                    FROM jsonb_each(n.doc - hidden) AS e
                    WHERE e.value IS DISTINCT FROM o.doc -> e.key) AS after
            FROM (SELECT to_jsonb(x) AS doc FROM old_rows AS x) AS o
            JOIN (SELECT to_jsonb(y) AS doc FROM new_rows AS y) AS n
              ON n.doc -> id_column = o.doc -> id_column
        ) AS d;
    END IF;
    RETURN NULL;
END
$$
"""


# api_keys is touched by requests (last_used_at, personal_data_reads): a row trigger with a WHEN
# clause records only what an administrator changes, and costs nothing on a mere touch.
KEY_FUNCTION = """
CREATE FUNCTION audit_key_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who text := coalesce(nullif(current_setting('mar.actor', true), ''), 'db:' || session_user);
    request text := nullif(current_setting('mar.request_id', true), '');
    hidden text[] := ARRAY['key_hash', 'last_used_at', 'personal_data_reads'];
    old_doc jsonb;
    new_doc jsonb;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_doc := to_jsonb(OLD) - hidden;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_doc := to_jsonb(NEW) - hidden;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT jsonb_object_agg(e.key, e.value) INTO old_doc
        FROM jsonb_each(to_jsonb(OLD) - hidden) AS e
        WHERE e.value IS DISTINCT FROM new_doc -> e.key;
        SELECT jsonb_object_agg(e.key, e.value) INTO new_doc
        FROM jsonb_each(to_jsonb(NEW) - hidden) AS e
        WHERE e.value IS DISTINCT FROM (to_jsonb(OLD) - hidden) -> e.key;
    END IF;
    INSERT INTO audit_log (actor, action, entity, entity_id, before, after, request_id)
    VALUES (who, CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update'
                 ELSE 'delete' END,
            'ApiKey', coalesce(NEW.id, OLD.id)::text, old_doc, new_doc, request);
    RETURN NULL;
END
$$
"""
KEY_TRIGGERS = [
    (
        "api_keys_audit",
        "CREATE TRIGGER api_keys_audit AFTER INSERT OR DELETE ON api_keys "
        "FOR EACH ROW EXECUTE FUNCTION audit_key_changes()",
    ),
    (
        "api_keys_audit_update",
        "CREATE TRIGGER api_keys_audit_update AFTER UPDATE ON api_keys FOR EACH ROW "
        "WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.role IS DISTINCT FROM NEW.role "
        "OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at "
        "OR OLD.key_hash IS DISTINCT FROM NEW.key_hash) "
        "EXECUTE FUNCTION audit_key_changes()",
    ),
]


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _triggers() -> list[tuple[str, str]]:
    """Return (trigger name, CREATE statement) for every audited table and event."""
    out: list[tuple[str, str]] = []
    for table, (entity, id_column, hidden) in AUDITED.items():
        arguments = _quoted((entity, id_column, *hidden))
        events = [("insert", "INSERT", "NEW TABLE AS new_rows")]
        if table not in NO_UPDATE_TRIGGER:
            events.append(("update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"))
        events.append(("delete", "DELETE", "OLD TABLE AS old_rows"))
        for suffix, event, referencing in events:
            name = f"{table}_audit_{suffix}"
            out.append(
                (
                    name,
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION audit_changes({arguments})",
                )
            )
    return out


def upgrade() -> None:
    op.execute(AUDIT_FUNCTION)
    op.execute(KEY_FUNCTION)
    for _name, statement in [*_triggers(), *KEY_TRIGGERS]:
        op.execute(statement)


def downgrade() -> None:
    for name, _statement in [*_triggers(), *KEY_TRIGGERS]:
        table = name.split("_audit", 1)[0]
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION audit_key_changes()")
    op.execute("DROP FUNCTION audit_changes()")
