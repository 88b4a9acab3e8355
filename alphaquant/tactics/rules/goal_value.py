"""How near a state's goals are to what is already known, read from their text.

A goal is within reach when a hypothesis or a proved lemma of the file could conclude it: the
same head symbol and relation, and every constant of that conclusion among the goal's (``Rabs
(a * w - a' * w') <= e * (2 + e)`` for a goal ``Rabs (f l * g l - …) <= …``). The search's value
of a state is scaled by the share of its goals within reach (search/value.py ``scaled``, wired in
runs/attempt.py).

Decision: a goal size alone rated the states below a decomposition (``-B <= x <= B`` from an
absolute value, where almost every tactic is accepted and nothing in the file concludes the
goals) as high as the states below the lemma that fits; the visits went to the former. The
factor is mild (0.7 for a state none of whose goals is within reach) so that a goal the file
says nothing about is still searched.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from alphaquant.provers.base import ProofState, Subgoal
from alphaquant.tactics.rules.statements import (
    QUALIFIED,
    conclusion_shape,
    conclusion_symbols,
    hypothesis_names,
    lemma_conclusion,
    proved_lemmas,
)

OUT_OF_REACH = 0.7  # the factor of a state none of whose goals is within reach

Known = list[tuple[tuple[str, str], frozenset[str]]]  # (head, relation), constants


def reach(language: str, file_text: str) -> Callable[[ProofState], float]:
    """The factor in [OUT_OF_REACH, 1] of a state: 1 when every goal is within reach of a
    hypothesis or of a lemma the file proves (and for a state with no goals). Coq only: for
    Lean the factor is 1."""
    if language != "coq":
        return lambda state: 1.0
    known = [(conclusion_shape(lemma_conclusion(statement)), conclusion_symbols(statement))
             for _, statement in proved_lemmas(file_text)]

    def factor(state: ProofState) -> float:
        if not state.goals:
            return 1.0
        met = sum(within_reach(goal, known) for goal in state.goals)
        return OUT_OF_REACH + (1.0 - OUT_OF_REACH) * met / len(state.goals)

    return factor


def within_reach(goal: Subgoal, known: Known) -> bool:
    """Whether a hypothesis of the goal or one of ``known`` has its head symbol and relation
    and names no constant the goal does not."""
    shape = conclusion_shape(goal.conclusion)
    if not shape[0]:
        return False
    present = set(QUALIFIED.findall(re.sub(r"%\w+", "", goal.conclusion)))
    facts = [(conclusion_shape(lemma_conclusion(typ)), conclusion_symbols(typ))
             for _, typ in hypothesis_names(goal)]
    return any(s == shape and symbols <= present for s, symbols in [*facts, *known])
