"""The tactic-source contract: given a proof state and its context, propose candidates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from alphaquant.provers.base import Premise, ProofState

# Premise retrieval for the request's state, best first; the search sizes the pool (it grows
# with the state's depth and with each round of asking again).
Retrieve = Callable[[], tuple[Premise, ...]]


# One proposed tactic and its unnormalised prior weight (> 0).
@dataclass(frozen=True)
class Candidate:
    tactic: str
    prior: float
    source: str = "heuristic"
    timeout: float | None = None  # its own time limit (heavy automation); None: the search's


# What a source may look at when it proposes: the state, the file, and what already failed here.
@dataclass(frozen=True)
class ProposalRequest:
    state: ProofState
    k: int
    language: str  # "coq" | "lean"
    file_text: str = ""
    theorem: str = ""
    failures: tuple[tuple[str, str], ...] = ()  # (tactic, prover message) tried at this state
    round: int = 0  # 0 the first time; n when the state's candidates ran out n times
    premises: Retrieve | None = None  # the prover's premise retrieval, when it has one


class TacticSource(Protocol):
    """Anything that proposes tactics. Never raises for a bad model answer: returns fewer."""

    def propose(self, request: ProposalRequest) -> list[Candidate]: ...


def normalise(candidates: list[Candidate]) -> list[Candidate]:
    """Merge duplicates (whitespace-normalised text, summed weight) and scale priors to sum 1."""
    merged: dict[str, Candidate] = {}
    for c in candidates:
        text = " ".join(c.tactic.split())
        if not text or c.prior <= 0:
            continue
        old = merged.get(text)
        timeout = max(filter(None, (c.timeout, old.timeout if old else None)), default=None)
        merged[text] = Candidate(text, c.prior + (old.prior if old else 0.0), c.source, timeout)
    total = sum(c.prior for c in merged.values())
    if total <= 0:
        return []
    return [Candidate(c.tactic, c.prior / total, c.source, c.timeout) for c in merged.values()]
