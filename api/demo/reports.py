"""Weekly progress reports of started tasks, with the few devices most of them find."""

from __future__ import annotations

import random
from datetime import date, timedelta

from api.demo.calendar import stream
from api.demo.geometry import point_geojson
from api.demo.operations import WorkedTask
from api.demo.records import DeviceFind, ProgressReport

# Rows of finds per report: P(0), P(1), ... by task type (and hazard type for clearance).
FINDS_PER_REPORT = {
    ("CLEARANCE", "CHA"): (45, 30, 15, 7, 3),
    ("CLEARANCE", "SHA"): (75, 18, 5, 2),
    ("TS", "CHA"): (75, 18, 7),
    ("TS", "SHA"): (85, 12, 3),
    ("NTS", "CHA"): (96, 4),
    ("NTS", "SHA"): (98, 2),
    ("BAC", "CHA"): (30, 35, 20, 10, 5),
    ("BAC", "SHA"): (40, 35, 15, 10),
    ("EOD_SPOT", "CHA"): (0, 60, 30, 10),
    ("EOD_SPOT", "SHA"): (0, 60, 30, 10),
}
# Device category found for each contamination kind.
FOUND_AS = {
    "AP_MINE": ("AP_MINE",),
    "AV_MINE": ("AV_MINE",),
    "CMR": ("CMR",),
    "UXO": ("UXO",),
    "AXO": ("AXO",),
    "IED": ("IED",),
    "BOOBY_TRAP": ("IED", "OTHER"),
}
CATEGORIES = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "SAA", "OTHER")
CATEGORY_WEIGHTS = (30, 6, 8, 30, 8, 4, 8, 6)
DISPOSALS = ("DESTROYED_IN_SITU", "REMOVED_AND_DESTROYED", "RENDERED_SAFE")
NOTES = {
    "NTS": "Synthetic demo report: interviews and site visits.",
    "TS": "Synthetic demo report: technical survey lanes searched.",
    "CLEARANCE": "Synthetic demo report: clearance lanes searched.",
    "BAC": "Synthetic demo report: surface search of the battle area.",
    "EOD_SPOT": "Synthetic demo report: spot task attended.",
}


def report_dates(rng: random.Random, started_on: date, last_day: date) -> list[date]:
    """Return distinct report dates from started_on to last_day: weekly, and on the last day."""
    first = started_on + timedelta(days=rng.randint(0, 6))
    dates = []
    day = min(first, last_day)
    while day < last_day:
        dates.append(day)
        day += timedelta(days=7)
    dates.append(last_day)
    return dates


def category(rng: random.Random, contamination: tuple[str, ...]) -> str:
    """Return a device category: usually one the zone is known for, AP mines and UXO most."""
    if rng.random() < 0.85:
        found = sorted({c for kind in contamination for c in FOUND_AS[kind]})
        weights = [CATEGORY_WEIGHTS[CATEGORIES.index(c)] for c in found]
        return rng.choices(found, weights=weights)[0]
    return rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0]


def quantity(rng: random.Random, device_category: str) -> int:
    """Return how many devices one find holds: mostly one, small-arms ammunition by the dozen."""
    if device_category == "SAA":
        return rng.randint(5, 150)
    roll = rng.random()
    if roll < 0.7:
        return 1
    return rng.randint(2, 4) if roll < 0.95 else rng.randint(5, 12)


def build_reports(
    tasks: tuple[WorkedTask, ...],
) -> tuple[tuple[ProgressReport, ...], tuple[DeviceFind, ...]]:
    """Return the reports and device finds of every task that started, dated within its work."""
    rng = stream("reports")
    reports: list[ProgressReport] = []
    finds: list[DeviceFind] = []
    for worked in tasks:
        task, until = worked.task, worked.worked_until
        if task.started_on is None or until is None:
            continue
        zone = worked.placed.zone
        dates = report_dates(rng, task.started_on, until)
        searched = worked.searched_share * worked.placed.shape.approx_area_m2
        weights = [rng.uniform(0.5, 1.5) for _ in dates]
        odds = FINDS_PER_REPORT[(task.task_type, zone.hazard_type)]
        for day, weight in zip(dates, weights, strict=True):
            reports.append(
                ProgressReport(
                    task_code=task.code,
                    report_date=day,
                    area_searched_m2=round(searched * weight / sum(weights), 2),
                    notes=NOTES[task.task_type],
                )
            )
            for _ in range(rng.choices(range(len(odds)), weights=odds)[0]):
                device_category = category(rng, zone.contamination)
                location = worked.placed.shape.point_inside(rng) if rng.random() < 0.8 else None
                finds.append(
                    DeviceFind(
                        task_code=task.code,
                        report_date=day,
                        category=device_category,
                        quantity=quantity(rng, device_category),
                        disposal=rng.choices(DISPOSALS, weights=(60, 35, 5))[0],
                        location=point_geojson(location) if location else None,
                    )
                )
    return tuple(reports), tuple(finds)
