"""Organisations and teams of the demo set: one of every organisation type, 40 teams."""

from __future__ import annotations

from datetime import date

from api.demo.calendar import day_between, stream
from api.demo.records import Organisation, Team

COUNTRY = "ZZ"  # user-assigned in ISO 3166-1, so it names no real country

ORGANISATIONS = (
    Organisation("DEMO-NMAA", "Demo National Mine Action Authority (synthetic)", "NMAA", COUNTRY),
    Organisation("DEMO-GOV", "Demo Ministry of Rural Works (synthetic)", "GOVERNMENT", COUNTRY),
    Organisation("DEMO-MIL", "Demo Engineer Corps (synthetic)", "MILITARY", COUNTRY),
    Organisation("DEMO-COM", "Demo Clearance Services Ltd (synthetic)", "COMMERCIAL", COUNTRY),
    Organisation(
        "DEMO-NNGO", "Demo Community Demining Association (synthetic)", "NATIONAL_NGO", COUNTRY
    ),
    Organisation(
        "DEMO-INGO1", "Demo Humanitarian Demining Trust (synthetic)", "INTERNATIONAL_NGO", COUNTRY
    ),
    Organisation(
        "DEMO-INGO2", "Demo Explosive Hazard Relief (synthetic)", "INTERNATIONAL_NGO", COUNTRY
    ),
    Organisation("DEMO-UN", "Demo Multilateral Mine Action Office (synthetic)", "UN", COUNTRY),
)

# (organisation, how many teams): the authority and the multilateral office field none.
TEAMS_PER_ORGANISATION = (
    ("DEMO-NMAA", 1),
    ("DEMO-GOV", 2),
    ("DEMO-MIL", 6),
    ("DEMO-COM", 7),
    ("DEMO-NNGO", 8),
    ("DEMO-INGO1", 9),
    ("DEMO-INGO2", 7),
)

# Kinds of team: (name, capabilities, smallest size, largest size). Teams take them in turn, so
# every capability is fielded by several teams of several organisations.
TEAM_KINDS = (
    ("Manual clearance team", ("MANUAL", "TS"), 10, 30),
    ("Survey team", ("NTS", "TS"), 2, 6),
    ("Mine detection dog team", ("MDD", "TS"), 4, 10),
    ("EOD team", ("EOD",), 2, 6),
    ("Mechanical team", ("MECHANICAL", "TS"), 3, 8),
    ("Multi-task team", ("EOD", "MANUAL", "NTS", "TS"), 8, 16),
    ("Manual clearance team", ("MANUAL",), 12, 40),
)

# Accreditations still valid are renewed until well after the reference date; expired ones ran
# out before it. Teams are put on tasks when the seed runs, and the database refuses a team whose
# accreditation has expired by then: the valid ones reach far enough for the seed to keep working.
VALID_FROM, VALID_TO = date(2045, 7, 1), date(2047, 6, 30)
EXPIRED_FROM, EXPIRED_TO = date(2024, 1, 1), date(2026, 3, 31)


def build_teams() -> tuple[Team, ...]:
    """Return 40 teams: mostly active, some on standby or inactive, some accreditations expired."""
    rng = stream("teams")
    total = sum(count for _, count in TEAMS_PER_ORGANISATION)
    # Fixed proportions, shuffled: 70% active, 17.5% on standby, 12.5% inactive; 6 expired.
    statuses = ["ACTIVE"] * 28 + ["STANDBY"] * 7 + ["INACTIVE"] * 5
    expired_flags = [True] * 6 + [False] * (total - 6)
    rng.shuffle(statuses)
    rng.shuffle(expired_flags)
    teams: list[Team] = []
    for organisation_code, count in TEAMS_PER_ORGANISATION:
        for _ in range(count):
            number = len(teams) + 1
            kind, capabilities, smallest, largest = TEAM_KINDS[number % len(TEAM_KINDS)]
            if organisation_code == "DEMO-NMAA":
                kind, capabilities, smallest, largest = ("Quality survey team", ("NTS",), 2, 4)
            status = statuses[number - 1]
            expires_on = (
                day_between(rng, EXPIRED_FROM, EXPIRED_TO)
                if expired_flags[number - 1]
                else day_between(rng, VALID_FROM, VALID_TO)
            )
            teams.append(
                Team(
                    code=f"DEMO-T{number:02d}",
                    name=f"Demo {kind} {number:02d} ({organisation_code})",
                    organisation_code=organisation_code,
                    capabilities=capabilities,
                    size=rng.randint(smallest, largest),
                    status=status,
                    accreditation_expires_on=expires_on,
                )
            )
    return tuple(teams)


def deployable(team: Team) -> bool:
    """Tell whether the team may be put on a new task (active or on standby, accredited)."""
    return team.status in ("ACTIVE", "STANDBY") and team.accreditation_expires_on >= VALID_FROM
