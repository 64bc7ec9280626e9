"""What a demo seed did: whether it wrote the set, and how many rows of each kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SeedResult:
    """Counts of the rows a seed wrote; all zero when the demo set was already present."""

    created: bool
    organisations: int = 0
    teams: int = 0
    zones: int = 0
    tasks: int = 0
    task_teams: int = 0
    progress_reports: int = 0
    device_finds: int = 0
    land_releases: int = 0
    incidents: int = 0
    casualties: int = 0

    def summary(self) -> str:
        """Return the counts as one line of text."""
        if not self.created:
            return "demo data already present; nothing changed"
        return (
            f"{self.organisations} organisations, {self.teams} teams, {self.zones} zones, "
            f"{self.tasks} tasks ({self.task_teams} team assignments), "
            f"{self.progress_reports} progress reports, {self.device_finds} device finds, "
            f"{self.land_releases} land releases, {self.incidents} incidents, "
            f"{self.casualties} casualties"
        )
