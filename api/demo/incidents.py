"""400 incidents over five years and their casualties, in realistic (synthetic) proportions."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from api.demo.admin import District, district_of
from api.demo.calendar import REFERENCE_DATE, SOURCE, WINDOW_START, day_between, stream
from api.demo.geometry import point_geojson, point_in_cell
from api.demo.operations import WorkedTask
from api.demo.records import Casualty, Incident
from api.demo.zones import ZoneMap, cell_near

INCIDENT_COUNT = 400
DEMINING_ACCIDENTS = 22
INSIDE_ZONE_SHARE = 0.25

INCIDENT_TYPES = (
    "MINE_ACCIDENT",
    "UXO_AXO_ACCIDENT",
    "IED_ACCIDENT",
    "CLUSTER_ACCIDENT",
    "STORED_AMMUNITION_ACCIDENT",
    "OTHER",
)
INCIDENT_TYPE_WEIGHTS = (36, 30, 13, 10, 5, 6)
DEVICE_BY_TYPE: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "MINE_ACCIDENT": (("AP_MINE", "AV_MINE", "UNKNOWN"), (70, 22, 8)),
    "UXO_AXO_ACCIDENT": (("UXO", "AXO", "UNKNOWN"), (70, 25, 5)),
    "IED_ACCIDENT": (("IED", "UNKNOWN"), (95, 5)),
    "CLUSTER_ACCIDENT": (("CMR", "UNKNOWN"), (95, 5)),
    "STORED_AMMUNITION_ACCIDENT": (("UXO", "SAA", "OTHER", "UNKNOWN"), (40, 30, 20, 10)),
    "OTHER": (("OTHER", "UNKNOWN"), (50, 50)),
    "DEMINING_ACCIDENT": (
        ("AP_MINE", "UXO", "AV_MINE", "CMR", "IED", "UNKNOWN"),
        (55, 20, 5, 8, 7, 5),
    ),
}
ACTIVITIES = (
    "FARMING",
    "HERDING",
    "TRAVELLING",
    "PLAYING",
    "COLLECTING",
    "CONSTRUCTION",
    "TAMPERING",
    "OTHER",
    "UNKNOWN",
)
ACTIVITY_WEIGHTS = (25, 15, 18, 8, 10, 5, 8, 5, 6)
STORE_ACTIVITIES = (("CONSTRUCTION", "OTHER", "UNKNOWN"), (20, 40, 40))

OUTCOMES = (("KILLED", "INJURED", "UNKNOWN"), (30, 65, 5))
DEMINER_OUTCOMES = (("KILLED", "INJURED", "UNKNOWN"), (15, 83, 2))
CATEGORIES = (("CIVILIAN", "MILITARY", "UNKNOWN"), (88, 5, 7))
SEX_BY_CATEGORY = {
    "CIVILIAN": (("MALE", "FEMALE", "UNKNOWN"), (68, 24, 8)),
    "DEMINER": (("MALE", "FEMALE"), (85, 15)),
    "MILITARY": (("MALE", "UNKNOWN"), (95, 5)),
    "UNKNOWN": (("UNKNOWN", "MALE", "FEMALE"), (60, 30, 10)),
}
# (chance the age is known, chance a known-age person is a child, youngest adult, oldest).
AGE_BY_CATEGORY = {
    "CIVILIAN": (0.85, 0.36, 18, 75),
    "DEMINER": (0.95, 0.0, 20, 55),
    "MILITARY": (0.8, 0.0, 19, 45),
    "UNKNOWN": (0.4, 0.3, 18, 70),
}


def pick(rng: random.Random, table: tuple[tuple[str, ...], tuple[int, ...]]) -> str:
    """Return one value of a (values, weights) table."""
    values, weights = table
    return rng.choices(values, weights=weights)[0]


def incident_day(rng: random.Random) -> date:
    """Return a date in the window, more often early on (contamination is worst at first)."""
    span = (REFERENCE_DATE - WINDOW_START).days
    offset = rng.randint(0, span) if rng.random() < 0.5 else round(rng.triangular(0, span, 0))
    return WINDOW_START + timedelta(days=offset)


def casualty_count(rng: random.Random, incident_type: str) -> int:
    """Return how many people one incident hurt: usually one, a store explosion several."""
    if incident_type == "STORED_AMMUNITION_ACCIDENT":
        return rng.randint(1, 8)
    if incident_type == "DEMINING_ACCIDENT":
        return rng.choices((1, 2), weights=(80, 20))[0]
    return rng.choices((0, 1, 2, 3, 4, 5, 6), weights=(8, 60, 20, 7, 2, 2, 1))[0]


def casualty(rng: random.Random, incident_type: str, activity: str) -> Casualty:
    """Return one casualty (its incident and name are filled in later)."""
    if incident_type == "DEMINING_ACCIDENT":
        category = "DEMINER" if rng.random() < 0.95 else "MILITARY"
        outcome = pick(rng, DEMINER_OUTCOMES)
    else:
        category = pick(rng, CATEGORIES)
        outcome = pick(rng, OUTCOMES)
    known, child_share, youngest, oldest = AGE_BY_CATEGORY[category]
    if activity == "PLAYING" and category == "CIVILIAN":
        child_share = 0.9
    age = None
    if rng.random() < known:
        young = rng.random() < child_share
        age = rng.randint(4, 17) if young else round(rng.triangular(youngest, oldest, youngest + 8))
    return Casualty("", outcome, category, pick(rng, SEX_BY_CATEGORY[category]), age, "", None)


def build_incidents(
    zone_map: ZoneMap, tasks: tuple[WorkedTask, ...]
) -> tuple[tuple[Incident, ...], tuple[Casualty, ...]]:
    """Return incidents of every type (some inside zones, some at demining tasks), in date order."""
    rng = stream("incidents")
    drafts: list[tuple[Incident, list[Casualty]]] = []
    worksites = [
        w for w in tasks if w.task.started_on and w.task.task_type in ("CLEARANCE", "TS", "BAC")
    ]
    for worked in rng.sample(worksites, DEMINING_ACCIDENTS):
        assert worked.task.started_on is not None and worked.worked_until is not None
        day = day_between(rng, worked.task.started_on, worked.worked_until)
        point = worked.placed.shape.point_inside(rng)
        district = district_of(worked.placed.cell)
        drafts.append(_draft(rng, "DEMINING_ACCIDENT", "DEMINING", day, point, district, worked))
    while len(drafts) < INCIDENT_COUNT:
        incident_type = rng.choices(INCIDENT_TYPES, weights=INCIDENT_TYPE_WEIGHTS)[0]
        activity = (
            pick(rng, STORE_ACTIVITIES)
            if incident_type == "STORED_AMMUNITION_ACCIDENT"
            else rng.choices(ACTIVITIES, weights=ACTIVITY_WEIGHTS)[0]
        )
        if rng.random() < INSIDE_ZONE_SHARE:
            # Often the accident that made the zone known: on or before the day it was recorded.
            placed = rng.choice(zone_map.zones)
            day = day_between(rng, WINDOW_START, placed.zone.recorded_on)
            point, cell = placed.shape.point_inside(rng), placed.cell
        else:
            drawn = cell_near(rng, zone_map.hotspots)
            if drawn is None or not zone_map.is_free(drawn[0]):
                continue
            cell = drawn[0]
            day, point = incident_day(rng), point_in_cell(rng, cell)
        drafts.append(_draft(rng, incident_type, activity, day, point, district_of(cell), None))
    drafts.sort(key=lambda draft: draft[0].occurred_on)  # stable: ties keep their draw order
    incidents: list[Incident] = []
    casualties: list[Casualty] = []
    for number, (draft, people) in enumerate(drafts, start=1):
        code = f"DEMO-INC-{number:05d}"
        incidents.append(replace(draft, code=code))
        for person in people:
            full_name = f"Demo Person {len(casualties) + 1:04d}"
            casualties.append(replace(person, incident_code=code, full_name=full_name))
    return tuple(incidents), tuple(casualties)


def _draft(
    rng: random.Random,
    incident_type: str,
    activity: str,
    day: date,
    point: tuple[float, float],
    district: District,
    worked: WorkedTask | None,
) -> tuple[Incident, list[Casualty]]:
    recent = (REFERENCE_DATE - day).days < 90
    incident = Incident(
        code="",
        incident_type=incident_type,
        occurred_on=day,
        location=point_geojson(point),
        zone_code=worked.placed.zone.code if worked else None,
        task_code=worked.task.code if worked else None,
        device_category=pick(rng, DEVICE_BY_TYPE[incident_type]),
        activity=activity,
        admin1=district.admin1,
        admin2=district.admin2,
        admin_pcode=district.admin_pcode,
        description=(
            f"Synthetic demo incident: {incident_type.replace('_', ' ').lower()}, "
            f"activity {activity.lower()}."
        ),
        source=SOURCE,
        verified=rng.random() < (0.4 if recent else 0.85),
    )
    people = [
        casualty(rng, incident_type, activity) for _ in range(casualty_count(rng, incident_type))
    ]
    return incident, people
