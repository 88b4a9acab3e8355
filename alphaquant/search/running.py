"""The running search: its parts, its context, its budget and the statistics it keeps."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from alphaquant.script import Script
from alphaquant.search.base import GoalContext, SearchConfig, SearchParts, Trial

T = TypeVar("T")


# What the loop needs besides the tree. Mutable: the counters grow as the search goes, over
# one or more goes (a search can be continued later with more time).
@dataclass
class Run:
    parts: SearchParts
    context: GoalContext
    config: SearchConfig
    budget: float = 0.0  # seconds of search time at which to stop (raised by each go)
    spent: float = 0.0  # search time before the current go
    since: float | None = None  # when the current go started; None between them
    expansions: int = 0  # tactics sent to the prover
    prover_seconds: float = 0.0  # time spent waiting on the prover (tactics, checks, queries)
    errors: int = 0
    timeouts: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # gate refusals by reason
    tried: list[Trial] = field(default_factory=list)
    rejected: int = 0  # complete paths the acceptance rule refused
    accepted: Script | None = None  # the proof it took
    retried: int = 0  # timed-out tactics queued again, longer
    products: int = 0  # states split into independent goals
    reproposals: int = 0  # states asked again after their candidates ran out
    history: set[str] = field(default_factory=set)  # tactics of the goals proved so far
    timed_out: set[str] = field(default_factory=set)  # tactics that ran past their limit somewhere
    successes: int = 0  # tactics the prover accepted...
    success_seconds: float = 0.0  # ...and the time they took (with reaching their state)

    def elapsed(self) -> float:
        """Seconds this search has run: its goes added up (time between them not counted)."""
        running = time.monotonic() - self.since if self.since is not None else 0.0
        return self.spent + running

    def start(self, seconds: float) -> None:
        """Begin a go of ``seconds`` more."""
        self.budget = self.elapsed() + seconds
        self.since = time.monotonic()

    def stop(self) -> None:
        """End the current go."""
        self.spent = self.elapsed()
        self.since = None

    def in_prover(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)``, a wait on the prover (focusing, retrieval, the acceptance rule's
        kernel checks), counted in ``prover_seconds`` as tactic runs are."""
        t0 = time.monotonic()
        try:
            return call(*args)
        finally:
            self.prover_seconds += time.monotonic() - t0
