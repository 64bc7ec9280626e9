"""Initial schema: records, rules as constraints and triggers, keys, audit log, idempotency.

Every constraint and every error raised by a trigger carries an explicit name; db/constraints.py
maps each name to the input field it concerns and a user-facing message.

Revision ID: 0001
Revises:
Create Date: 2025-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text_in(column: str, values: str) -> str:
    """Return a CHECK expression: the text column holds one of the space-separated values."""
    quoted = ", ".join(f"'{v}'" for v in values.split())
    return f"{column} IN ({quoted})"


def _array_of(column: str, values: str) -> str:
    """Return a CHECK expression: every element of the text[] column is one of the values."""
    quoted = ", ".join(f"'{v}'" for v in values.split())
    return f"{column} <@ ARRAY[{quoted}]::text[] AND array_position({column}, NULL) IS NULL"


def _geometry_checks(table: str, column: str) -> str:
    """Return the named CHECKs every geometry column carries: valid, non-empty, on the globe."""
    return f"""
    CONSTRAINT {table}_{column}_valid CHECK (ST_IsValid({column})),
    CONSTRAINT {table}_{column}_not_empty CHECK (NOT ST_IsEmpty({column})),
    CONSTRAINT {table}_{column}_in_bounds CHECK (
        ST_XMin({column}) >= -180 AND ST_XMax({column}) <= 180
        AND ST_YMin({column}) >= -90 AND ST_YMax({column}) <= 90)"""


def _code_checks(table: str) -> str:
    """Return the named CHECKs on a readable code and a name: trimmed, non-empty, bounded."""
    return f"""
    CONSTRAINT {table}_code_format CHECK (
        code ~ '^[^[:space:]](.*[^[:space:]])?$' AND char_length(code) <= 64),
    CONSTRAINT {table}_name_format CHECK (
        name ~ '[^[:space:]]' AND char_length(name) <= 300)"""


def _record_columns() -> str:
    """Return the optimistic-concurrency and audit columns of a record the API updates."""
    return """
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()"""


ORG_TYPES = "NMAA GOVERNMENT MILITARY COMMERCIAL NATIONAL_NGO INTERNATIONAL_NGO UN"
CAPABILITIES = "MANUAL MDD MECHANICAL EOD NTS TS"
TEAM_STATUSES = "ACTIVE STANDBY INACTIVE"
HAZARD_TYPES = "SHA CHA"
ZONE_STATUSES = "OPEN WORKED_ON CLOSED"
CONTAMINATION = "AP_MINE AV_MINE CMR UXO AXO IED BOOBY_TRAP"
LAND_USES = "AGRICULTURAL RESIDENTIAL INFRASTRUCTURE FOREST GRAZING OTHER"
TASK_TYPES = "NTS TS CLEARANCE BAC EOD_SPOT"
TASK_STATUSES = "PLANNED ONGOING SUSPENDED COMPLETED CANCELLED"
ASSETS = "MANUAL MDD MECHANICAL"
DEVICE_CATEGORIES = "AP_MINE AV_MINE CMR UXO AXO IED SAA OTHER"
DISPOSALS = "DESTROYED_IN_SITU REMOVED_AND_DESTROYED RENDERED_SAFE"
RELEASE_METHODS = "CANCELLED REDUCED CLEARED"
INCIDENT_TYPES = (
    "DEMINING_ACCIDENT MINE_ACCIDENT CLUSTER_ACCIDENT IED_ACCIDENT UXO_AXO_ACCIDENT "
    "STORED_AMMUNITION_ACCIDENT OTHER"
)
ACTIVITIES = (
    "FARMING HERDING TRAVELLING DEMINING PLAYING COLLECTING CONSTRUCTION TAMPERING OTHER UNKNOWN"
)
OUTCOMES = "KILLED INJURED UNKNOWN"
CASUALTY_CATEGORIES = "CIVILIAN MILITARY DEMINER UNKNOWN"
SEXES = "FEMALE MALE UNKNOWN"
ROLES = "public partner editor admin"

# Tables the API updates: they carry version/created_at/updated_at and the shared trigger.
VERSIONED_TABLES = ("organisations", "teams", "zones", "tasks", "incidents", "casualties")

EXTENSIONS = [
    "CREATE EXTENSION IF NOT EXISTS postgis",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
]

FUNCTIONS_BEFORE_TABLES = [
    # Used by CHECKs, so it must be IMMUTABLE; a subquery is not allowed in a CHECK directly.
    """
    CREATE FUNCTION text_array_is_distinct(a text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT count(*) = count(DISTINCT x) FROM unnest(a) AS x $$
    """,
]

TABLES = [
    f"""
    CREATE TABLE organisations (
        id bigint GENERATED ALWAYS AS IDENTITY,
        code text NOT NULL,
        name text NOT NULL,
        org_type text NOT NULL,
        country text,
        {_record_columns()},
        CONSTRAINT organisations_pkey PRIMARY KEY (id),
        CONSTRAINT organisations_code_unique UNIQUE (code),
        {_code_checks("organisations")},
        CONSTRAINT organisations_org_type_valid CHECK ({_text_in("org_type", ORG_TYPES)}),
        CONSTRAINT organisations_country_format CHECK (country ~ '^[A-Z]{{2}}$')
    )
    """,
    f"""
    CREATE TABLE teams (
        id bigint GENERATED ALWAYS AS IDENTITY,
        code text NOT NULL,
        name text NOT NULL,
        organisation_id bigint NOT NULL,
        capabilities text[] NOT NULL DEFAULT '{{}}',
        size smallint NOT NULL,
        status text NOT NULL DEFAULT 'ACTIVE',
        accreditation_expires_on date,
        {_record_columns()},
        CONSTRAINT teams_pkey PRIMARY KEY (id),
        CONSTRAINT teams_code_unique UNIQUE (code),
        CONSTRAINT teams_organisation_id_fkey FOREIGN KEY (organisation_id)
            REFERENCES organisations (id),
        {_code_checks("teams")},
        CONSTRAINT teams_capabilities_valid CHECK ({_array_of("capabilities", CAPABILITIES)}),
        CONSTRAINT teams_capabilities_distinct CHECK (text_array_is_distinct(capabilities)),
        CONSTRAINT teams_size_range CHECK (size BETWEEN 1 AND 500),
        CONSTRAINT teams_status_valid CHECK ({_text_in("status", TEAM_STATUSES)})
    )
    """,
    f"""
    CREATE TABLE zones (
        id bigint GENERATED ALWAYS AS IDENTITY,
        code text NOT NULL,
        name text NOT NULL,
        description text,
        hazard_type text NOT NULL,
        status text NOT NULL DEFAULT 'OPEN',
        contamination text[] NOT NULL,
        geometry geometry(MultiPolygon, 4326) NOT NULL,
        estimated_area_m2 numeric(14, 2) NOT NULL,
        released_area_m2 numeric(14, 2) NOT NULL DEFAULT 0,
        remaining_area_m2 numeric(14, 2)
            GENERATED ALWAYS AS (estimated_area_m2 - released_area_m2) STORED,
        priority smallint NOT NULL,
        land_use text,
        admin1 text,
        admin2 text,
        admin_pcode text,
        recorded_on date NOT NULL DEFAULT current_date,
        status_changed_on date,
        {_record_columns()},
        CONSTRAINT zones_pkey PRIMARY KEY (id),
        CONSTRAINT zones_code_unique UNIQUE (code),
        {_code_checks("zones")},
        CONSTRAINT zones_hazard_type_valid CHECK ({_text_in("hazard_type", HAZARD_TYPES)}),
        CONSTRAINT zones_status_valid CHECK ({_text_in("status", ZONE_STATUSES)}),
        CONSTRAINT zones_contamination_valid CHECK ({_array_of("contamination", CONTAMINATION)}),
        CONSTRAINT zones_contamination_not_empty CHECK (cardinality(contamination) > 0),
        CONSTRAINT zones_contamination_distinct CHECK (text_array_is_distinct(contamination)),
        {_geometry_checks("zones", "geometry")},
        CONSTRAINT zones_estimated_area_nonnegative CHECK (estimated_area_m2 >= 0),
        CONSTRAINT zones_released_area_nonnegative CHECK (released_area_m2 >= 0),
        CONSTRAINT zones_released_within_estimated CHECK (released_area_m2 <= estimated_area_m2),
        CONSTRAINT zones_priority_range CHECK (priority BETWEEN 1 AND 5),
        CONSTRAINT zones_land_use_valid CHECK ({_text_in("land_use", LAND_USES)})
    )
    """,
    f"""
    CREATE TABLE tasks (
        id bigint GENERATED ALWAYS AS IDENTITY,
        code text NOT NULL,
        zone_id bigint NOT NULL,
        task_type text NOT NULL,
        status text NOT NULL DEFAULT 'PLANNED',
        planned_start date,
        planned_end date,
        started_on date,
        completed_on date,
        assets text[] NOT NULL DEFAULT '{{}}',
        {_record_columns()},
        CONSTRAINT tasks_pkey PRIMARY KEY (id),
        CONSTRAINT tasks_code_unique UNIQUE (code),
        CONSTRAINT tasks_zone_id_fkey FOREIGN KEY (zone_id) REFERENCES zones (id),
        CONSTRAINT tasks_code_format CHECK (
            code ~ '^[^[:space:]](.*[^[:space:]])?$' AND char_length(code) <= 64),
        CONSTRAINT tasks_task_type_valid CHECK ({_text_in("task_type", TASK_TYPES)}),
        CONSTRAINT tasks_status_valid CHECK ({_text_in("status", TASK_STATUSES)}),
        CONSTRAINT tasks_assets_valid CHECK ({_array_of("assets", ASSETS)}),
        CONSTRAINT tasks_assets_distinct CHECK (text_array_is_distinct(assets)),
        CONSTRAINT tasks_planned_end_after_start CHECK (planned_end >= planned_start),
        CONSTRAINT tasks_completed_after_started CHECK (completed_on >= started_on)
    )
    """,
    """
    CREATE TABLE task_teams (
        task_id bigint NOT NULL,
        team_id bigint NOT NULL,
        CONSTRAINT task_teams_pkey PRIMARY KEY (task_id, team_id),
        CONSTRAINT task_teams_task_id_fkey FOREIGN KEY (task_id)
            REFERENCES tasks (id) ON DELETE CASCADE,
        CONSTRAINT task_teams_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id)
    )
    """,
    """
    CREATE TABLE progress_reports (
        id bigint GENERATED ALWAYS AS IDENTITY,
        task_id bigint NOT NULL,
        report_date date NOT NULL,
        area_searched_m2 numeric(14, 2) NOT NULL DEFAULT 0,
        notes text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT progress_reports_pkey PRIMARY KEY (id),
        CONSTRAINT progress_reports_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id),
        CONSTRAINT progress_reports_area_searched_nonnegative CHECK (area_searched_m2 >= 0)
    )
    """,
    f"""
    CREATE TABLE device_finds (
        id bigint GENERATED ALWAYS AS IDENTITY,
        progress_report_id bigint NOT NULL,
        category text NOT NULL,
        quantity integer NOT NULL,
        disposal text NOT NULL,
        location geometry(Point, 4326),
        CONSTRAINT device_finds_pkey PRIMARY KEY (id),
        CONSTRAINT device_finds_progress_report_id_fkey FOREIGN KEY (progress_report_id)
            REFERENCES progress_reports (id) ON DELETE CASCADE,
        CONSTRAINT device_finds_category_valid CHECK ({_text_in("category", DEVICE_CATEGORIES)}),
        CONSTRAINT device_finds_quantity_positive CHECK (quantity >= 1),
        CONSTRAINT device_finds_disposal_valid CHECK ({_text_in("disposal", DISPOSALS)}),
        {_geometry_checks("device_finds", "location")}
    )
    """,
    f"""
    CREATE TABLE land_releases (
        id bigint GENERATED ALWAYS AS IDENTITY,
        zone_id bigint NOT NULL,
        task_id bigint,
        method text NOT NULL,
        area_m2 numeric(14, 2) NOT NULL,
        geometry geometry(MultiPolygon, 4326),
        released_on date NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT land_releases_pkey PRIMARY KEY (id),
        CONSTRAINT land_releases_zone_id_fkey FOREIGN KEY (zone_id) REFERENCES zones (id),
        CONSTRAINT land_releases_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id),
        CONSTRAINT land_releases_method_valid CHECK ({_text_in("method", RELEASE_METHODS)}),
        CONSTRAINT land_releases_area_positive CHECK (area_m2 > 0),
        {_geometry_checks("land_releases", "geometry")}
    )
    """,
    f"""
    CREATE TABLE incidents (
        id bigint GENERATED ALWAYS AS IDENTITY,
        code text NOT NULL,
        incident_type text NOT NULL,
        occurred_on date NOT NULL,
        location geometry(Point, 4326) NOT NULL,
        zone_id bigint,
        task_id bigint,
        device_category text NOT NULL DEFAULT 'UNKNOWN',
        activity text NOT NULL DEFAULT 'UNKNOWN',
        admin1 text,
        admin2 text,
        admin_pcode text,
        description text,
        source text,
        verified boolean NOT NULL DEFAULT false,
        {_record_columns()},
        CONSTRAINT incidents_pkey PRIMARY KEY (id),
        CONSTRAINT incidents_code_unique UNIQUE (code),
        CONSTRAINT incidents_zone_id_fkey FOREIGN KEY (zone_id) REFERENCES zones (id),
        CONSTRAINT incidents_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id),
        CONSTRAINT incidents_code_format CHECK (
            code ~ '^[^[:space:]](.*[^[:space:]])?$' AND char_length(code) <= 64),
        CONSTRAINT incidents_incident_type_valid CHECK (
            {_text_in("incident_type", INCIDENT_TYPES)}),
        CONSTRAINT incidents_device_category_valid CHECK (
            {_text_in("device_category", DEVICE_CATEGORIES + " UNKNOWN")}),
        CONSTRAINT incidents_activity_valid CHECK ({_text_in("activity", ACTIVITIES)}),
        CONSTRAINT incidents_task_only_for_demining CHECK (
            task_id IS NULL OR incident_type = 'DEMINING_ACCIDENT'),
        {_geometry_checks("incidents", "location")}
    )
    """,
    f"""
    CREATE TABLE casualties (
        id bigint GENERATED ALWAYS AS IDENTITY,
        incident_id bigint NOT NULL,
        outcome text NOT NULL DEFAULT 'UNKNOWN',
        category text NOT NULL DEFAULT 'UNKNOWN',
        sex text NOT NULL DEFAULT 'UNKNOWN',
        age smallint,
        age_group text NOT NULL GENERATED ALWAYS AS (
            CASE WHEN age IS NULL THEN 'UNKNOWN' WHEN age < 18 THEN 'CHILD' ELSE 'ADULT' END
        ) STORED,
        full_name text,
        notes text,
        {_record_columns()},
        CONSTRAINT casualties_pkey PRIMARY KEY (id),
        CONSTRAINT casualties_incident_id_fkey FOREIGN KEY (incident_id)
            REFERENCES incidents (id) ON DELETE CASCADE,
        CONSTRAINT casualties_outcome_valid CHECK ({_text_in("outcome", OUTCOMES)}),
        CONSTRAINT casualties_category_valid CHECK ({_text_in("category", CASUALTY_CATEGORIES)}),
        CONSTRAINT casualties_sex_valid CHECK ({_text_in("sex", SEXES)}),
        CONSTRAINT casualties_age_range CHECK (age BETWEEN 0 AND 120)
    )
    """,
    f"""
    CREATE TABLE api_keys (
        id bigint GENERATED ALWAYS AS IDENTITY,
        name text NOT NULL,
        role text NOT NULL,
        key_hash text NOT NULL,
        key_prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        last_used_at timestamptz,
        personal_data_reads bigint NOT NULL DEFAULT 0,
        CONSTRAINT api_keys_pkey PRIMARY KEY (id),
        CONSTRAINT api_keys_name_unique UNIQUE (name),
        CONSTRAINT api_keys_key_hash_unique UNIQUE (key_hash),
        CONSTRAINT api_keys_name_format CHECK (
            name ~ '^[^[:space:]](.*[^[:space:]])?$' AND char_length(name) <= 100),
        CONSTRAINT api_keys_role_valid CHECK ({_text_in("role", ROLES)}),
        CONSTRAINT api_keys_key_hash_format CHECK (key_hash ~ '^[0-9a-f]{{64}}$'),
        CONSTRAINT api_keys_personal_data_reads_nonnegative CHECK (personal_data_reads >= 0)
    )
    """,
    """
    CREATE TABLE audit_log (
        id bigint GENERATED ALWAYS AS IDENTITY,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        entity text NOT NULL,
        entity_id text,
        before jsonb,
        after jsonb,
        request_id text,
        CONSTRAINT audit_log_pkey PRIMARY KEY (id)
    )
    """,
    """
    CREATE TABLE idempotency_keys (
        key_holder text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        status_code integer,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL DEFAULT now() + interval '24 hours',
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (key_holder, key)
    )
    """,
]

INDEXES = [
    # Geometry: GiST on every geometry column.
    "CREATE INDEX zones_geometry_gist ON zones USING gist (geometry)",
    "CREATE INDEX device_finds_location_gist ON device_finds USING gist (location)",
    "CREATE INDEX land_releases_geometry_gist ON land_releases USING gist (geometry)",
    "CREATE INDEX incidents_location_gist ON incidents USING gist (location)",
    # Distances in metres (`near`) compare geography: these make ST_DWithin index-backed.
    "CREATE INDEX zones_geography_gist ON zones USING gist ((geometry::geography))",
    "CREATE INDEX incidents_geography_gist ON incidents USING gist ((location::geography))",
    # Foreign keys (task_teams.task_id is the leading column of its primary key).
    "CREATE INDEX teams_organisation_id_idx ON teams (organisation_id)",
    "CREATE INDEX tasks_zone_id_idx ON tasks (zone_id)",
    "CREATE INDEX task_teams_team_id_idx ON task_teams (team_id)",
    "CREATE INDEX progress_reports_task_id_idx ON progress_reports (task_id)",
    "CREATE INDEX device_finds_progress_report_id_idx ON device_finds (progress_report_id)",
    "CREATE INDEX land_releases_zone_id_idx ON land_releases (zone_id)",
    "CREATE INDEX land_releases_task_id_idx ON land_releases (task_id)",
    "CREATE INDEX incidents_zone_id_idx ON incidents (zone_id)",
    "CREATE INDEX incidents_task_id_idx ON incidents (task_id)",
    "CREATE INDEX casualties_incident_id_idx ON casualties (incident_id)",
    # Common filters and keyset orders (id last, so the index serves the cursor too).
    "CREATE INDEX zones_status_idx ON zones (status)",
    "CREATE INDEX zones_hazard_type_idx ON zones (hazard_type)",
    "CREATE INDEX zones_priority_idx ON zones (priority, id)",
    "CREATE INDEX zones_admin1_idx ON zones (admin1)",
    "CREATE INDEX zones_updated_at_idx ON zones (updated_at, id)",
    "CREATE INDEX zones_recorded_on_idx ON zones (recorded_on, id)",
    "CREATE INDEX zones_remaining_area_idx ON zones (remaining_area_m2, id)",
    "CREATE INDEX zones_admin2_idx ON zones (admin2)",
    "CREATE INDEX zones_contamination_gin ON zones USING gin (contamination)",
    "CREATE INDEX zones_code_trgm ON zones USING gin (lower(code) gin_trgm_ops)",
    "CREATE INDEX zones_name_trgm ON zones USING gin (lower(name) gin_trgm_ops)",
    "CREATE INDEX teams_status_idx ON teams (status)",
    "CREATE INDEX tasks_status_idx ON tasks (status)",
    "CREATE INDEX progress_reports_report_date_idx ON progress_reports (report_date)",
    "CREATE INDEX land_releases_released_on_idx ON land_releases (released_on)",
    "CREATE INDEX incidents_occurred_on_idx ON incidents (occurred_on, id)",
    "CREATE INDEX incidents_incident_type_idx ON incidents (incident_type)",
    "CREATE INDEX incidents_device_category_idx ON incidents (device_category)",
    "CREATE INDEX incidents_admin1_idx ON incidents (admin1)",
    "CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id)",
    "CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at)",
    "CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at)",
]

FUNCTIONS = [
    # Shared by every table the API updates: audit time and optimistic-concurrency version.
    """
    CREATE FUNCTION record_touch() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.updated_at := now();
        NEW.version := OLD.version + 1;
        RETURN NEW;
    END
    $$
    """,
    # (a) The estimated area is always the geometry's area on the spheroid.
    """
    CREATE FUNCTION zones_compute_area() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.estimated_area_m2 := round(ST_Area(NEW.geometry::geography)::numeric, 2);
        RETURN NEW;
    END
    $$
    """,
    # A status change dates itself unless the writer dated it (a release dates it released_on).
    """
    CREATE FUNCTION zones_date_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- A zone closes only through a release, which dates the change itself (released_on).
        IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'CLOSED'
           AND NEW.status_changed_on IS NOT DISTINCT FROM OLD.status_changed_on THEN
            NEW.status_changed_on := current_date;
        END IF;
        RETURN NEW;
    END
    $$
    """,
    # Set a zone that is not CLOSED to WORKED_ON while it has an ONGOING task, else OPEN.
    # The zone row is locked first, so concurrent task changes on one zone are serialised
    # and each sees the others' committed statuses.
    """
    CREATE FUNCTION zone_follow_tasks(p_zone_id bigint) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        current_status text;
        wanted text;
    BEGIN
        SELECT status INTO current_status FROM zones WHERE id = p_zone_id FOR NO KEY UPDATE;
        IF NOT FOUND OR current_status = 'CLOSED' THEN
            RETURN;
        END IF;
        wanted := CASE WHEN EXISTS (
                SELECT 1 FROM tasks WHERE zone_id = p_zone_id AND status = 'ONGOING'
            ) THEN 'WORKED_ON' ELSE 'OPEN' END;
        IF wanted <> current_status THEN
            UPDATE zones SET status = wanted WHERE id = p_zone_id;
        END IF;
    END
    $$
    """,
    # (b) A task starts PLANNED and moves only along the allowed edges; starting and
    # completing date themselves when the writer did not.
    """
    CREATE FUNCTION tasks_check_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.status <> 'PLANNED' THEN
                RAISE EXCEPTION 'a new task must be PLANNED, not %', NEW.status
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'tasks_status_initial',
                          TABLE = 'tasks', COLUMN = 'status';
            END IF;
            RETURN NEW;
        END IF;
        IF NEW.status IS DISTINCT FROM OLD.status THEN
            IF NOT (OLD.status, NEW.status) IN (
                ('PLANNED', 'ONGOING'), ('PLANNED', 'CANCELLED'),
                ('ONGOING', 'SUSPENDED'), ('ONGOING', 'COMPLETED'),
                ('SUSPENDED', 'ONGOING'), ('SUSPENDED', 'CANCELLED')
            ) THEN
                RAISE EXCEPTION 'a task cannot move from % to %', OLD.status, NEW.status
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'tasks_status_transition',
                          TABLE = 'tasks', COLUMN = 'status';
            END IF;
            IF NEW.status = 'ONGOING' AND NEW.started_on IS NULL THEN
                NEW.started_on := current_date;
            END IF;
            IF NEW.status = 'COMPLETED' AND NEW.completed_on IS NULL THEN
                NEW.completed_on := current_date;
            END IF;
        END IF;
        RETURN NEW;
    END
    $$
    """,
    # (c) The zone's status follows its tasks.
    """
    CREATE FUNCTION tasks_update_zone_status() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.zone_id IS DISTINCT FROM NEW.zone_id THEN
            PERFORM zone_follow_tasks(OLD.zone_id);
        END IF;
        PERFORM zone_follow_tasks(NEW.zone_id);
        RETURN NULL;
    END
    $$
    """,
    # A task has one team or more; checked at commit so the task and its teams can be
    # written in either order within one transaction.
    """
    CREATE FUNCTION tasks_require_team() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        checked_task_id bigint;
    BEGIN
        -- Separate branches: each table's row has only its own fields.
        IF TG_TABLE_NAME = 'tasks' THEN
            checked_task_id := NEW.id;
        ELSE
            checked_task_id := OLD.task_id;
        END IF;
        IF EXISTS (SELECT 1 FROM tasks WHERE id = checked_task_id)
           AND NOT EXISTS (SELECT 1 FROM task_teams WHERE task_id = checked_task_id) THEN
            RAISE EXCEPTION 'task % has no team', checked_task_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'tasks_teams_required',
                      TABLE = 'tasks';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # (d) Only an available, accredited team can be put on a task.
    """
    CREATE FUNCTION task_teams_check_team() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        team record;
    BEGIN
        SELECT status, accreditation_expires_on INTO team FROM teams WHERE id = NEW.team_id;
        IF NOT FOUND THEN
            RETURN NEW;  -- the foreign key reports it
        END IF;
        IF team.status = 'INACTIVE' THEN
            RAISE EXCEPTION 'team % is INACTIVE', NEW.team_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'task_teams_team_inactive',
                      TABLE = 'task_teams', COLUMN = 'team_id';
        END IF;
        IF team.accreditation_expires_on < current_date THEN
            RAISE EXCEPTION 'the accreditation of team % expired on %',
                NEW.team_id, team.accreditation_expires_on
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'task_teams_team_accreditation_expired',
                      TABLE = 'task_teams', COLUMN = 'team_id';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    # (e) Reports only for ONGOING tasks, dated between the task's start and today.
    """
    CREATE FUNCTION progress_reports_check() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        task record;
    BEGIN
        SELECT status, started_on INTO task FROM tasks WHERE id = NEW.task_id;
        IF NOT FOUND THEN
            RETURN NEW;  -- the foreign key reports it
        END IF;
        IF task.status <> 'ONGOING' THEN
            RAISE EXCEPTION 'task % is %, not ONGOING', NEW.task_id, task.status
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'progress_reports_task_not_ongoing',
                      TABLE = 'progress_reports', COLUMN = 'task_id';
        END IF;
        IF NEW.report_date > current_date THEN
            RAISE EXCEPTION 'report date % is in the future', NEW.report_date
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'progress_reports_report_date_not_future',
                      TABLE = 'progress_reports', COLUMN = 'report_date';
        END IF;
        IF NEW.report_date < task.started_on THEN
            RAISE EXCEPTION 'report date % is before the task started on %',
                NEW.report_date, task.started_on
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'progress_reports_report_date_before_start',
                      TABLE = 'progress_reports', COLUMN = 'report_date';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    # (f) Before a release: lock the zone (serialising releases on it), check the task, the
    # geometry, the method order and the remaining area; compute the area from the geometry.
    """
    CREATE FUNCTION land_releases_check() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        zone record;
        task_zone_id bigint;
        outside_m2 double precision;
    BEGIN
        SELECT geometry, estimated_area_m2, released_area_m2 INTO zone
        FROM zones WHERE id = NEW.zone_id FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RETURN NEW;  -- the foreign key reports it
        END IF;
        IF NEW.task_id IS NOT NULL THEN
            SELECT zone_id INTO task_zone_id FROM tasks WHERE id = NEW.task_id;
            IF FOUND AND task_zone_id <> NEW.zone_id THEN
                RAISE EXCEPTION 'task % belongs to zone %, not zone %',
                    NEW.task_id, task_zone_id, NEW.zone_id
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'land_releases_task_zone_mismatch',
                          TABLE = 'land_releases', COLUMN = 'task_id';
            END IF;
        END IF;
        IF NEW.geometry IS NOT NULL AND NOT ST_IsValid(NEW.geometry) THEN
            -- Said here, since no area can be computed from it for the CHECKs to run.
            RAISE EXCEPTION 'the release geometry is not valid'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'land_releases_geometry_valid',
                      TABLE = 'land_releases', COLUMN = 'geometry';
        END IF;
        IF NEW.geometry IS NOT NULL THEN
            IF NOT ST_CoveredBy(NEW.geometry, zone.geometry) THEN
                -- Tolerate slivers from coordinate rounding: 1 m2 or 0.1 % of the release.
                outside_m2 := ST_Area(ST_Difference(NEW.geometry, zone.geometry)::geography);
                IF outside_m2 > greatest(1.0, 0.001 * ST_Area(NEW.geometry::geography)) THEN
                    RAISE EXCEPTION 'the release geometry lies % m2 outside zone %',
                        round(outside_m2::numeric, 2), NEW.zone_id
                        USING ERRCODE = 'check_violation',
                              CONSTRAINT = 'land_releases_geometry_within_zone',
                              TABLE = 'land_releases', COLUMN = 'geometry';
                END IF;
            END IF;
            IF NEW.area_m2 IS NULL THEN
                NEW.area_m2 := round(ST_Area(NEW.geometry::geography)::numeric, 2);
            END IF;
        END IF;
        IF NEW.area_m2 IS NULL THEN
            RAISE EXCEPTION 'a release needs an area or a geometry'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'land_releases_area_required',
                      TABLE = 'land_releases', COLUMN = 'area_m2';
        END IF;
        IF NEW.method = 'CANCELLED' AND EXISTS (
            SELECT 1 FROM land_releases WHERE zone_id = NEW.zone_id AND method = 'CLEARED'
        ) THEN
            RAISE EXCEPTION 'zone % already has a CLEARED release', NEW.zone_id
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'land_releases_cancelled_after_cleared',
                      TABLE = 'land_releases', COLUMN = 'method';
        END IF;
        IF NEW.area_m2 > zone.estimated_area_m2 - zone.released_area_m2 THEN
            RAISE EXCEPTION 'release of % m2 exceeds the % m2 remaining in zone %',
                NEW.area_m2, zone.estimated_area_m2 - zone.released_area_m2, NEW.zone_id
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'land_releases_area_exceeds_remaining',
                      TABLE = 'land_releases', COLUMN = 'area_m2';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    # (f) After a release: add it to the zone; the zone closes when nothing remains. The zones
    # CHECK zones_released_within_estimated refuses any excess that got past the check above.
    """
    CREATE FUNCTION land_releases_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE zones
            SET released_area_m2 = released_area_m2 + NEW.area_m2,
                status = CASE WHEN estimated_area_m2 - released_area_m2 - NEW.area_m2 <= 0
                              THEN 'CLOSED' ELSE status END,
                status_changed_on = CASE
                    WHEN estimated_area_m2 - released_area_m2 - NEW.area_m2 <= 0
                         AND status <> 'CLOSED'
                    THEN NEW.released_on ELSE status_changed_on END
            WHERE id = NEW.zone_id;
        ELSE
            -- A deleted release (a correction) gives its area back; a zone it had closed
            -- reopens and follows its tasks again.
            UPDATE zones
            SET released_area_m2 = released_area_m2 - OLD.area_m2,
                status = CASE WHEN status = 'CLOSED' THEN 'OPEN' ELSE status END
            WHERE id = OLD.zone_id;
            PERFORM zone_follow_tasks(OLD.zone_id);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    # Releases are facts: corrected by deleting and recording again, never edited in place.
    """
    CREATE FUNCTION land_releases_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'a land release cannot be changed; delete it and record it again'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'land_releases_immutable',
                  TABLE = 'land_releases';
    END
    $$
    """,
    # (g) Incidents are never dated in the future; a point inside a zone links the zone
    # (lowest id when zones overlap); a demining accident's task gives its zone.
    """
    CREATE FUNCTION incidents_check() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        task_zone_id bigint;
    BEGIN
        IF NEW.occurred_on > current_date
           AND (TG_OP = 'INSERT' OR NEW.occurred_on IS DISTINCT FROM OLD.occurred_on) THEN
            RAISE EXCEPTION 'incident date % is in the future', NEW.occurred_on
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'incidents_occurred_on_not_future',
                      TABLE = 'incidents', COLUMN = 'occurred_on';
        END IF;
        IF NEW.task_id IS NOT NULL THEN
            SELECT zone_id INTO task_zone_id FROM tasks WHERE id = NEW.task_id;
            IF FOUND THEN
                IF NEW.zone_id IS NULL THEN
                    NEW.zone_id := task_zone_id;
                ELSIF NEW.zone_id <> task_zone_id THEN
                    RAISE EXCEPTION 'task % belongs to zone %, not zone %',
                        NEW.task_id, task_zone_id, NEW.zone_id
                        USING ERRCODE = 'check_violation',
                              CONSTRAINT = 'incidents_task_zone_mismatch',
                              TABLE = 'incidents', COLUMN = 'task_id';
                END IF;
            END IF;
        END IF;
        IF NEW.zone_id IS NULL AND ST_IsValid(NEW.location) AND (
            TG_OP = 'INSERT' OR NOT ST_Equals(NEW.location, OLD.location)
            OR OLD.zone_id IS NOT NULL
        ) THEN
            SELECT id INTO NEW.zone_id FROM zones
            WHERE ST_Covers(geometry, NEW.location)
            ORDER BY id LIMIT 1;
        END IF;
        RETURN NEW;
    END
    $$
    """,
]

TRIGGERS = [
    *(
        f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION record_touch()"
        for table in VERSIONED_TABLES
    ),
    "CREATE TRIGGER zones_compute_area BEFORE INSERT OR UPDATE OF geometry ON zones "
    "FOR EACH ROW EXECUTE FUNCTION zones_compute_area()",
    "CREATE TRIGGER zones_date_status_change BEFORE UPDATE OF status ON zones "
    "FOR EACH ROW EXECUTE FUNCTION zones_date_status_change()",
    "CREATE TRIGGER tasks_check_status BEFORE INSERT OR UPDATE OF status ON tasks "
    "FOR EACH ROW EXECUTE FUNCTION tasks_check_status()",
    "CREATE TRIGGER tasks_update_zone_status AFTER INSERT OR UPDATE OF status, zone_id ON tasks "
    "FOR EACH ROW EXECUTE FUNCTION tasks_update_zone_status()",
    "CREATE CONSTRAINT TRIGGER tasks_require_team AFTER INSERT ON tasks "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tasks_require_team()",
    "CREATE CONSTRAINT TRIGGER task_teams_require_team AFTER DELETE ON task_teams "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tasks_require_team()",
    "CREATE TRIGGER task_teams_check_team BEFORE INSERT OR UPDATE ON task_teams "
    "FOR EACH ROW EXECUTE FUNCTION task_teams_check_team()",
    "CREATE TRIGGER progress_reports_check BEFORE INSERT OR UPDATE ON progress_reports "
    "FOR EACH ROW EXECUTE FUNCTION progress_reports_check()",
    "CREATE TRIGGER land_releases_check BEFORE INSERT ON land_releases "
    "FOR EACH ROW EXECUTE FUNCTION land_releases_check()",
    "CREATE TRIGGER land_releases_apply AFTER INSERT OR DELETE ON land_releases "
    "FOR EACH ROW EXECUTE FUNCTION land_releases_apply()",
    "CREATE TRIGGER land_releases_refuse_update BEFORE UPDATE ON land_releases "
    "FOR EACH ROW EXECUTE FUNCTION land_releases_refuse_update()",
    "CREATE TRIGGER incidents_check BEFORE INSERT OR UPDATE ON incidents "
    "FOR EACH ROW EXECUTE FUNCTION incidents_check()",
]

# Children first; the functions go after the tables whose triggers use them.
DROP_TABLES = [
    "idempotency_keys",
    "audit_log",
    "api_keys",
    "casualties",
    "incidents",
    "land_releases",
    "device_finds",
    "progress_reports",
    "task_teams",
    "tasks",
    "zones",
    "teams",
    "organisations",
]
DROP_FUNCTIONS = [
    "incidents_check()",
    "land_releases_refuse_update()",
    "land_releases_apply()",
    "land_releases_check()",
    "progress_reports_check()",
    "task_teams_check_team()",
    "tasks_require_team()",
    "tasks_update_zone_status()",
    "tasks_check_status()",
    "zone_follow_tasks(bigint)",
    "zones_date_status_change()",
    "zones_compute_area()",
    "record_touch()",
    "text_array_is_distinct(text[])",
]


def upgrade() -> None:
    # One statement per execute: asyncpg prepares each statement and refuses several at once.
    for statement in [*EXTENSIONS, *FUNCTIONS_BEFORE_TABLES, *TABLES, *INDEXES, *FUNCTIONS]:
        op.execute(statement)
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    # The postgis and pg_trgm extensions stay: they may predate this schema (the upgrade only
    # creates them if missing) and other objects in the database may use them.
    for table in DROP_TABLES:
        op.execute(f"DROP TABLE {table}")
    for function in DROP_FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
