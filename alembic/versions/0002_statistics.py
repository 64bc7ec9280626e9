"""Casualty counts kept by the database, exactly in step with the records, for the statistics.

Two summary tables ("cubes") hold the number of casualties per combination of dimensions:
`casualty_counts_all` per (month, admin1, incident type, device category, outcome, category,
sex, age group) and the much smaller `casualty_counts_people` per (month, outcome, category, sex,
age group). Writers never update them directly: statement-level triggers on casualties and
incidents append signed changes to `casualty_count_changes` in the writer's own transaction, then
fold all changes visible to it into the cubes when nobody else is folding
(`pg_try_advisory_xact_lock`), so writers never wait on each other's summary rows and cannot
deadlock on them. A reader adds the cube and the pending changes in one statement (one snapshot):
committed records and counts always agree.

Months are calendar months of the incident's date (no time zone is involved). A bulk load that
skips triggers (`session_replication_role = replica`) must call `casualty_counts_refresh()`.

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Any constant shared by every writer: who holds it folds the pending changes into the cubes.
FOLD_LOCK = 4_729_301_002

KEY = "month, admin1, incident_type, device_category, outcome, category, sex, age_group"
BY_KEY = "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"  # the key's eight columns come first
PEOPLE_KEY = "month, outcome, category, sex, age_group"


def _key_of(incident: str, casualty: str) -> str:
    """The summary key (named columns) of casualty row `casualty` of incident row `incident`."""
    return (
        f"calendar_month({incident}.occurred_on) AS month, {incident}.admin1 AS admin1, "
        f"{incident}.incident_type AS incident_type, "
        f"{incident}.device_category AS device_category, {casualty}.outcome AS outcome, "
        f"{casualty}.category AS category, {casualty}.sex AS sex, "
        f"{casualty}.age_group AS age_group"
    )


TABLES = [
    # The first day of the calendar month of a date: a date computation, whatever TimeZone says.
    """
    CREATE FUNCTION calendar_month(day date) RETURNS date
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT date_trunc('month', day::timestamp)::date $$
    """,
    """
    CREATE TABLE casualty_counts_all (
        month date NOT NULL,
        admin1 text,
        incident_type text NOT NULL,
        device_category text NOT NULL,
        outcome text NOT NULL,
        category text NOT NULL,
        sex text NOT NULL,
        age_group text NOT NULL,
        n integer NOT NULL,
        CONSTRAINT casualty_counts_all_key UNIQUE NULLS NOT DISTINCT (
            month, admin1, incident_type, device_category, outcome, category, sex, age_group)
    )
    """,
    """
    CREATE TABLE casualty_counts_people (
        month date NOT NULL,
        outcome text NOT NULL,
        category text NOT NULL,
        sex text NOT NULL,
        age_group text NOT NULL,
        n integer NOT NULL,
        CONSTRAINT casualty_counts_people_pkey PRIMARY KEY (
            month, outcome, category, sex, age_group)
    )
    """,
    # Signed changes not yet folded into the cubes (usually none, or those of open transactions).
    """
    CREATE TABLE casualty_count_changes (
        month date NOT NULL,
        admin1 text,
        incident_type text NOT NULL,
        device_category text NOT NULL,
        outcome text NOT NULL,
        category text NOT NULL,
        sex text NOT NULL,
        age_group text NOT NULL,
        n integer NOT NULL
    )
    """,
]

FUNCTIONS = [
    # Fold the changes this transaction sees into both cubes, unless another transaction is
    # folding: then they stay pending (readers count them) until the next fold.
    f"""
    CREATE FUNCTION casualty_counts_fold() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN
            RETURN;
        END IF;
        WITH moved AS (
            DELETE FROM casualty_count_changes RETURNING *
        ), folded AS (
            INSERT INTO casualty_counts_all AS t ({KEY}, n)
            SELECT {KEY}, sum(n) FROM moved GROUP BY {KEY}
            ON CONFLICT ON CONSTRAINT casualty_counts_all_key
            DO UPDATE SET n = t.n + excluded.n
        )
        INSERT INTO casualty_counts_people AS t ({PEOPLE_KEY}, n)
        SELECT {PEOPLE_KEY}, sum(n) FROM moved GROUP BY {PEOPLE_KEY}
        ON CONFLICT ON CONSTRAINT casualty_counts_people_pkey
        DO UPDATE SET n = t.n + excluded.n;
    END
    $$
    """,
    # Rebuild both cubes from the records, set-based (after a load that skipped triggers).
    # Writers are held off meanwhile so that no change is counted twice or missed.
    f"""
    CREATE FUNCTION casualty_counts_refresh() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        LOCK TABLE incidents, casualties IN SHARE MODE;
        PERFORM pg_advisory_xact_lock({FOLD_LOCK});
        DELETE FROM casualty_count_changes;
        DELETE FROM casualty_counts_all;
        DELETE FROM casualty_counts_people;
        INSERT INTO casualty_counts_all ({KEY}, n)
        SELECT {_key_of("i", "c")}, count(*)
        FROM casualties AS c JOIN incidents AS i ON i.id = c.incident_id
        {BY_KEY};
        INSERT INTO casualty_counts_people ({PEOPLE_KEY}, n)
        SELECT {PEOPLE_KEY}, sum(n) FROM casualty_counts_all GROUP BY {PEOPLE_KEY};
    END
    $$
    """,
    f"""
    CREATE FUNCTION casualties_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO casualty_count_changes ({KEY}, n)
        SELECT {_key_of("i", "c")}, count(*)
        FROM new_rows AS c JOIN incidents AS i ON i.id = c.incident_id
        {BY_KEY};
        PERFORM casualty_counts_fold();
        RETURN NULL;
    END
    $$
    """,
    # A casualty deleted with its incident (ON DELETE CASCADE) no longer finds the incident
    # here: incidents_count_delete already took it away, before the incident went.
    f"""
    CREATE FUNCTION casualties_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO casualty_count_changes ({KEY}, n)
        SELECT {_key_of("i", "c")}, -count(*)
        FROM old_rows AS c JOIN incidents AS i ON i.id = c.incident_id
        {BY_KEY};
        PERFORM casualty_counts_fold();
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION casualties_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO casualty_count_changes ({KEY}, n)
        SELECT {KEY}, sum(n)
        FROM (SELECT {_key_of("i", "c")}, -1 AS n
              FROM old_rows AS c JOIN incidents AS i ON i.id = c.incident_id
              UNION ALL
              SELECT {_key_of("i", "c")}, 1 AS n
              FROM new_rows AS c JOIN incidents AS i ON i.id = c.incident_id) AS d
        GROUP BY {KEY}
        HAVING sum(n) <> 0;
        PERFORM casualty_counts_fold();
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION incidents_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO casualty_count_changes ({KEY}, n)
        SELECT {_key_of("OLD", "c")}, -count(*)
        FROM casualties AS c WHERE c.incident_id = OLD.id
        {BY_KEY};
        PERFORM casualty_counts_fold();
        RETURN OLD;
    END
    $$
    """,
    # Only incidents whose month, admin1, type or device category changed move their casualties.
    f"""
    CREATE FUNCTION incidents_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO casualty_count_changes ({KEY}, n)
        SELECT {KEY}, sum(n)
        FROM (SELECT {_key_of("o", "c")}, -1 AS n
              FROM old_rows AS o
              JOIN new_rows AS w ON w.id = o.id
              JOIN casualties AS c ON c.incident_id = o.id
              WHERE (calendar_month(o.occurred_on), o.admin1, o.incident_type, o.device_category)
                    IS DISTINCT FROM
                    (calendar_month(w.occurred_on), w.admin1, w.incident_type, w.device_category)
              UNION ALL
              SELECT {_key_of("w", "c")}, 1 AS n
              FROM old_rows AS o
              JOIN new_rows AS w ON w.id = o.id
              JOIN casualties AS c ON c.incident_id = w.id
              WHERE (calendar_month(o.occurred_on), o.admin1, o.incident_type, o.device_category)
                    IS DISTINCT FROM
                    (calendar_month(w.occurred_on), w.admin1, w.incident_type, w.device_category)
             ) AS d
        GROUP BY {KEY}
        HAVING sum(n) <> 0;
        PERFORM casualty_counts_fold();
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE FUNCTION casualties_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({FOLD_LOCK});
        DELETE FROM casualty_count_changes;
        DELETE FROM casualty_counts_all;
        DELETE FROM casualty_counts_people;
        RETURN NULL;
    END
    $$
    """,
]

TRIGGERS = [
    "CREATE TRIGGER casualties_count_insert AFTER INSERT ON casualties "
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION casualties_count_insert()",
    "CREATE TRIGGER casualties_count_delete AFTER DELETE ON casualties "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION casualties_count_delete()",
    "CREATE TRIGGER casualties_count_update AFTER UPDATE ON casualties "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION casualties_count_update()",
    "CREATE TRIGGER casualties_count_truncate AFTER TRUNCATE ON casualties "
    "FOR EACH STATEMENT EXECUTE FUNCTION casualties_count_truncate()",
    "CREATE TRIGGER incidents_count_delete BEFORE DELETE ON incidents "
    "FOR EACH ROW EXECUTE FUNCTION incidents_count_delete()",
    "CREATE TRIGGER incidents_count_update AFTER UPDATE ON incidents "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION incidents_count_update()",
]


def upgrade() -> None:
    # One statement per execute: asyncpg prepares each statement and refuses several at once.
    for statement in [*TABLES, *FUNCTIONS, *TRIGGERS]:
        op.execute(statement)
    # Records already there (an upgraded database) are counted once, now.
    op.execute("SELECT casualty_counts_refresh()")


def downgrade() -> None:
    for trigger, table in (
        ("incidents_count_update", "incidents"),
        ("incidents_count_delete", "incidents"),
        ("casualties_count_truncate", "casualties"),
        ("casualties_count_update", "casualties"),
        ("casualties_count_delete", "casualties"),
        ("casualties_count_insert", "casualties"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "incidents_count_update()",
        "incidents_count_delete()",
        "casualties_count_truncate()",
        "casualties_count_update()",
        "casualties_count_delete()",
        "casualties_count_insert()",
        "casualty_counts_refresh()",
        "casualty_counts_fold()",
    ):
        op.execute(f"DROP FUNCTION {function}")
    for table in ("casualty_count_changes", "casualty_counts_people", "casualty_counts_all"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION calendar_month(date)")
