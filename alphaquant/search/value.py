"""Value estimates of a newly reached proof state, in [0, 1]."""

from __future__ import annotations

from collections.abc import Callable

from alphaquant.provers.base import ProofState


def goal_size_value(
    state: ProofState, *, per_goal: float = 0.05, per_kilochar: float = 0.25,
    per_step: float = 0.95,
) -> float:
    """Smaller open goals, fewer steps from the root, are worth more:
    per_step^depth / (1 + a·(goals - 1) + b·chars/1000), chars those of the largest goal.

    A state is as hard as its hardest goal, as a product node is (search/tree.py: its value is
    its hardest goal's), with a small penalty per goal beyond the first. Decision: with the
    goals' total size and a large per-goal penalty (0.35), a step that leaves goals joined by an
    existential variable (``eapply Z.le_lt_trans``, then the lemma that fixes it), which cannot
    be split, was worth about two thirds of a step that splits into goals of the same size:
    the one path to a proof lost to rewrites that only produced more goals.

    The discount per step is what makes a long dive that keeps producing states without
    closing any look worse, as it goes, than a fresh candidate near the root (whose first-play
    value is its parent's): progress that changes the goal is not progress toward a proof.

    Args:
      state: the state to estimate.
      per_goal: penalty per open goal beyond the first.
      per_kilochar: penalty per thousand characters of the largest goal's text.
      per_step: the factor per tactic on the state's path.

    Returns:
      A value in (0, 1); a state with no goals is worth 1.
    """
    if not state.goals:
        return 1.0
    chars = max(len(g.conclusion) + sum(len(h) for h in g.hypotheses) for g in state.goals)
    size = 1.0 + per_goal * (len(state.goals) - 1) + per_kilochar * chars / 1000.0
    return per_step ** len(state.path) / size


def scaled(evaluator: Callable[[ProofState], float],
           factor: Callable[[ProofState], float]) -> Callable[[ProofState], float]:
    """``evaluator`` times ``factor``: a goal-aware correction (tactics/rules/goal_value.py) of a
    value that knows no prover's syntax."""
    return lambda state: evaluator(state) * factor(state)
