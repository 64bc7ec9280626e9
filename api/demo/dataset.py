"""The whole demo set, built from fixed random streams: the same on every run and machine, then
dated relative to the day it is generated (DOMAIN.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

from api.demo.calendar import REFERENCE_DATE
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


if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")


def _moved(record: Record, delta: timedelta) -> Record:
    """The record with every date moved by `delta`."""
    days = {
        f.name: value + delta
        for f in fields(record)
        if isinstance(value := getattr(record, f.name), date)
    }
    return replace(record, **days) if days else record


def plan_for(today: date) -> DemoPlan:
    """Return the demo set dated relative to `today`.

    The plan is built once around REFERENCE_DATE; every date of it moves by the same number of
    days, so the last events lie just before `today`, the valid accreditations expire years
    after it, the expired ones before it, and every order between two dates of the set holds.
    """
    plan = build_plan()
    delta = today - REFERENCE_DATE
    if not delta:
        return plan
    d = plan.dataset
    dataset = DemoDataset(
        **{f.name: tuple(_moved(r, delta) for r in getattr(d, f.name)) for f in fields(d)}
    )
    changes = tuple((code, day + delta) for code, day in plan.zone_status_changes)
    return DemoPlan(dataset=dataset, zone_status_changes=changes)
