"""Several tactic sources as one prior distribution.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alphaquant.errors import InputError
from alphaquant.tactics.base import Candidate, ProposalRequest, TacticSource, normalise

log = logging.getLogger(__name__)

class MixedSource:
    """Several sources as one prior distribution.

    Each source's priors are normalised to sum 1, scaled by its weight, summed over sources for
    the same (whitespace-normalised) tactic, and scaled to sum 1 again: a text two sources
    propose (a learned suggestion and a hand rule) is one candidate, with both shares and the
    longest own time limit either gave. A source with weight 0
    is never asked. A source with no candidates leaves the others' shares as they are, so when a
    model is down the heuristics alone make the distribution.
    """

    def __init__(self, sources: Sequence[tuple[TacticSource, float]]) -> None:
        if any(w < 0 for _, w in sources) or not any(w > 0 for _, w in sources):
            raise InputError("source weights must be non-negative and not all zero")
        self.sources = tuple(sources)

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        """The merged candidates, highest prior first (ties in source order)."""
        mass: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        limit: dict[str, float | None] = {}  # the longest own time limit a source gave
        for source, weight in self.sources:
            if weight <= 0:
                continue
            for c in normalise(source.propose(request)):
                share = c.prior * weight
                mass[c.tactic] = mass.get(c.tactic, 0.0) + share
                if c.tactic not in best or share > best[c.tactic][0]:
                    best[c.tactic] = (share, c.source)
                old = limit.get(c.tactic)
                if c.timeout is not None and (old is None or c.timeout > old):
                    limit[c.tactic] = c.timeout
                else:
                    limit.setdefault(c.tactic, old)
        total = sum(mass.values())
        if total <= 0:
            return []
        merged = [Candidate(t, m / total, best[t][1], limit.get(t)) for t, m in mass.items()]
        return sorted(merged, key=lambda c: -c.prior)
