"""The same MCTS that runs on Coq, run over Lean proof states answered by the replay REPL."""

from __future__ import annotations

import sys
from pathlib import Path

from alphaquant.goals import locate
from alphaquant.sanitize import check_tactic
from alphaquant.search.base import GoalContext, SearchConfig, SearchParts
from alphaquant.search.mcts import run_search
from alphaquant.tactics.rules.heuristic import HeuristicSource, WeightedTactic

sys.path.insert(0, str(Path(__file__).parent))
from lean_replay import replay_prover  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEXT = "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry"


def test_mcts_over_replayed_lean_states_finds_the_recorded_proof():
    prover = replay_prover("proof_branching")
    source = HeuristicSource(
        tuple(WeightedTactic(t, w) for t, w in [
            ("simp", 2.0), ("apply And.intro", 1.0), ("exact h1.left", 1.0),
            ("apply h2", 1.0), ("exact h1.right", 1.0), ("sorry", 5.0), ("native_decide", 5.0),
        ]),
        goal_aware_weight=0.0,
    )
    site = locate(TEXT, Path("T.lean"))[0]
    try:
        root = prover.open(site, TEXT)
        assert "p ∧ r" in root.goals[0].conclusion
        result = run_search(
            SearchParts(prover, source, gate=lambda t: check_tactic(t, "lean")), root,
            SearchConfig(budget_seconds=60, seed=0), GoalContext("lean", TEXT), debug=True,
        )
    finally:
        prover.close()
    assert result.proved, result
    assert result.proof == ("apply And.intro", "exact h1.left", "apply h2", "exact h1.right")
    assert set(result.refused) == {"forbidden: sorry", "forbidden: native_decide"}
    assert result.errors >= 1  # `simp` has no recorded answer: a tactic error, not a node
