"""Synthetic data for the benchmark: deterministic, loaded with COPY, consistent with every rule.

The rows are made in Python from one `random.Random(seed)` and copied in binary (asyncpg's
`copy_records_to_table`) with `session_replication_role = replica`, which skips triggers and
foreign-key checks; CHECK constraints still apply. What the triggers would have derived is then
set in a few set-based statements (`derive`): the zones' estimated, released and remaining area,
their status and status date, and the zone of incidents whose point lies inside one.

The world is fixed (a box of land, an anchor date standing for "today"), so two runs with the same
seed give the same rows, ids and timestamps included.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from api import migrations

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
Row: TypeAlias = tuple[Any, ...]

GENERATOR_VERSION = 1
DEFAULT_SEED = 20251031
ANCHOR = date(2025, 10, 31)  # "today" of the synthetic world: no date lies after it
YEARS = 5  # incidents and tasks spread over the five years before ANCHOR
WEST, SOUTH, EAST, NORTH = 21.0, 8.0, 27.0, 12.0  # the synthetic country, in degrees
REGION_COLUMNS, REGION_ROWS = 4, 3  # admin1: a grid of regions, each a 4 x 4 grid of districts
METRES_PER_DEGREE = 111_320.0
ZONES_PER_CLUSTER = 40  # zones lie in clusters (old front lines), so "near a point" finds some


@dataclass(frozen=True)
class Size:
    """How many rows of each kind a data set holds (tasks and the rest follow from zones)."""

    name: str
    organisations: int
    teams: int
    zones: int
    incidents: int
    casualties: int
    progress_reports: int


SIZES = {
    "small": Size("small", 20, 200, 2_000, 10_000, 15_000, 5_000),
    "large": Size("large", 100, 2_000, 50_000, 200_000, 300_000, 100_000),
}
TINY = Size("tiny", 3, 10, 40, 200, 300, 100)  # for the tests


def signature(size: Size, seed: int) -> str:
    """The database comment that marks a complete data set of `size` made with `seed`."""
    return (
        f"mar bench data set v{GENERATOR_VERSION}: {size.name} seed={seed} "
        f"zones={size.zones} incidents={size.incidents} casualties={size.casualties} "
        f"teams={size.teams} progress_reports={size.progress_reports}"
    )


# ---------------------------------------------------------------------------------------------
# Geometry as EWKB (little-endian, SRID 4326), which PostGIS's binary input reads directly.

_SRID_FLAG = 0x20000000


def point_ewkb(lon: float, lat: float) -> bytes:
    """A Point as EWKB."""
    return struct.pack("<BIIdd", 1, 1 | _SRID_FLAG, 4326, lon, lat)


def multipolygon_ewkb(rings: Sequence[Sequence[tuple[float, float]]]) -> bytes:
    """A MultiPolygon of single-ring polygons (closed rings) as EWKB."""
    parts = [struct.pack("<BIII", 1, 6 | _SRID_FLAG, 4326, len(rings))]
    for ring in rings:
        parts.append(struct.pack("<BIII", 1, 3, 1, len(ring)))
        parts.append(struct.pack(f"<{2 * len(ring)}d", *(c for xy in ring for c in xy)))
    return b"".join(parts)


def _identity(value: bytes) -> bytes:
    return value


async def register_geometry(conn: Connection) -> None:
    """Let `conn` send bytes (EWKB) as geometry values, in binary."""
    await conn.set_type_codec(
        "geometry", schema="public", encoder=_identity, decoder=_identity, format="binary"
    )


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point `east_m` east and `north_m` north of (lon, lat), on a local flat approximation."""
    dlat = north_m / METRES_PER_DEGREE
    dlon = east_m / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def star_ring(
    rng: random.Random, lon: float, lat: float, radius_m: float
) -> list[tuple[float, float]]:
    """A closed ring around (lon, lat): vertices at increasing angles, so always a simple ring."""
    corners = rng.randint(4, 8)
    ring = []
    for k in range(corners):
        angle = 2 * math.pi * (k + rng.uniform(0.35, 0.65)) / corners
        r = radius_m * rng.uniform(0.6, 1.0)
        ring.append(offset(lon, lat, r * math.cos(angle), r * math.sin(angle)))
    ring.append(ring[0])
    return ring


def inside(rng: random.Random, lon: float, lat: float, radius_m: float) -> tuple[float, float]:
    """A point well inside a star_ring around (lon, lat): no corner lies nearer than 0.6 r and
    two corners are at most 2.04 rad apart, so every edge is at least 0.31 r from the centre."""
    angle, r = rng.uniform(0, 2 * math.pi), 0.25 * radius_m * math.sqrt(rng.random())
    return offset(lon, lat, r * math.cos(angle), r * math.sin(angle))


def admin_of(lon: float, lat: float) -> tuple[str, str, str]:
    """admin1, admin2 and P-code of a point: regions and districts are grid cells of the box."""
    fx = min(max((lon - WEST) / (EAST - WEST), 0.0), 0.999999)
    fy = min(max((lat - SOUTH) / (NORTH - SOUTH), 0.0), 0.999999)
    col, row = int(fx * REGION_COLUMNS), int(fy * REGION_ROWS)
    region = row * REGION_COLUMNS + col + 1
    dcol = int((fx * REGION_COLUMNS - col) * 4)
    drow = int((fy * REGION_ROWS - row) * 4)
    district = drow * 4 + dcol + 1
    return (
        f"Region {region:02d}",
        f"District {region:02d}-{district:02d}",
        (f"XZ{region:02d}{district:02d}"),
    )


# ---------------------------------------------------------------------------------------------
# The rows


def _stamp(day: date) -> datetime:
    return datetime.combine(day, clock(12, 0), tzinfo=UTC)


def _days_before_anchor(rng: random.Random, low: int, high: int) -> date:
    return ANCHOR - timedelta(days=rng.randint(low, high))


def _some(rng: random.Random, values: Sequence[str], most: int) -> list[str]:
    """One to `most` distinct values, in the order of `values`."""
    chosen = set(rng.sample(values, rng.randint(1, most)))
    return [v for v in values if v in chosen]


ORG_TYPES = ("GOVERNMENT", "MILITARY", "COMMERCIAL", "NATIONAL_NGO", "INTERNATIONAL_NGO", "UN")
CAPABILITIES = ("MANUAL", "MDD", "MECHANICAL", "EOD", "NTS", "TS")
CONTAMINATION = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "BOOBY_TRAP")
LAND_USES = ("AGRICULTURAL", "RESIDENTIAL", "INFRASTRUCTURE", "FOREST", "GRAZING", "OTHER")
TASK_TYPES = ("NTS", "TS", "CLEARANCE", "BAC", "EOD_SPOT")
ASSETS = ("MANUAL", "MDD", "MECHANICAL")
DEVICE_CATEGORIES = ("AP_MINE", "AV_MINE", "CMR", "UXO", "AXO", "IED", "SAA", "OTHER")
DISPOSALS = ("DESTROYED_IN_SITU", "REMOVED_AND_DESTROYED", "RENDERED_SAFE")
INCIDENT_TYPES = (
    "MINE_ACCIDENT",
    "CLUSTER_ACCIDENT",
    "IED_ACCIDENT",
    "UXO_AXO_ACCIDENT",
    "STORED_AMMUNITION_ACCIDENT",
    "OTHER",
)
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
RELEASE_METHOD = {"NTS": "CANCELLED", "TS": "REDUCED", "CLEARANCE": "CLEARED", "BAC": "CLEARED"}
DEVICE_OF_CONTAMINATION = {"BOOBY_TRAP": "OTHER"}


@dataclass
class ZonePlan:
    """What Python needs to remember about a zone while making the rows that refer to it."""

    id: int
    lon: float
    lat: float
    radius_m: float
    contamination: list[str]
    recorded_on: date
    area: Decimal = Decimal(0)


@dataclass
class TaskPlan:
    """A task's zone and dates, for the reports, releases and accidents that refer to it."""

    id: int
    zone: ZonePlan
    task_type: str
    status: str
    started_on: date | None
    completed_on: date | None

    @property
    def worked_until(self) -> date:
        """The last day the task could report (its completion, or today when not completed)."""
        return self.completed_on or ANCHOR


@dataclass
class Tables:
    """Rows per table, in the column order of COLUMNS."""

    rows: dict[str, list[Row]] = field(default_factory=dict)


COLUMNS: dict[str, tuple[str, ...]] = {
    "organisations": ("id", "code", "name", "org_type", "country", "created_at", "updated_at"),
    "teams": (
        "id",
        "code",
        "name",
        "organisation_id",
        "capabilities",
        "size",
        "status",
        "accreditation_expires_on",
        "created_at",
        "updated_at",
    ),
    "zones": (
        "id",
        "code",
        "name",
        "description",
        "hazard_type",
        "status",
        "contamination",
        "geometry",
        "estimated_area_m2",
        "priority",
        "land_use",
        "admin1",
        "admin2",
        "admin_pcode",
        "recorded_on",
        "created_at",
        "updated_at",
    ),
    "tasks": (
        "id",
        "code",
        "zone_id",
        "task_type",
        "status",
        "planned_start",
        "planned_end",
        "started_on",
        "completed_on",
        "assets",
        "created_at",
        "updated_at",
    ),
    "task_teams": ("task_id", "team_id"),
    "progress_reports": ("id", "task_id", "report_date", "area_searched_m2", "notes", "created_at"),
    "device_finds": ("id", "progress_report_id", "category", "quantity", "disposal", "location"),
    "land_releases": (
        "id",
        "zone_id",
        "task_id",
        "method",
        "area_m2",
        "released_on",
        "created_at",
    ),
    "incidents": (
        "id",
        "code",
        "incident_type",
        "occurred_on",
        "location",
        "zone_id",
        "task_id",
        "device_category",
        "activity",
        "admin1",
        "admin2",
        "admin_pcode",
        "description",
        "source",
        "verified",
        "created_at",
        "updated_at",
    ),
    "casualties": (
        "id",
        "incident_id",
        "outcome",
        "category",
        "sex",
        "age",
        "full_name",
        "notes",
        "created_at",
        "updated_at",
    ),
}
# Tables whose id is an identity column: their sequences move past the copied ids.
IDENTITY_TABLES = (
    "organisations",
    "teams",
    "zones",
    "tasks",
    "progress_reports",
    "device_finds",
    "land_releases",
    "incidents",
    "casualties",
)


def organisations_and_teams(rng: random.Random, size: Size) -> tuple[list[Row], list[Row]]:
    """Operators and their teams; about one team in ten is INACTIVE or has an expired licence."""
    organisations = []
    for i in range(1, size.organisations + 1):
        day = _days_before_anchor(rng, 365 * YEARS, 365 * YEARS + 400)
        organisations.append(
            (
                i,
                f"ORG-{i:03d}",
                f"Operator {i:03d}",
                "NMAA" if i == 1 else rng.choice(ORG_TYPES),
                rng.choice(("XZ", "XY", "XA", "XB")),
                _stamp(day),
                _stamp(day),
            )
        )
    teams = []
    for i in range(1, size.teams + 1):
        status = rng.choices(("ACTIVE", "STANDBY", "INACTIVE"), (75, 15, 10))[0]
        expires = None if rng.random() < 0.1 else ANCHOR + timedelta(days=rng.randint(-300, 900))
        day = _days_before_anchor(rng, 365 * YEARS, 365 * YEARS + 200)
        teams.append(
            (
                i,
                f"TM-{i:04d}",
                f"Team {i:04d}",
                rng.randint(1, size.organisations),
                _some(rng, CAPABILITIES, 3),
                rng.randint(4, 40),
                status,
                expires,
                _stamp(day),
                _stamp(day),
            )
        )
    return organisations, teams


def zones(
    rng: random.Random, size: Size
) -> tuple[list[Row], list[ZonePlan], list[tuple[float, float]]]:
    """Zones in clusters; returns the rows, the plans and the cluster centres."""
    clusters = []
    for _ in range(max(1, size.zones // ZONES_PER_CLUSTER)):
        clusters.append(
            (rng.uniform(WEST + 0.2, EAST - 0.2), rng.uniform(SOUTH + 0.2, NORTH - 0.2))
        )
    rows, plans = [], []
    for i in range(1, size.zones + 1):
        cx, cy = rng.choice(clusters)
        lon, lat = offset(cx, cy, rng.gauss(0, 2500), rng.gauss(0, 2500))
        radius = rng.uniform(40, 300)
        rings = [star_ring(rng, lon, lat, radius)]
        if rng.random() < 0.05:  # a second part, far enough not to touch the first
            angle = rng.uniform(0, 2 * math.pi)
            plon, plat = offset(
                lon, lat, 3 * radius * math.cos(angle), 3 * radius * math.sin(angle)
            )
            rings.append(star_ring(rng, plon, plat, radius * 0.5))
        contamination = _some(rng, CONTAMINATION, 3)
        recorded = _days_before_anchor(rng, 30, 365 * YEARS + 300)
        admin1, admin2, pcode = admin_of(lon, lat)
        rows.append(
            (
                i,
                f"HA-{i:06d}",
                f"Hazardous area {i:06d}",
                None if rng.random() < 0.7 else f"Reported by survey team, sector {i % 97}",
                "CHA" if rng.random() < 0.4 else "SHA",
                "OPEN",  # derived below, from the tasks and releases
                contamination,
                multipolygon_ewkb(rings),
                Decimal(0),  # derived below: the area on the spheroid
                rng.choices((1, 2, 3, 4, 5), (10, 20, 35, 20, 15))[0],
                rng.choice(LAND_USES),
                admin1,
                admin2,
                pcode,
                recorded,
                _stamp(recorded),
                _stamp(recorded),
            )
        )
        plans.append(ZonePlan(i, lon, lat, radius, contamination, recorded))
    return rows, plans, clusters


def _share(rng: random.Random, total: Decimal, parts: int) -> list[Decimal]:
    """Split `total` (two decimals) into `parts` positive amounts that add up to it exactly."""
    cent = Decimal("0.01")
    weights = [rng.uniform(1, 3) for _ in range(parts)]
    scale = sum(weights)
    amounts = [(total * Decimal(w / scale)).quantize(cent) for w in weights[:-1]]
    amounts.append(total - sum(amounts, Decimal(0)))
    return amounts


def tasks(
    rng: random.Random, zone_plans: list[ZonePlan], eligible_teams: list[int]
) -> tuple[list[Row], list[Row], list[Row], list[TaskPlan]]:
    """Tasks (about 1.5 a zone, every status), their teams and the land they released.

    Within a zone the tasks follow each other: the earlier ones are COMPLETED or CANCELLED, the
    last may be in any status. A completed task of a releasing type records a release; a zone
    whose last task completed is fully released (CLOSED) half of the time. CANCELLED releases
    never follow a CLEARED one, and the releases of a zone never exceed its area.
    """
    task_rows: list[Row] = []
    team_rows: list[Row] = []
    release_rows: list[Row] = []
    plans: list[TaskPlan] = []
    for zone in zone_plans:
        count = rng.choices((0, 1, 2, 3), (15, 35, 35, 15))[0]
        day = zone.recorded_on + timedelta(days=rng.randint(0, 60))
        zone_tasks: list[TaskPlan] = []
        for n in range(count):
            last = n == count - 1
            if last:
                status = rng.choices(
                    ("PLANNED", "ONGOING", "SUSPENDED", "COMPLETED", "CANCELLED"),
                    (25, 30, 10, 25, 10),
                )[0]
            else:
                status = rng.choices(("COMPLETED", "CANCELLED"), (75, 25))[0]
            planned_start = day
            planned_end = planned_start + timedelta(days=rng.randint(14, 120))
            started = completed = None
            if status in ("ONGOING", "SUSPENDED", "COMPLETED"):
                started = min(planned_start + timedelta(days=rng.randint(0, 20)), ANCHOR)
                if status == "COMPLETED":
                    completed = min(started + timedelta(days=rng.randint(10, 150)), ANCHOR)
            task_id = len(task_rows) + 1
            task_type = rng.choices(TASK_TYPES, (20, 20, 40, 10, 10))[0]
            created = min(planned_start, ANCHOR)
            task_rows.append(
                (
                    task_id,
                    f"TK-{task_id:06d}",
                    zone.id,
                    task_type,
                    status,
                    planned_start,
                    planned_end,
                    started,
                    completed,
                    _some(rng, ASSETS, 2),
                    _stamp(created),
                    _stamp(completed or started or created),
                )
            )
            for team_id in sorted(
                rng.sample(eligible_teams, rng.choices((1, 2, 3), (60, 30, 10))[0])
            ):
                team_rows.append((task_id, team_id))
            plan = TaskPlan(task_id, zone, task_type, status, started, completed)
            zone_tasks.append(plan)
            day = (completed or started or planned_start) + timedelta(days=rng.randint(5, 90))
        release_rows.extend(_releases(rng, zone, zone_tasks, len(release_rows)))
        plans.extend(zone_tasks)
    return task_rows, team_rows, release_rows, plans


def _releases(
    rng: random.Random, zone: ZonePlan, zone_tasks: list[TaskPlan], first_id: int
) -> list[Row]:
    """The land releases of one zone, in the order they were recorded."""
    done = [
        t
        for t in zone_tasks
        if t.status == "COMPLETED" and t.task_type in RELEASE_METHOD and t.completed_on
    ]
    if not done:
        return []
    closes = zone_tasks[-1].status == "COMPLETED" and rng.random() < 0.5
    steps: list[tuple[TaskPlan, str]] = []
    cleared = False
    for t in done:
        method = RELEASE_METHOD[t.task_type]
        if method == "CANCELLED" and cleared:
            continue  # a CANCELLED release never follows a CLEARED one
        cleared = cleared or method == "CLEARED"
        steps.append((t, method))
    if closes:
        amounts = _share(rng, zone.area, len(steps))
    else:
        # Each release takes 10 to 40 % of what remains: never all of it.
        amounts, left = [], zone.area
        for _ in steps:
            amount = (left * Decimal(rng.uniform(0.1, 0.4))).quantize(Decimal("0.01"))
            amounts.append(amount)
            left -= amount
    rows: list[Row] = []
    for (t, method), amount in zip(steps, amounts, strict=True):
        if amount <= 0:
            continue
        released = t.completed_on or ANCHOR
        rows.append(
            (
                first_id + len(rows) + 1,
                zone.id,
                t.id if rng.random() < 0.9 else None,
                method,
                amount,
                released,
                _stamp(released),
            )
        )
    return rows


def progress_reports(
    rng: random.Random, size: Size, task_plans: list[TaskPlan]
) -> tuple[list[Row], list[Row]]:
    """Reports of started tasks, dated while they were ONGOING, with the devices they found."""
    started = [t for t in task_plans if t.started_on is not None]
    reports: list[Row] = []
    finds: list[Row] = []
    for i in range(1, size.progress_reports + 1):
        t = rng.choice(started)
        assert t.started_on is not None
        span = (t.worked_until - t.started_on).days
        day = t.started_on + timedelta(days=rng.randint(0, span))
        reports.append(
            (
                i,
                t.id,
                day,
                Decimal(rng.randint(0, 500_000)) / 100,
                None if rng.random() < 0.8 else "Weather stopped work for half a day.",
                _stamp(day),
            )
        )
        for _ in range(rng.choices((0, 1, 2, 3), (40, 35, 15, 10))[0]):
            z = t.zone
            location = None
            if rng.random() < 0.5:
                location = point_ewkb(*inside(rng, z.lon, z.lat, z.radius_m))
            finds.append(
                (
                    len(finds) + 1,
                    i,
                    rng.choice(DEVICE_CATEGORIES),
                    rng.choices((1, 2, 5, 20), (70, 15, 10, 5))[0],
                    rng.choice(DISPOSALS),
                    location,
                )
            )
    return reports, finds


def incidents_and_casualties(
    rng: random.Random,
    size: Size,
    zone_plans: list[ZonePlan],
    task_plans: list[TaskPlan],
    clusters: list[tuple[float, float]],
) -> tuple[list[Row], list[Row]]:
    """Accidents over five years: some at worksites, some inside zones, most around clusters."""
    started = [t for t in task_plans if t.started_on is not None]
    incidents: list[Row] = []
    kinds: list[str] = []
    for i in range(1, size.incidents + 1):
        roll = rng.random()
        zone: ZonePlan | None = None
        zone_id: int | None = None
        task_id: int | None = None
        if roll < 0.08 and started:
            t = rng.choice(started)
            assert t.started_on is not None
            zone = t.zone
            zone_id, task_id = t.zone.id, t.id
            incident_type, activity = "DEMINING_ACCIDENT", "DEMINING"
            day = t.started_on + timedelta(
                days=rng.randint(0, (t.worked_until - t.started_on).days)
            )
        else:
            incident_type = rng.choices(INCIDENT_TYPES, (35, 10, 15, 30, 3, 7))[0]
            activity = rng.choice(ACTIVITIES)
            day = _days_before_anchor(rng, 0, 365 * YEARS - 1)
            zone = rng.choice(zone_plans) if roll < 0.35 else None
            if zone is not None:
                zone_id = zone.id
        if zone is not None:
            lon, lat = inside(rng, zone.lon, zone.lat, zone.radius_m)
            contamination = rng.choice(zone.contamination)
            device = DEVICE_OF_CONTAMINATION.get(contamination, contamination)
        else:
            cx, cy = rng.choice(clusters)
            lon, lat = offset(cx, cy, rng.gauss(0, 6000), rng.gauss(0, 6000))
            lon, lat = min(max(lon, WEST), EAST), min(max(lat, SOUTH), NORTH)
            device = rng.choice((*DEVICE_CATEGORIES, "UNKNOWN"))
        admin1, admin2, pcode = admin_of(lon, lat)
        incidents.append(
            (
                i,
                f"INC-{i:07d}",
                incident_type,
                day,
                point_ewkb(lon, lat),
                zone_id,  # when None, `derive` links the zone the point lies in, if any
                task_id,
                device,
                activity,
                admin1,
                admin2,
                pcode,
                None if rng.random() < 0.6 else "Reported by the local authority.",
                rng.choice((None, "NMAC field report", "Hospital record", "Operator report")),
                rng.random() < 0.7,
                _stamp(day),
                _stamp(day),
            )
        )
        kinds.append(incident_type)
    victims = sorted(rng.randrange(size.incidents) + 1 for _ in range(size.casualties))
    casualties: list[Row] = []
    for n, incident_id in enumerate(victims, start=1):
        demining = kinds[incident_id - 1] == "DEMINING_ACCIDENT"
        age = (
            None
            if rng.random() < 0.15
            else (
                rng.randint(3, 17) if rng.random() < 0.3 and not demining else rng.randint(18, 75)
            )
        )
        category = (
            "DEMINER"
            if demining
            else rng.choices(("CIVILIAN", "MILITARY", "UNKNOWN"), (75, 10, 15))[0]
        )
        stamp = incidents[incident_id - 1][-1]
        casualties.append(
            (
                n,
                incident_id,
                rng.choices(("KILLED", "INJURED", "UNKNOWN"), (35, 55, 10))[0],
                category,
                rng.choices(("MALE", "FEMALE", "UNKNOWN"), (70, 22, 8))[0],
                age,
                None if rng.random() < 0.5 else f"Person {n:07d}",
                None,
                stamp,
                stamp,
            )
        )
    return incidents, casualties


# ---------------------------------------------------------------------------------------------
# Loading

# Zones are first copied into a scratch table, then inserted once every row that decides their
# derived columns is in: the area on the spheroid (trigger zones_compute_area), the released and
# remaining area, the status (CLOSED once nothing remains, else WORKED_ON while a task is ONGOING,
# else OPEN) and the day it last changed. Foreign keys are not checked during the load, so the
# tasks and releases may go in before their zones.
ZONES_SCRATCH = "CREATE TEMP TABLE zones_load ON COMMIT DROP AS SELECT {} FROM zones WITH NO DATA"
ZONE_AREAS = (
    "SELECT id, round(ST_Area(geometry::geography)::numeric, 2) AS area FROM zones_load ORDER BY id"
)
INSERT_ZONES = """
INSERT INTO zones ({columns}, released_area_m2, status_changed_on) OVERRIDING SYSTEM VALUE
SELECT {sources}, d.released, d.changed_on
FROM (SELECT a.id, a.area, coalesce(r.total, 0) AS released,
             CASE WHEN coalesce(r.total, 0) >= a.area THEN 'CLOSED'
                  WHEN t.ongoing_since IS NOT NULL THEN 'WORKED_ON'
                  ELSE 'OPEN' END AS status,
             CASE WHEN coalesce(r.total, 0) >= a.area THEN r.last_on
                  WHEN t.ongoing_since IS NOT NULL THEN t.ongoing_since
                  ELSE t.stopped_on END AS changed_on
      FROM (SELECT id, round(ST_Area(geometry::geography)::numeric, 2) AS area
            FROM zones_load) AS a
      LEFT JOIN (SELECT zone_id, sum(area_m2) AS total, max(released_on) AS last_on
                 FROM land_releases GROUP BY zone_id) AS r ON r.zone_id = a.id
      LEFT JOIN (SELECT zone_id,
                        max(started_on) FILTER (WHERE status = 'ONGOING') AS ongoing_since,
                        max(completed_on) AS stopped_on
                 FROM tasks GROUP BY zone_id) AS t ON t.zone_id = a.id) AS d
JOIN zones_load AS l ON l.id = d.id
ORDER BY l.id
"""


def insert_zones_sql() -> str:
    """INSERT_ZONES for the copied columns; status and area come from the derivation."""
    columns = COLUMNS["zones"]
    derived = {"status": "d.status", "estimated_area_m2": "d.area"}
    sources = ", ".join(derived.get(c, f"l.{c}") for c in columns)
    return INSERT_ZONES.format(columns=", ".join(columns), sources=sources)


# An incident recorded without a zone whose point lies inside one is linked to it (the lowest
# id where zones overlap), as trigger incidents_check does.
DERIVE_INCIDENT_ZONES = """
UPDATE incidents AS i
SET zone_id = m.zone_id
FROM (SELECT DISTINCT ON (f.id) f.id, f.zone_id
      FROM (SELECT inside.id, z.id AS zone_id
            FROM zones AS z
            CROSS JOIN LATERAL (
                SELECT i0.id, i0.zone_id FROM incidents AS i0
                WHERE ST_Covers(z.geometry, i0.location)
                OFFSET 0) AS inside
            WHERE inside.zone_id IS NULL) AS f
      ORDER BY f.id, f.zone_id) AS m
WHERE i.id = m.id
"""
# Driven from the zones, each probing the incidents' GiST index: a third of the time of probing
# the zones' index once per incident. The OFFSET keeps the planner from combining that probe
# with the index on zone_id, whose NULLs are most of the table.
# Functions that later migrations provide for bulk loads that skip triggers: summaries the
# triggers keep are rebuilt from the records (0002: the casualty counts), and the data version
# that the response cache checks moves on (0004).
REFRESH_AFTER_BULK_LOAD = ("casualty_counts_refresh", "data_version_touch")
REFRESH_FUNCTIONS = """
SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proname = ANY($1::text[]) AND p.pronargs = 0
ORDER BY array_position($1::text[], p.proname::text)
"""
# The indexes that back no constraint: dropped during the load and built again after it, which
# is several times faster than maintaining them row by row.
SECONDARY_INDEXES = """
SELECT ci.relname AS name, pg_get_indexdef(ci.oid) AS definition
FROM pg_index AS x
JOIN pg_class AS ci ON ci.oid = x.indexrelid
JOIN pg_class AS ct ON ct.oid = x.indrelid
JOIN pg_namespace AS n ON n.oid = ct.relnamespace
WHERE n.nspname = 'public' AND ct.relname = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid)
ORDER BY ci.relname
"""


Progress = Callable[[str], None]


def _printer(started: float) -> Progress:
    def say(step: str) -> None:
        print(f"  [{time.perf_counter() - started:6.1f} s] {step}", flush=True)

    return say


async def copy(
    conn: Connection, table: str, rows: list[Row], columns: Sequence[str] | None = None
) -> None:
    """COPY `rows` into `table` (binary), in the order of `columns` (else COLUMNS[table])."""
    await conn.copy_records_to_table(table, records=rows, columns=list(columns or COLUMNS[table]))


async def load(
    conn: Connection, size: Size, seed: int = DEFAULT_SEED, say: Progress | None = None
) -> dict[str, int]:
    """Fill an empty, migrated database with the data set; returns the row count per table."""
    say = say or _printer(time.perf_counter())
    rng = random.Random(seed)
    await register_geometry(conn)
    counts: dict[str, int] = {}
    async with conn.transaction():
        for setting in ("session_replication_role = replica", "jit = off"):
            await conn.execute(f"SET LOCAL {setting}")
        await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        indexes = await conn.fetch(SECONDARY_INDEXES, list(COLUMNS))
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["name"]}"')
        say(f"{len(indexes)} secondary indexes dropped for the load")

        async def put(table: str, rows: list[Row]) -> None:
            await copy(conn, table, rows)
            counts[table] = len(rows)
            say(f"{table}: {len(rows):,} rows copied")

        organisations, teams = organisations_and_teams(rng, size)
        await put("organisations", organisations)
        await put("teams", teams)
        zone_rows, zone_plans, clusters = zones(rng, size)
        await conn.execute(ZONES_SCRATCH.format(", ".join(COLUMNS["zones"])))
        await copy(conn, "zones_load", zone_rows, COLUMNS["zones"])
        say(f"zones: {len(zone_rows):,} rows copied to a scratch table")
        for plan, record in zip(zone_plans, await conn.fetch(ZONE_AREAS), strict=True):
            plan.area = record["area"]
        eligible = [t[0] for t in teams if t[6] != "INACTIVE" and (t[7] is None or t[7] >= ANCHOR)]
        task_rows, team_rows, releases, task_plans = tasks(rng, zone_plans, eligible)
        await put("tasks", task_rows)
        await put("task_teams", team_rows)
        await put("land_releases", releases)
        reports, finds = progress_reports(rng, size, task_plans)
        await put("progress_reports", reports)
        await put("device_finds", finds)
        incidents, casualties = incidents_and_casualties(
            rng, size, zone_plans, task_plans, clusters
        )
        await put("incidents", incidents)
        await put("casualties", casualties)
        await conn.execute(insert_zones_sql())
        counts["zones"] = len(zone_rows)
        say("zones: inserted with their areas, status and status dates derived")
        for index in indexes:
            await conn.execute(index["definition"])
        say(f"{len(indexes)} secondary indexes built")
        await conn.execute("ANALYZE zones, incidents")
        linked = await conn.execute(DERIVE_INCIDENT_ZONES)
        say(f"incidents inside a zone linked to it ({linked.split()[-1]} more)")
        for function in await conn.fetch(REFRESH_FUNCTIONS, list(REFRESH_AFTER_BULK_LOAD)):
            await conn.execute(f"SELECT {function['proname']}()")
            say(f"{function['proname']}() run")
        for table in IDENTITY_TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
    return counts


# ---------------------------------------------------------------------------------------------
# The benchmark's databases


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def current_signature(conn: Connection) -> str | None:
    """The comment of the connected database (a complete data set carries its signature)."""
    value: str | None = await conn.fetchval(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname = current_database()"
    )
    return value


@dataclass(frozen=True)
class Prepared:
    """A database holding a data set: its URL, row counts and how long loading took (None when
    an existing one was reused)."""

    url: str
    counts: dict[str, int]
    load_seconds: float | None


async def prepare(
    server_url: str,
    size: Size,
    alembic_ini: Path,
    *,
    seed: int = DEFAULT_SEED,
    name: str | None = None,
    force: bool = False,
) -> Prepared:
    """Return database `mar_bench_<size>` with the data set, generating it unless it is there.

    A database counts as there when its comment is the data set's signature (written last, after
    a complete load) and its tables hold the expected counts. It is migrated to the head either
    way, so the server's readiness check passes.
    """
    name = name or f"mar_bench_{size.name}"
    url = database_url(server_url, name)
    wanted = signature(size, seed)
    started = time.perf_counter()
    say = _printer(started)
    admin = await asyncpg.connect(server_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and not force:
            conn = await asyncpg.connect(url)
            try:
                if await current_signature(conn) == wanted:
                    counts = await table_counts(conn)
                    if counts_match(counts, size):
                        await asyncio.to_thread(migrations.upgrade, alembic_ini, url)
                        print(f"{name}: reusing the data set already there ({wanted})")
                        return Prepared(url, counts, None)
            finally:
                await conn.close()
        print(f"{name}: generating the {size.name} data set (seed {seed})", flush=True)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    # Alembic's env.py runs its own event loop: give it a thread.
    await asyncio.to_thread(migrations.upgrade, alembic_ini, url)
    say("database created and migrated")
    conn = await asyncpg.connect(url)
    try:
        load_started = time.perf_counter()
        counts = await load(conn, size, seed, say)
        await conn.execute("VACUUM (ANALYZE)")
        say("vacuumed and analysed")
        await conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{wanted}'")
        seconds = time.perf_counter() - load_started
    finally:
        await conn.close()
    print(f"{name}: data set loaded in {seconds:.1f} s (generation, COPY, derivation, ANALYZE)")
    return Prepared(url, counts, seconds)


COUNTED_TABLES = (
    "organisations",
    "teams",
    "zones",
    "tasks",
    "task_teams",
    "land_releases",
    "progress_reports",
    "device_finds",
    "incidents",
    "casualties",
)


async def table_counts(conn: Connection) -> dict[str, int]:
    """The number of rows in each table of the data set."""
    counts = {}
    for table in COUNTED_TABLES:
        counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


def counts_match(counts: dict[str, int], size: Size) -> bool:
    """Whether `counts` are those of a complete data set of `size`."""
    return (
        counts.get("organisations") == size.organisations
        and counts.get("teams") == size.teams
        and counts.get("zones") == size.zones
        and counts.get("incidents") == size.incidents
        and counts.get("casualties") == size.casualties
        and counts.get("progress_reports") == size.progress_reports
        and counts.get("tasks", 0) > 0
    )


# The server the benchmarks use without TEST_DATABASE_URL: the private cluster (scripts/devdb).
DEFAULT_SERVER_URL = "postgresql://mar:mar@127.0.0.1:54329/mar"


async def prepare_named(size_name: str) -> Prepared:
    """The data set `size_name` on TEST_DATABASE_URL's server (else the private cluster's), made
    when it is not there yet: what each `python -m bench.<part> --size NAME` measures."""
    from api.settings import Settings

    server_url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_SERVER_URL
    return await prepare(server_url, SIZES[size_name], Settings.from_env().alembic_ini)
