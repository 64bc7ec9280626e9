"""How many exports run at once: a few per caller, a few in all.

An export holds a spool file and, while PostgreSQL writes it, a connection; a caller who opens
many and reads none would hold them all. So each caller (its key, or its address when
anonymous: api.ratelimit.bucket_key) gets at most `per_client` exports at once, and the process
at most `total`; over either, the export is refused before it touches the database. The counts
live in this process, as the rate limit's buckets do: with several server processes, each has its
own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Slot:
    """One running export of `caller`; `release()` gives it back (once, however often called)."""

    slots: ExportSlots
    caller: str
    released: bool = False

    def release(self) -> None:
        """Give the slot back."""
        if not self.released:
            self.released = True
            self.slots.give_back(self.caller)


@dataclass
class ExportSlots:
    """Count running exports by caller; `take` grants a Slot or says why not."""

    per_client: int
    total: int
    _by_caller: Counter[str] = field(default_factory=Counter)

    @property
    def running(self) -> int:
        """Exports running now."""
        return sum(self._by_caller.values())

    def take(self, caller: str) -> Slot | str:
        """A slot for `caller`, or the reason it is refused (safe to show the client)."""
        if self._by_caller[caller] >= self.per_client:
            return (
                f"Too many exports at once: at most {self.per_client} per client; "
                "wait for one to finish"
            )
        if self.running >= self.total:
            return (
                f"Too many exports at once: the service runs at most {self.total}; try again soon"
            )
        self._by_caller[caller] += 1
        return Slot(self, caller)

    def give_back(self, caller: str) -> None:
        """Forget one running export of `caller`."""
        self._by_caller[caller] -= 1
        if self._by_caller[caller] <= 0:
            del self._by_caller[caller]
