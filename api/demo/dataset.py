"""The whole demo set, built from fixed random streams: the same on every run and machine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from api.demo.incidents import build_incidents
from api.demo.operations import build_operations
from api.demo.operators import ORGANISATIONS, build_teams
from api.demo.records import DemoDataset
from api.demo.reports import build_reports
from api.demo.zones import build_zone_map


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """The data set and the status dates its writer sets after the triggers have run."""

    dataset: DemoDataset
    zone_status_changes: tuple[tuple[str, date], ...]


@lru_cache(maxsize=1)
def build_plan() -> DemoPlan:
    """Return the demo set; pure and deterministic (no clock, no database)."""
    teams = build_teams()
    zone_map = build_zone_map()
    operations = build_operations(zone_map.zones, teams)
    reports, finds = build_reports(operations.tasks)
    incidents, casualties = build_incidents(zone_map, operations.tasks)
    dataset = DemoDataset(
        organisations=ORGANISATIONS,
        teams=teams,
        zones=tuple(placed.zone for placed in zone_map.zones),
        tasks=tuple(worked.task for worked in operations.tasks),
        progress_reports=reports,
        device_finds=finds,
        land_releases=operations.land_releases,
        incidents=incidents,
        casualties=casualties,
    )
    return DemoPlan(dataset=dataset, zone_status_changes=operations.zone_status_changes)
