"""What happens to each zone: a short, sequential history of tasks and the releases they make."""

from __future__ import annotations

import random
from dataclasses import dataclass

# How a step's task ends up. "CANCELLED_UNSTARTED" is cancelled while PLANNED;
# "CANCELLED_SUSPENDED" started, was suspended, then cancelled.
COMPLETED = "COMPLETED"
ONGOING = "ONGOING"
SUSPENDED = "SUSPENDED"
PLANNED = "PLANNED"
CANCELLED_UNSTARTED = "CANCELLED_UNSTARTED"
CANCELLED_SUSPENDED = "CANCELLED_SUSPENDED"

RELEASE_METHOD = {"NTS": "CANCELLED", "TS": "REDUCED", "CLEARANCE": "CLEARED", "BAC": "CLEARED"}
# Contamination that battle area clearance (BAC) deals with: no mines, only ordnance.
BAC_KINDS = frozenset({"UXO", "AXO", "CMR"})


@dataclass(frozen=True, slots=True)
class Step:
    """One task of a zone's history and the release it leads to.

    `release` is "none", "part" (a share of what remains; an ongoing or suspended task makes
    0–2 such releases) or "rest" (everything that remains: the zone closes).
    """

    task_type: str
    outcome: str
    release: str = "none"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named history with how often it is drawn and which zones it fits."""

    name: str
    weight: int
    steps: tuple[Step, ...]
    sha_only: bool = False
    needs_bac_kinds: bool = False


SCENARIOS = (
    Scenario("untouched", 30, ()),
    Scenario("planned survey", 3, (Step("NTS", PLANNED),), sha_only=True),
    Scenario("planned clearance", 3, (Step("CLEARANCE", PLANNED),)),
    Scenario("cancelled by survey", 7, (Step("NTS", COMPLETED, "rest"),), sha_only=True),
    Scenario("partly cancelled", 7, (Step("NTS", COMPLETED, "part"),), sha_only=True),
    Scenario(
        "surveyed and cleared",
        8,
        (
            Step("NTS", COMPLETED, "part"),
            Step("TS", COMPLETED, "part"),
            Step("CLEARANCE", COMPLETED, "rest"),
        ),
        sha_only=True,
    ),
    Scenario(
        "reduced and cleared",
        7,
        (Step("TS", COMPLETED, "part"), Step("CLEARANCE", COMPLETED, "rest")),
    ),
    Scenario("cleared", 6, (Step("CLEARANCE", COMPLETED, "rest"),)),
    Scenario("reduced", 5, (Step("TS", COMPLETED, "part"),)),
    Scenario(
        "clearance under way",
        6,
        (Step("TS", COMPLETED, "part"), Step("CLEARANCE", ONGOING, "part")),
    ),
    Scenario("clearance started", 4, (Step("CLEARANCE", ONGOING, "part"),)),
    Scenario("survey under way", 3, (Step("TS", ONGOING),)),
    Scenario("clearance suspended", 3, (Step("CLEARANCE", SUSPENDED, "part"),)),
    Scenario("never started", 2, (Step("CLEARANCE", CANCELLED_UNSTARTED),)),
    Scenario("abandoned", 1, (Step("CLEARANCE", CANCELLED_SUSPENDED),)),
    Scenario("battle area cleared", 10, (Step("BAC", COMPLETED, "rest"),), needs_bac_kinds=True),
    Scenario("spot task", 4, (Step("EOD_SPOT", COMPLETED),)),
)


def fits(scenario: Scenario, hazard_type: str, contamination: tuple[str, ...]) -> bool:
    """Tell whether the scenario suits a zone of this hazard type and contamination."""
    if scenario.sha_only and hazard_type != "SHA":
        return False
    return not scenario.needs_bac_kinds or set(contamination) <= BAC_KINDS


def draw(rng: random.Random, hazard_type: str, contamination: tuple[str, ...]) -> Scenario:
    """Return a scenario for the zone, drawn by weight among those that fit it."""
    candidates = [s for s in SCENARIOS if fits(s, hazard_type, contamination)]
    return rng.choices(candidates, weights=[s.weight for s in candidates])[0]
