"""Every named database constraint -> (input field in camelCase, user-facing message).

The names are those of the migrations (0001, 0008): CHECK, UNIQUE, PRIMARY KEY and FOREIGN KEY
constraints, and the constraint names that triggers raise (SQLSTATE 23514 with
``CONSTRAINT = '<name>'``).
The API turns a refused write into BAD_USER_INPUT or CONFLICT naming the field and message.
Device-find fields are leaf names; the caller adds the list position (``devices[2].quantity``).
"""

from typing import Final

CONSTRAINTS: Final[dict[str, tuple[str, str]]] = {
    # organisations
    "organisations_pkey": ("id", "is already used by another organisation"),
    "organisations_code_unique": ("code", "is already used by another organisation"),
    "organisations_code_format": (
        "code",
        "must be 1 to 64 characters, without leading or trailing spaces",
    ),
    "organisations_name_format": ("name", "must be 1 to 300 characters and not blank"),
    "organisations_org_type_valid": ("orgType", "is not a known organisation type"),
    "organisations_country_format": (
        "country",
        "must be an ISO 3166-1 alpha-2 code of two upper-case letters",
    ),
    # teams
    "teams_pkey": ("id", "is already used by another team"),
    "teams_code_unique": ("code", "is already used by another team"),
    "teams_code_format": ("code", "must be 1 to 64 characters, without leading or trailing spaces"),
    "teams_name_format": ("name", "must be 1 to 300 characters and not blank"),
    "teams_organisation_id_fkey": ("organisationId", "does not refer to an existing organisation"),
    "teams_capabilities_valid": ("capabilities", "contains an unknown capability"),
    "teams_capabilities_distinct": ("capabilities", "lists a capability more than once"),
    "teams_size_range": ("size", "must be between 1 and 500"),
    "teams_status_valid": ("status", "is not a known team status"),
    # zones
    "zones_pkey": ("id", "is already used by another zone"),
    "zones_code_unique": ("code", "is already used by another zone"),
    "zones_code_format": ("code", "must be 1 to 64 characters, without leading or trailing spaces"),
    "zones_name_format": ("name", "must be 1 to 300 characters and not blank"),
    "zones_hazard_type_valid": ("hazardType", "is not a known hazard type"),
    "zones_status_valid": ("status", "is not a known zone status"),
    "zones_contamination_valid": ("contamination", "contains an unknown contamination type"),
    "zones_contamination_not_empty": ("contamination", "must name at least one contamination type"),
    "zones_contamination_distinct": ("contamination", "lists a contamination type more than once"),
    "zones_geometry_valid": ("geometry", "is not a valid polygon (e.g. it intersects itself)"),
    "zones_geometry_not_empty": ("geometry", "must not be empty"),
    "zones_geometry_in_bounds": (
        "geometry",
        "must lie within longitude -180..180 and latitude -90..90",
    ),
    "zones_estimated_area_nonnegative": ("geometry", "must have an area of 0 m² or more"),
    "zones_released_area_nonnegative": ("areaM2", "would make the released area negative"),
    "zones_released_within_estimated": (
        "geometry",
        "would make the zone smaller than the area already released from it",
    ),
    "zones_priority_range": ("priority", "must be between 1 and 5"),
    "zones_land_use_valid": ("landUse", "is not a known land use"),
    # tasks
    "tasks_pkey": ("id", "is already used by another task"),
    "tasks_code_unique": ("code", "is already used by another task"),
    "tasks_code_format": ("code", "must be 1 to 64 characters, without leading or trailing spaces"),
    "tasks_zone_id_fkey": ("zoneId", "does not refer to an existing zone"),
    "tasks_task_type_valid": ("taskType", "is not a known task type"),
    "tasks_status_valid": ("status", "is not a known task status"),
    "tasks_assets_valid": ("assets", "contains an unknown asset"),
    "tasks_assets_distinct": ("assets", "lists an asset more than once"),
    "tasks_planned_end_after_start": ("plannedEnd", "must not be before the planned start"),
    "tasks_completed_after_started": ("on", "must not be before the day the task started"),
    "tasks_status_initial": ("status", "must be PLANNED for a new task"),
    "tasks_status_transition": (
        "status",
        "is not an allowed move: PLANNED → ONGOING or CANCELLED, ONGOING → SUSPENDED or "
        "COMPLETED, SUSPENDED → ONGOING or CANCELLED",
    ),
    "tasks_teams_required": ("teamIds", "must name at least one team"),
    # task_teams
    "task_teams_pkey": ("teamIds", "lists a team more than once"),
    "task_teams_task_id_fkey": ("taskId", "does not refer to an existing task"),
    "task_teams_team_id_fkey": ("teamIds", "does not refer to an existing team"),
    "task_teams_team_inactive": ("teamIds", "names a team that is INACTIVE"),
    "task_teams_team_accreditation_expired": (
        "teamIds",
        "names a team whose accreditation has expired",
    ),
    # progress_reports
    "progress_reports_pkey": ("id", "is already used by another progress report"),
    "progress_reports_task_id_fkey": ("taskId", "does not refer to an existing task"),
    "progress_reports_area_searched_nonnegative": ("areaSearchedM2", "must be 0 or more"),
    "progress_reports_task_not_ongoing": (
        "taskId",
        "is not ONGOING; reports are accepted only for ongoing tasks",
    ),
    "progress_reports_report_date_not_future": ("reportDate", "must not be in the future"),
    "progress_reports_report_date_before_start": (
        "reportDate",
        "must not be before the day the task started",
    ),
    # device_finds
    "device_finds_pkey": ("id", "is already used by another device find"),
    "device_finds_progress_report_id_fkey": (
        "progressReportId",
        "does not refer to an existing progress report",
    ),
    "device_finds_category_valid": ("category", "is not a known device category"),
    "device_finds_quantity_positive": ("quantity", "must be 1 or more"),
    "device_finds_disposal_valid": ("disposal", "is not a known disposal method"),
    "device_finds_location_valid": ("location", "is not a valid point"),
    "device_finds_location_not_empty": ("location", "must not be empty"),
    "device_finds_location_in_bounds": (
        "location",
        "must lie within longitude -180..180 and latitude -90..90",
    ),
    # land_releases
    "land_releases_pkey": ("id", "is already used by another land release"),
    "land_releases_zone_id_fkey": ("zoneId", "does not refer to an existing zone"),
    "land_releases_task_id_fkey": ("taskId", "does not refer to an existing task"),
    "land_releases_method_valid": ("method", "is not a known release method"),
    "land_releases_area_positive": ("areaM2", "must be more than 0"),
    "land_releases_area_required": ("areaM2", "is required when no geometry is given"),
    "land_releases_area_exceeds_remaining": (
        "areaM2",
        "exceeds the area that remains in the zone",
    ),
    "land_releases_geometry_valid": (
        "geometry",
        "is not a valid polygon (e.g. it intersects itself)",
    ),
    "land_releases_geometry_not_empty": ("geometry", "must not be empty"),
    "land_releases_geometry_in_bounds": (
        "geometry",
        "must lie within longitude -180..180 and latitude -90..90",
    ),
    "land_releases_geometry_within_zone": ("geometry", "must lie inside the zone"),
    "land_releases_cancelled_after_cleared": (
        "method",
        "cannot be CANCELLED: the zone already has a CLEARED release",
    ),
    "land_releases_task_zone_mismatch": ("taskId", "refers to a task in another zone"),
    "land_releases_immutable": ("id", "a land release cannot be changed once recorded"),
    # incidents
    "incidents_pkey": ("id", "is already used by another incident"),
    "incidents_code_unique": ("code", "is already used by another incident"),
    "incidents_code_format": (
        "code",
        "must be 1 to 64 characters, without leading or trailing spaces",
    ),
    "incidents_zone_id_fkey": ("zoneId", "does not refer to an existing zone"),
    "incidents_task_id_fkey": ("taskId", "does not refer to an existing task"),
    "incidents_incident_type_valid": ("incidentType", "is not a known incident type"),
    "incidents_device_category_valid": ("deviceCategory", "is not a known device category"),
    "incidents_activity_valid": ("activity", "is not a known activity"),
    "incidents_task_only_for_demining": (
        "taskId",
        "may be given only for a DEMINING_ACCIDENT",
    ),
    "incidents_task_zone_mismatch": ("taskId", "refers to a task in another zone"),
    "incidents_occurred_on_not_future": ("occurredOn", "must not be in the future"),
    "incidents_location_valid": ("location", "is not a valid point"),
    "incidents_location_not_empty": ("location", "must not be empty"),
    "incidents_location_in_bounds": (
        "location",
        "must lie within longitude -180..180 and latitude -90..90",
    ),
    # casualties
    "casualties_pkey": ("id", "is already used by another casualty"),
    "casualties_incident_id_fkey": ("incidentId", "does not refer to an existing incident"),
    "casualties_outcome_valid": ("outcome", "is not a known outcome"),
    "casualties_category_valid": ("category", "is not a known casualty category"),
    "casualties_sex_valid": ("sex", "is not a known value"),
    "casualties_age_range": ("age", "must be between 0 and 120"),
    # api_keys
    "api_keys_pkey": ("id", "is already used by another key"),
    "api_keys_name_unique": ("name", "is already used by another key in use"),
    "api_keys_name_format": (
        "name",
        "must be 1 to 100 characters, without leading or trailing spaces",
    ),
    "api_keys_key_hash_unique": ("key", "is already in use"),
    "api_keys_key_hash_format": ("key", "must be stored as a SHA-256 hex digest"),
    "api_keys_role_valid": ("role", "must be one of public, partner, editor, admin"),
    "api_keys_personal_data_reads_nonnegative": ("personalDataReads", "must be 0 or more"),
    # bounds of migration 0008
    "zones_recorded_on_from_1900": ("recordedOn", "must not be before 1900-01-01"),
    "incidents_occurred_on_from_1900": ("occurredOn", "must not be before 1900-01-01"),
    "land_releases_released_on_from_1900": ("releasedOn", "must not be before 1900-01-01"),
    "land_releases_released_before_task_started": (
        "releasedOn",
        "must not be before the day the task started",
    ),
    "zones_estimated_area_max": ("geometry", "must have an area below 10^12 m² (1 000 000 km²)"),
    "zones_geometry_antimeridian": (
        "geometry",
        "has an edge spanning 180° of longitude or more: split an area that crosses the "
        "antimeridian into polygons on either side of it",
    ),
    "land_releases_geometry_antimeridian": (
        "geometry",
        "has an edge spanning 180° of longitude or more: split an area that crosses the "
        "antimeridian into polygons on either side of it",
    ),
    "casualties_per_incident_cap": (
        "incidentId",
        "already has as many casualties as one incident may have",
    ),
    # casualty summaries for the statistics (written by triggers only, never by a client)
    "casualty_counts_all_key": ("casualtyStatistics", "could not be counted; please retry"),
    "casualty_counts_people_pkey": ("casualtyStatistics", "could not be counted; please retry"),
    # audit_log, idempotency_keys
    "audit_log_pkey": ("id", "is already used by another audit entry"),
    "idempotency_keys_pkey": ("idempotencyKey", "is already recorded for this key holder"),
    # trusted documents of migration 0010 (registered by `mar documents add`)
    "trusted_documents_pkey": ("documentId", "is already registered"),
    "trusted_documents_id_is_its_sha256": (
        "documentId",
        "must be sha256: and the SHA-256 of the document's text",
    ),
    "trusted_documents_body_length": ("document", "must be 1 to 100 000 characters"),
    "trusted_documents_name_length": ("name", "must be at most 200 characters"),
    # data_version (one row, bumped by triggers only, never by a client)
    "data_version_pkey": ("dataVersion", "is a single row kept by the database"),
    "data_version_single_row": ("dataVersion", "is a single row kept by the database"),
}
