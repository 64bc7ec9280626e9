"""Reading a JSON request body: malformed or nested too deeply is a client's error, not a 500."""

from __future__ import annotations

import json
from typing import Any


class BadJson(ValueError):
    """The body is not JSON the service can read; the message says why, for the client."""


def decode(data: str | bytes) -> Any:
    """Return the decoded body, or raise BadJson saying why it cannot be read.

    Python's decoder recurses once per nesting level: a body of 100 000 `[` ran it past the
    interpreter's recursion limit, a RecursionError that nothing expected (a 500).
    """
    try:
        return json.loads(data)
    except RecursionError:
        raise BadJson("is nested too deeply (arrays and objects within each other)") from None
    except ValueError as exc:
        raise BadJson(f"is not JSON: {exc}") from None
