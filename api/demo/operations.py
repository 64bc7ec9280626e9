"""Tasks, their teams and the land they release: every date lies in the demo window."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from api.demo import scenarios as sc
from api.demo.calendar import REFERENCE_DATE, day_between, stream
from api.demo.operators import deployable
from api.demo.records import LandRelease, Task, Team
from api.demo.zones import PlacedZone

# Capabilities of which a task type needs at least one in each of its teams.
NEEDS = {
    "NTS": ("NTS",),
    "TS": ("TS",),
    "CLEARANCE": ("MANUAL", "MDD", "MECHANICAL"),
    "BAC": ("EOD", "MANUAL"),
    "EOD_SPOT": ("EOD",),
}
ASSETS = ("MANUAL", "MDD", "MECHANICAL")
RECENT_DAYS = 300  # an ongoing or suspended task started within this many days of the reference
LAST_START = REFERENCE_DATE - timedelta(days=10)


@dataclass(frozen=True, slots=True)
class WorkedTask:
    """A task with the zone it works and the share of the zone's area it searched."""

    task: Task
    placed: PlacedZone
    searched_share: float

    @property
    def worked_until(self) -> date | None:
        """Return the last day the task worked (None when it never started)."""
        t = self.task
        if t.started_on is None:
            return None
        return t.completed_on or t.suspended_on or REFERENCE_DATE


@dataclass(frozen=True, slots=True)
class Operations:
    """Tasks, releases, and the day each zone worked on but not closed last changed status."""

    tasks: tuple[WorkedTask, ...]
    land_releases: tuple[LandRelease, ...]
    zone_status_changes: tuple[tuple[str, date], ...]


def duration_days(rng: random.Random, task_type: str, area_m2: float) -> int:
    """Return how many days a task of this type takes on a zone of this area."""
    hectares = area_m2 / 10_000
    if task_type == "NTS":
        return rng.randint(2, 12)
    if task_type == "TS":
        return rng.randint(10, 25) + round(hectares * rng.uniform(1, 3))
    if task_type == "CLEARANCE":
        return rng.randint(15, 30) + round(hectares * rng.uniform(6, 14))
    if task_type == "BAC":
        return rng.randint(5, 15) + round(hectares * rng.uniform(1, 3))
    return rng.randint(1, 3)  # EOD_SPOT


def pick_teams(rng: random.Random, teams: tuple[Team, ...], task_type: str) -> tuple[Team, ...]:
    """Return one to three deployable teams able to do the task, in code order."""
    eligible = [
        t for t in teams if deployable(t) and any(c in t.capabilities for c in NEEDS[task_type])
    ]
    wanted = 1 if task_type in ("NTS", "EOD_SPOT") else rng.choices((1, 2, 3), (55, 33, 12))[0]
    chosen = rng.sample(eligible, min(wanted, len(eligible)))
    return tuple(sorted(chosen, key=lambda t: t.code))


class _Planner:
    """Lays one zone's scenario out in time; `place` returns None when it does not fit."""

    def __init__(self, rng: random.Random, teams: tuple[Team, ...], placed: PlacedZone) -> None:
        self.rng, self.teams, self.placed = rng, teams, placed
        self.cursor = placed.zone.recorded_on
        self.remaining_share = 1.0  # of the zone's estimated area, as this plan releases it
        self.tasks: list[WorkedTask] = []
        self.releases: list[LandRelease] = []
        self.status_change: date | None = None

    def place(self, steps: tuple[sc.Step, ...], first_number: int) -> bool:
        for offset, step in enumerate(steps):
            if not self._step(step, f"DEMO-TASK-{first_number + offset:05d}"):
                return False
        return True

    def _step(self, step: sc.Step, code: str) -> bool:
        rng = self.rng
        area = self.placed.shape.approx_area_m2
        days = duration_days(rng, step.task_type, area)
        earliest = self.cursor + timedelta(days=rng.randint(7, 120))
        if step.outcome == sc.PLANNED:
            planned_start = earliest
            if planned_start > REFERENCE_DATE - timedelta(days=7):
                return False
            planned_start = max(planned_start, REFERENCE_DATE - timedelta(days=rng.randint(7, 90)))
            self._add(step, code, planned_start, days, None, None, None, 0.0)
            return True
        if step.outcome == sc.CANCELLED_UNSTARTED:
            if earliest > LAST_START:
                return False
            planned_start = day_between(rng, earliest, LAST_START)
            self._add(step, code, planned_start, days, None, None, None, 0.0)
            return True
        completed_on: date | None = None
        if step.outcome == sc.COMPLETED:
            started_on = earliest
            completed_on = started_on + timedelta(days=days - 1)
            if completed_on > REFERENCE_DATE:
                return False
        else:  # ONGOING, SUSPENDED, CANCELLED_SUSPENDED: started recently, not finished
            recent = REFERENCE_DATE - timedelta(days=RECENT_DAYS)
            if earliest > LAST_START:
                return False
            started_on = day_between(rng, max(earliest, recent), LAST_START)
        suspended_on = None
        if step.outcome in (sc.SUSPENDED, sc.CANCELLED_SUSPENDED):
            suspended_on = min(
                REFERENCE_DATE - timedelta(days=1),
                started_on + timedelta(days=rng.randint(3, max(3, days // 2))),
            )
        planned_start = started_on - timedelta(days=rng.randint(0, 21))
        planned_start = max(planned_start, self.cursor)
        last_day = completed_on or suspended_on or REFERENCE_DATE
        released = self._releases(step, code, started_on, completed_on, last_day)
        searched = {
            "NTS": 0.0,  # a non-technical survey searches no ground
            "TS": rng.uniform(0.1, 0.3) * (self.remaining_share + released),
            "EOD_SPOT": rng.uniform(0.002, 0.02),
        }.get(step.task_type, released)
        if step.task_type == "CLEARANCE" and completed_on is None:
            searched += rng.uniform(0.02, 0.1) * self.remaining_share  # worked, not yet released
        self._add(step, code, planned_start, days, started_on, suspended_on, completed_on, searched)
        self.cursor = completed_on or suspended_on or REFERENCE_DATE
        self.status_change = self.cursor if step.outcome != sc.ONGOING else started_on
        return True

    def _releases(
        self,
        step: sc.Step,
        code: str,
        started_on: date,
        completed_on: date | None,
        last_day: date,
    ) -> float:
        """Record the step's releases and return the share of the zone they release."""
        rng = self.rng
        method = sc.RELEASE_METHOD.get(step.task_type)
        if step.release == "none" or method is None:
            return 0.0
        if step.release == "rest":
            assert completed_on is not None, "only a completed task releases all that remains"
            released, self.remaining_share = self.remaining_share, 0.0
            self.releases.append(
                LandRelease(self.placed.zone.code, code, method, None, completed_on)
            )
            return released
        if completed_on is not None:  # a completed task releases once, when it ends
            parts = [(completed_on, rng.uniform(0.2, 0.6))]
        else:  # an unfinished one has released 0–2 parts so far
            days = sorted(day_between(rng, started_on, last_day) for _ in range(rng.randint(0, 2)))
            parts = [(day, rng.uniform(0.05, 0.2)) for day in days]
        total = 0.0
        for day, share_of_remaining in parts:
            share = round(self.remaining_share * share_of_remaining, 6)
            self.remaining_share -= share
            total += share
            self.releases.append(LandRelease(self.placed.zone.code, code, method, share, day))
        return total

    def _add(
        self,
        step: sc.Step,
        code: str,
        planned_start: date,
        days: int,
        started_on: date | None,
        suspended_on: date | None,
        completed_on: date | None,
        searched_share: float,
    ) -> None:
        rng = self.rng
        planned_days = max(1, round(days * rng.uniform(0.8, 1.2)))
        planned_end = min(REFERENCE_DATE, planned_start + timedelta(days=planned_days - 1))
        planned_end = max(planned_end, planned_start)
        teams = pick_teams(rng, self.teams, step.task_type)
        capabilities = {c for team in teams for c in team.capabilities}
        assets = tuple(a for a in ASSETS if a in capabilities)
        if step.task_type in ("NTS", "EOD_SPOT"):
            assets = ()
        status = {sc.CANCELLED_UNSTARTED: "CANCELLED", sc.CANCELLED_SUSPENDED: "CANCELLED"}.get(
            step.outcome, step.outcome
        )
        task = Task(
            code=code,
            zone_code=self.placed.zone.code,
            task_type=step.task_type,
            status=status,
            planned_start=planned_start,
            planned_end=planned_end,
            started_on=started_on,
            suspended_on=suspended_on,
            completed_on=completed_on,
            assets=assets,
            team_codes=tuple(t.code for t in teams),
        )
        self.tasks.append(WorkedTask(task, self.placed, searched_share))


def build_operations(zones: tuple[PlacedZone, ...], teams: tuple[Team, ...]) -> Operations:
    """Return tasks in every status and releases of every method; some zones end CLOSED."""
    rng = stream("operations")
    tasks: list[WorkedTask] = []
    releases: list[LandRelease] = []
    changes: list[tuple[str, date]] = []
    for placed in zones:
        zone = placed.zone
        for _ in range(5):  # a history that does not fit before the reference date is redrawn
            scenario = sc.draw(rng, zone.hazard_type, zone.contamination)
            planner = _Planner(rng, teams, placed)
            if planner.place(scenario.steps, len(tasks) + 1):
                break
        else:
            continue  # the zone stays untouched
        tasks.extend(planner.tasks)
        releases.extend(planner.releases)
        closes = any(r.fraction is None for r in planner.releases)
        if planner.status_change is not None and not closes:
            changes.append((zone.code, planner.status_change))
    releases.sort(key=lambda r: (r.released_on, r.zone_code, r.task_code or ""))
    return Operations(tuple(tasks), tuple(releases), tuple(changes))
