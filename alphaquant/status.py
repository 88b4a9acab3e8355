"""What became of a goal: one enum shared by results, JSON, the run store and reports.

A ``StrEnum``: each member is its own lower-case string, so JSON, SQLite and every comparison with
the plain word keep working, and a typo is an AttributeError instead of a silent miss.
"""

from __future__ import annotations

import enum


class GoalStatus(enum.StrEnum):
    PROVED = "proved"  # the whole file re-checked with the proof spliced in
    DISPROVED = "disproved"  # the negation proved and accepted; nothing written
    OPEN = "open"  # neither found within the budget
    ERROR = "error"  # the prover or the run broke (the message says how)

    @property
    def closed(self) -> bool:
        """Proved or disproved: the goal needs nothing more."""
        return self in (GoalStatus.PROVED, GoalStatus.DISPROVED)


FINAL = tuple(s.value for s in GoalStatus)  # statuses that end a goal's pass (plain strings)
