"""Plain, immutable rows of the demo data set, keyed by codes rather than database ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Organisation:
    """One operator or authority of the demo set."""

    code: str
    name: str
    org_type: str
    country: str


@dataclass(frozen=True, slots=True)
class Team:
    """One clearance team; `organisation_code` names its organisation."""

    code: str
    name: str
    organisation_code: str
    capabilities: tuple[str, ...]
    size: int
    status: str
    accreditation_expires_on: date


@dataclass(frozen=True, slots=True)
class Zone:
    """One hazardous area; `geometry` is a GeoJSON MultiPolygon text in EPSG:4326."""

    code: str
    name: str
    description: str
    hazard_type: str
    contamination: tuple[str, ...]
    geometry: str
    priority: int
    land_use: str
    admin1: str
    admin2: str
    admin_pcode: str
    recorded_on: date


@dataclass(frozen=True, slots=True)
class Task:
    """One task with its final status and the dates that lead to it.

    `suspended_on` is not stored: it orders the writes (reports before the suspension).
    """

    code: str
    zone_code: str
    task_type: str
    status: str
    planned_start: date
    planned_end: date
    started_on: date | None
    suspended_on: date | None
    completed_on: date | None
    assets: tuple[str, ...]
    team_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """One progress report; (task_code, report_date) is unique in the demo set."""

    task_code: str
    report_date: date
    area_searched_m2: float
    notes: str


@dataclass(frozen=True, slots=True)
class DeviceFind:
    """One device find of the report identified by (task_code, report_date)."""

    task_code: str
    report_date: date
    category: str
    quantity: int
    disposal: str
    location: str | None


@dataclass(frozen=True, slots=True)
class LandRelease:
    """One release; `fraction` of the zone's estimated area, or None for all that remains."""

    zone_code: str
    task_code: str | None
    method: str
    fraction: float | None
    released_on: date


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident; `location` is a GeoJSON Point text in EPSG:4326."""

    code: str
    incident_type: str
    occurred_on: date
    location: str
    zone_code: str | None
    task_code: str | None
    device_category: str
    activity: str
    admin1: str
    admin2: str
    admin_pcode: str
    description: str
    source: str
    verified: bool


@dataclass(frozen=True, slots=True)
class Casualty:
    """One person hurt or killed in the incident named by `incident_code`."""

    incident_code: str
    outcome: str
    category: str
    sex: str
    age: int | None
    full_name: str
    notes: str | None


@dataclass(frozen=True, slots=True)
class DemoDataset:
    """The whole demo set, in an order that can be written as it stands."""

    organisations: tuple[Organisation, ...]
    teams: tuple[Team, ...]
    zones: tuple[Zone, ...]
    tasks: tuple[Task, ...]
    progress_reports: tuple[ProgressReport, ...]
    device_finds: tuple[DeviceFind, ...]
    land_releases: tuple[LandRelease, ...]
    incidents: tuple[Incident, ...]
    casualties: tuple[Casualty, ...]
