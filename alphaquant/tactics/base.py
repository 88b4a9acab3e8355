"""The tactic-source contract: given a proof state and its context, propose candidates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alphaquant.provers.base import ProofState


# One proposed tactic and its unnormalised prior weight (> 0).
@dataclass(frozen=True)
class Candidate:
    tactic: str
    prior: float
    source: str = "heuristic"


# What a source may look at when it proposes: the state, the file, and what already failed here.
@dataclass(frozen=True)
class ProposalRequest:
    state: ProofState
    k: int
    language: str  # "coq" | "lean"
    file_text: str = ""
    theorem: str = ""
    failures: tuple[tuple[str, str], ...] = ()  # (tactic, prover message) tried at this state


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
        merged[text] = Candidate(text, c.prior + (old.prior if old else 0.0), c.source)
    total = sum(c.prior for c in merged.values())
    if total <= 0:
        return []
    return [Candidate(c.tactic, c.prior / total, c.source) for c in merged.values()]
