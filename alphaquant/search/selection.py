"""Pure scoring rules for choosing which tactic to try next.

PUCT as in AlphaZero (Silver et al. 2018, "A general reinforcement learning algorithm that masters
chess, shogi and Go through self-play", Methods: "Search"):
Q(s,a) + c · P(s,a) · √N(s) / (1 + N(s,a)).
"""

from __future__ import annotations

import math


def puct_score(
    *, q: float, prior: float, parent_visits: int, visits: int, c_puct: float = 1.5
) -> float:
    """The PUCT score of one action.

    Args:
      q: mean value of the action so far (first-play value when unvisited).
      prior: the action's prior probability P(s, a).
      parent_visits: N(s), visits of the state.
      visits: N(s, a), visits of the action.
      c_puct: exploration constant.

    Returns:
      Q + c · P · √N(s) / (1 + N(s, a)).
    """
    return q + c_puct * prior * math.sqrt(max(parent_visits, 1)) / (1 + visits)


def ucb1_score(*, q: float, parent_visits: int, visits: int, c: float = math.sqrt(2)) -> float:
    """UCB1 (Auer et al. 2002): Q + c · √(ln N(s) / N(s, a)); unvisited actions score infinity."""
    if visits == 0:
        return math.inf
    return q + c * math.sqrt(math.log(max(parent_visits, 1)) / visits)


def widening_limit(*, visits: int, alpha: float = 0.5, cap: int = 8) -> int:
    """Progressive widening: how many of a state's candidates may be tried after ``visits``."""
    limit: int = math.ceil((visits + 1) ** alpha) + 1
    return max(1, min(cap, limit))
