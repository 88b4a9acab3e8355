"""Suggestions from the nearest recorded states: what finished proofs did at states like this one.

At a state, the index (index.py) gives the k recorded states most similar to its focused goal;
each one's tactic becomes a candidate, its hypothesis names adapted to this state (adapt), with
a prior that sums the squared similarities of the neighbours suggesting the same text. The
``candidates`` heaviest are kept, their priors scaled to sum to the best similarity squared
(WithLearned adds them to another source's at that absolute mass). Tactics naming a lemma this
file leaves unproved, or one ``--avoid`` forbids, are dropped, as the heuristic source does, and
so are the steps whose text shows they cannot apply here or only rename (fits). The source
reads no syntax of the search's and asks nothing of the prover: a text in, a list of candidates
out.
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
# a type that is a proposition, as printed: a relation, a connective or a quantifier (an arrow
# alone is not one: ``f : A -> B`` is a variable)
_PROPOSITION = re.compile(r"<->|<=|>=|<>|/\\|\\/|==|(?<![<>:])=(?!>)|<(?![-=>])|(?<![-=<])>|~"
                          r"|\b(?:forall|exists|True|False)\b|[∀∃¬∧∨≤≥≠↔]")


def _declared(hypotheses: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, type) of every name the hypotheses declare, in order."""
    return [(n, " ".join(hypothesis_type(h).split())) for h in hypotheses
            for n in hypothesis_names(h)]


def _shape(text: str, names: dict[str, str]) -> str:
    return _IDENT.sub(lambda m: names.get(m.group(0), m.group(0)), text)


def _kind(type_text: str) -> str:
    """What a name may stand in for by position: any proposition (a relation, a connective, a
    quantifier) for another, else only a name whose type has the same head (``x : R`` is never
    renamed to ``n : nat`` nor to ``H : 0 <= a``)."""
    if _PROPOSITION.search(type_text):
        return "Prop"
    head = _IDENT.search(type_text)
    return head.group(0) if head else type_text


def adapt(tactic: str, recorded: tuple[str, ...], current: tuple[str, ...]) -> str | None:
    """``tactic``, written at a state with ``recorded`` hypotheses, for a state with
    ``current`` ones: each recorded name it mentions keeps its name where the current state
    declares it with the same type, else becomes the current name of the same type (variables
    renamed alike), else the one at the same position among names of the same kind (_kind),
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
    new_by_type: dict[str, list[str]] = {}
    for n, t in new:
        new_by_type.setdefault(t, []).append(n)
    # the same name with the same type: nothing to rename
    for n, t in old:
        if n in new_by_type.get(t, ()):
            mapping[n] = n
            taken.add(n)
    # variables (their types mention no hypothesis), by exact type
    for n, t in old:
        if n in mapping:
            continue
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
    # by position, among the names not matched yet, of the same kind
    rest_new: dict[str, list[str]] = {}
    for n, t in new:
        if n not in taken:
            rest_new.setdefault(_kind(t), []).append(n)
    for n, t in old:
        if n not in mapping and rest_new.get(_kind(t)):
            mapping[n] = rest_new[_kind(t)].pop(0)
    if any(u not in mapping for u in used):
        return None
    return _IDENT.sub(lambda m: mapping.get(m.group(0), m.group(0)), tactic)


# ``intros x y.``: names only, what the heuristics' ``intros.`` does up to names (its state is
# the same but for them: a second child that only renames)
_PLAIN_INTROS = re.compile(r"\s*intros?(?:\s+[A-Za-z_][\w']*)*\s*\.?\s*$")
_INTRO_HEAD = re.compile(r"\s*intros?\b([^;.]*)")
# a conclusion whose top level is a relation or connective and no arrow: no intro applies
_TOP_RELATION = re.compile(r"<->|<=|>=|<>|/\\|\\/|==|(?<![<>:])=(?!>)|<(?![-=>])|(?<![-=<])>")


def _top_level(text: str) -> str:
    """``text`` with everything inside parentheses or brackets left out."""
    out, depth = [], 0
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(c)
    return "".join(out)


def fits(tactic: str, hypotheses: tuple[str, ...], conclusion: str) -> bool:
    """Whether a learned step can apply here, as far as its text shows: not an ``intros`` that
    only names (the heuristics' ``intros.`` gives that state), nor an intro where the
    conclusion is a relation with no arrow (no product to introduce), nor one naming a variable
    this state already declares ("x is already used")."""
    if _PLAIN_INTROS.match(tactic):
        return False
    head = _INTRO_HEAD.match(tactic)
    if head is None:
        return True
    top = _top_level(" ".join(conclusion.split()))
    if (_TOP_RELATION.search(top) and not re.search(r"(?<!<)->|→", top)
            and not re.match(r"\s*(?:forall|∀|~|¬)", top)):
        return False
    declared = {n for h in hypotheses for n in hypothesis_names(h)}
    introduced = {m.group(0) for m in _IDENT.finditer(head.group(1))
                  if head.group(1)[max(0, m.start() - 1)] != "?"}
    return not introduced & declared


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
        # --avoid: a step naming an avoided lemma would only be refused at the end (qualified
        # or not, matched by its last part, as the heuristic source does)
        unproved |= frozenset(a.rsplit(".", 1)[-1] for a in request.avoid)
        for n in found:
            if _RECURSION.match(n.step.tactic) or (
                    n.step.theorem and n.step.theorem in _IDENT.findall(n.step.tactic)):
                continue  # recursion, or the recorded lemma naming itself: that proof's alone
            text = adapt(n.step.tactic, n.step.hypotheses, goal.hypotheses)
            if text is None or (unproved and statements.names_any(text, unproved)) or not fits(
                    text, goal.hypotheses, goal.conclusion):
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
