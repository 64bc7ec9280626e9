"""Dates and instants a client sends, read in one place: only values the database can be sent.

asyncpg sends every instant as UTC. An instant whose UTC time falls outside the years 1-9999
(`0001-01-01T00:00:00+14:00` is 31 December of year 0 in UTC) cannot be encoded: it failed deep
in the driver as an internal error. Every date-time a client gives (GraphQL `DateTime`, the REST
`datetime` parameter, CQL2 timestamps) goes through checked_instant() instead, which refuses it
with a message the client can act on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

# The instants a client may give: every one that has a UTC time within the years 1-9999.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


class OutOfRange(ValueError):
    """A well-formed date or instant that lies outside what can be stored or compared."""


def checked_instant(value: datetime) -> datetime:
    """Return the instant, aware (one without an offset is taken as UTC), or raise OutOfRange.

    An instant is accepted when its UTC time lies within 0001-01-01T00:00:00Z ..
    9999-12-31T23:59:59.999999Z.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value.astimezone(UTC)
    except OverflowError:
        side = "before 0001-01-01" if value.year == 1 else "after 9999-12-31"
        raise OutOfRange(
            f"lies {side} in UTC; give an instant between 0001-01-01T00:00:00Z and "
            "9999-12-31T23:59:59Z"
        ) from None
    return value


def parse_instant(text: str) -> datetime:
    """Read an ISO 8601 / RFC 3339 date-time; raise ValueError (OutOfRange when out of range)."""
    return checked_instant(datetime.fromisoformat(text))


def parse_date_or_instant(text: str) -> date | datetime:
    """Read an RFC 3339 calendar date (`2024-05-01`) or date-time; raise ValueError if neither."""
    if len(text) == 10:
        return date.fromisoformat(text)
    if "T" not in text.upper():
        raise ValueError(f"{text!r} is neither a date nor a date-time (RFC 3339)")
    return parse_instant(text)
