"""Suggestions from the nearest recorded states: what finished proofs did at states like this one.

At a state, the index (index.py) gives the k recorded states most similar to its focused goal;
each one's tactic becomes a candidate, its hypothesis names adapted to this state (adapt), with
a prior that sums the squared similarities of the neighbours suggesting the same text. The
``candidates`` heaviest are kept, their priors scaled to sum to the best similarity squared
(WithLearned adds them to another source's at that absolute mass). Tactics naming a lemma this
file leaves unproved are dropped, as the heuristic source does. The source reads no syntax of
the search's and asks nothing of the prover: a text in, a list of candidates out.
"""

from __future__ import annotations

import logging
import re

from alphaquant.tactics.base import Candidate, ProposalRequest, TacticSource, normalise
from alphaquant.tactics.learned.features import hypothesis_names, hypothesis_type
from alphaquant.tactics.learned.index import LearnedIndex
from alphaquant.tactics.rules import statements

log = logging.getLogger(__name__)

# ``fix``/``cofix`` make the goal's own lemma a hypothesis: tactic mode accepts any use of it,
# the kernel's guard check refuses most at Qed (a learned ``fix f 1. apply f.`` "proved" a
# benchmark goal that coqc then refused).
_RECURSION = re.compile(r"\s*(?:fix|cofix)\b")
_IDENT = re.compile(r"(?<![\w'.])[A-Za-z_][\w']*(?![\w']|\.[\w'])")


def _declared(hypotheses: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, type) of every name the hypotheses declare, in order."""
    return [(n, " ".join(hypothesis_type(h).split())) for h in hypotheses
            for n in hypothesis_names(h)]


def _shape(text: str, names: dict[str, str]) -> str:
    return _IDENT.sub(lambda m: names.get(m.group(0), m.group(0)), text)


def adapt(tactic: str, recorded: tuple[str, ...], current: tuple[str, ...]) -> str | None:
    """``tactic``, written at a state with ``recorded`` hypotheses, for a state with
    ``current`` ones: each recorded name it mentions becomes the current name of the same type
    (variables renamed alike), else the one at the same position among names of the same kind,
    else the tactic is dropped (None). Names the tactic introduces itself are left as written.
    """
    old = _declared(recorded)
    new = _declared(current)
    old_names = {n for n, _ in old}
    used = [m.group(0) for m in _IDENT.finditer(tactic) if m.group(0) in old_names]
    if not used:
        return tactic
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    # variables first (their types mention no hypothesis), by exact type then position
    new_by_type: dict[str, list[str]] = {}
    for n, t in new:
        new_by_type.setdefault(t, []).append(n)
    for n, t in old:
        same = [m for m in new_by_type.get(t, []) if m not in taken]
        if same:
            mapping[n] = same[0]
            taken.add(same[0])
    # hypotheses whose types match once variables are renamed
    for n, t in old:
        if n in mapping:
            continue
        shaped = _shape(t, mapping)
        same = [m for m in new_by_type.get(shaped, []) if m not in taken]
        if same:
            mapping[n] = same[0]
            taken.add(same[0])
    # by position, among the names not matched yet
    rest_old = [n for n, _ in old if n not in mapping]
    rest_new = [n for n, _ in new if n not in taken]
    for n, m in zip(rest_old, rest_new, strict=False):
        mapping[n] = m
    if any(u not in mapping for u in used):
        return None
    return _IDENT.sub(lambda m: mapping.get(m.group(0), m.group(0)), tactic)


class LearnedSource:
    """Tactics of the nearest recorded states, as candidates (source "learned")."""

    def __init__(self, index: LearnedIndex, language: str = "coq", *, neighbours: int = 24,
                 candidates: int = 8) -> None:
        self.index = index
        self.language = language
        self.neighbours = neighbours
        self.candidates = candidates

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        if request.language != self.language or not request.state.goals:
            return []
        goal = request.state.goals[0]
        found = self.index.nearest(goal.hypotheses, goal.conclusion,
                                   self.neighbours * (1 + request.round))
        weight: dict[str, float] = {}
        unproved = (statements.unproved_names(request.file_text)
                    if request.language == "coq" else frozenset())
        for n in found:
            if _RECURSION.match(n.step.tactic) or (
                    n.step.theorem and n.step.theorem in _IDENT.findall(n.step.tactic)):
                continue  # recursion, or the recorded lemma naming itself: that proof's alone
            text = adapt(n.step.tactic, n.step.hypotheses, goal.hypotheses)
            if text is None or (unproved and statements.names_any(text, unproved)):
                continue
            text = " ".join(text.split())
            weight[text] = weight.get(text, 0.0) + n.similarity ** 2
        best = sorted(weight.items(), key=lambda kv: -kv[1])
        best = best[: self.candidates * (1 + request.round)]
        total = sum(w for _, w in best)
        if total <= 0:
            return []
        # the priors sum to the best similarity squared: far neighbours suggest little
        scale = max(n.similarity for n in found) ** 2 / total
        return [Candidate(t, w * scale, "learned") for t, w in best]


class WithLearned:
    """A source and the learned suggestions as one distribution: the source's priors
    normalised to 1, the learned ones added at ``weight`` times their own sum (the best
    neighbour's similarity squared, so states unlike anything recorded get little from the
    corpus), a text both propose one candidate (``normalise``: weights summed, the longest own
    time limit kept), highest prior first."""

    def __init__(self, base: TacticSource, learned: LearnedSource, weight: float) -> None:
        self.base = base
        self.learned = learned
        self.weight = weight

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        own = normalise(self.base.propose(request))
        extra = [Candidate(c.tactic, c.prior * self.weight, c.source, c.timeout)
                 for c in self.learned.propose(request)]
        return sorted(normalise(own + extra), key=lambda c: -c.prior)
