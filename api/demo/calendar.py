"""The fixed clock and random streams of the demo set: nothing here reads the wall clock."""

from __future__ import annotations

import random
from datetime import date, timedelta

SEED = 20260630
# Every event date of the demo set is drawn from the five years ending here; the set is then moved
# as a whole so that this day becomes the day it is generated (api/demo/dataset.py plan_for).
REFERENCE_DATE = date(2026, 6, 30)
WINDOW_START = date(2021, 7, 1)
SOURCE = "synthetic demo data"


def stream(name: str) -> random.Random:
    """Return a random stream that yields the same sequence for the same name on every run."""
    # String seeds are hashed with SHA-512 (seed version 2), so PYTHONHASHSEED does not matter.
    return random.Random(f"mar-demo/{SEED}/{name}")


def day_between(rng: random.Random, first: date, last: date) -> date:
    """Return a date drawn uniformly from first..last (both included)."""
    if last < first:
        raise ValueError(f"empty date range {first}..{last}")
    return first + timedelta(days=rng.randint(0, (last - first).days))


def clamp(day: date, first: date = WINDOW_START, last: date = REFERENCE_DATE) -> date:
    """Return day moved into first..last."""
    return max(first, min(last, day))
