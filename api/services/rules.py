"""Small checks every use-case shares: codes, text, enumerations, dates."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime

from api.errors import Problems

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


# The earliest date of an event the records keep (a recording, an accident, a release). Mine
# action records begin with the 20th century's wars; an earlier date is a typing mistake (a year
# of 0024 for 2024), and a year far enough back cannot even be sent to the database.
EARLIEST_EVENT_DATE = date(1900, 1, 1)


def today() -> date:
    """Return today's date in UTC, the reference for 'not in the future'."""
    return datetime.now(UTC).date()


def check_event_date(value: date, field: str, problems: Problems) -> None:
    """The date of an event lies between 1900-01-01 and today (both included)."""
    if value < EARLIEST_EVENT_DATE:
        problems.add(field, f"must not be before {EARLIEST_EVENT_DATE.isoformat()}")
    elif value > today():
        problems.add(field, "must not be in the future")


def check_code(value: str, field: str, problems: Problems) -> None:
    """A code is 1-64 letters, digits and . _ / -, starting with a letter or digit."""
    if not CODE_PATTERN.match(value):
        problems.add(
            field,
            "must be 1-64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit",
        )


def check_text(value: str, field: str, problems: Problems, *, max_length: int) -> None:
    """Required text is not blank and not longer than max_length characters."""
    if not value.strip():
        problems.add(field, "must not be blank")
    elif len(value) > max_length:
        problems.add(field, f"must be at most {max_length} characters")


def check_enum(value: str, field: str, allowed: Collection[str], problems: Problems) -> None:
    """The value is one of the allowed names."""
    if value not in allowed:
        problems.add(field, f"must be one of {', '.join(allowed)}")
