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
    avoid: frozenset[str] = frozenset()  # names no candidate may mention (--avoid)
    deadline: float | None = None  # time.monotonic() at which the search's time runs out


class TacticSource(Protocol):
    """Anything that proposes tactics. Never raises for a bad model answer: returns fewer."""

    def propose(self, request: ProposalRequest) -> list[Candidate]: ...


def normalise(candidates: list[Candidate]) -> list[Candidate]:
    """Merge duplicates (whitespace-normalised text, summed weight) and scale priors to sum 1."""
    prior: dict[str, float] = {}
    source: dict[str, str] = {}  # the last to propose it
    timeout: dict[str, float | None] = {}  # the longest own limit
    for c in candidates:
        if c.prior <= 0:
            continue
        text = " ".join(c.tactic.split())
        if not text:
            continue
        prior[text] = prior.get(text, 0.0) + c.prior
        source[text] = c.source
        old = timeout.get(text)
        timeout[text] = c.timeout if old is None or (c.timeout or 0.0) > old else old
    total = sum(prior.values())
    if total <= 0:
        return []
    return [Candidate(text, p / total, source[text], timeout[text]) for text, p in prior.items()]
