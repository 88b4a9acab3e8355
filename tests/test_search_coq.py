"""The MCTS engine end to end on a real Coq kernel: proofs, transpositions, budgets, crashes."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest

from alphaquant.config import load_settings
from alphaquant.goals import locate
from alphaquant.proof import splice, verify
from alphaquant.provers.coq.prover import CoqProver
from alphaquant.sanitize import check_tactic
from alphaquant.search.base import GoalContext, SearchConfig, SearchEvent, SearchParts
from alphaquant.search.mcts import run_search
from alphaquant.tactics.base import Candidate, ProposalRequest
from alphaquant.tactics.rules.heuristic import HeuristicSource, WeightedTactic
from tests.conftest import needs_coq

pytestmark = [pytest.mark.coq, needs_coq]

CONJ = """Lemma conj_intro : forall P Q : Prop, P -> Q -> P /\\ Q.
Proof.
Admitted.
"""


def source(*tactics: tuple[str, float]) -> HeuristicSource:
    """The given list, retrieved premises, nothing that would need an import the file lacks."""
    return HeuristicSource(
        tuple(WeightedTactic(t, w) for t, w in tactics), goal_aware_weight=0.0,
        new_imports=False,
    )


def search(tmp_path: Path, text: str, src, config: SearchConfig, on_event=None, prover=None):
    path = tmp_path / "T.v"
    path.write_text(text, encoding="utf-8")
    site = locate(text, path)[0]
    own = prover is None
    prover = prover or CoqProver(path)
    try:
        root = prover.open(site, text)
        result = run_search(
            SearchParts(prover, src, gate=lambda t: check_tactic(t, "coq")), root, config,
            GoalContext("coq", text), on_event=on_event, export_tree=True, debug=True,
        )
        return path, site, prover, result
    finally:
        if own:
            prover.close()


def test_finds_a_proof_that_needs_three_tactics_and_coqc_accepts_it(tmp_path):
    src = source(("intros.", 1.0), ("split.", 1.0), ("assumption.", 1.0), ("exfalso.", 1.0))
    path, site, _, result = search(tmp_path, CONJ, src, SearchConfig(budget_seconds=60, seed=1))
    assert result.proved, result
    assert len(result.proof) >= 3
    spliced = splice(CONJ, site, result.proof)
    with CoqProver(path) as prover:
        assert verify(prover, path, CONJ, spliced, result.proof, site.decl_start).ok


def test_same_seed_same_search(tmp_path):
    src = source(("intros.", 1.0), ("split.", 1.0), ("assumption.", 1.0), ("exfalso.", 0.5))
    config = SearchConfig(budget_seconds=60, seed=7)
    first = search(tmp_path, CONJ, src, config)[3]
    second = search(tmp_path, CONJ, src, config)[3]
    assert first.proof == second.proof
    assert [t.tactic for t in first.tried] == [t.tactic for t in second.tried]


def test_transpositions_are_merged(tmp_path):
    text = """Lemma two_intros : forall a b : nat, a + b = b + a.
Proof.
Admitted.
"""
    src = source(("intros a b.", 1.0), ("intro a.", 1.0), ("intro b.", 1.0))
    result = search(tmp_path, text, src, SearchConfig(budget_seconds=30, max_children=8))[3]
    assert not result.proved
    incoming: dict[str, int] = {}
    for edge in result.tree["edges"]:
        incoming[edge["target"]] = incoming.get(edge["target"], 0) + 1
    # `intros a b.` and `intro a. intro b.` reach one node: the tree is a DAG, not a tree.
    assert max(incoming.values()) >= 2
    goals = [n["goals"] for n in result.tree["nodes"] if n["id"] != "solved"]
    assert len(goals) == len(set(goals))
    # Each step carries its own statistics: the visits it led and their mean value.
    walked = [e for e in result.tree["edges"] if "visits" in e]
    assert walked and all(0 <= e["q"] <= 1 and 0 < e["prior"] <= 1 for e in walked)
    root = next(n for n in result.tree["nodes"] if n.get("root"))
    assert sum(e["visits"] for e in walked if e["source"] == root["id"]) <= root["visits"]


def test_expansion_budget_is_respected(tmp_path):
    text = """Lemma hard : forall n : nat, n * n + 1 <> 0 -> n = n + 0.
Proof.
Admitted.
"""
    src = source(("intros.", 1.0), ("intro H.", 1.0), ("simpl.", 1.0), ("exfalso.", 1.0),
                 ("destruct n.", 1.0), ("auto.", 0.2))
    result = search(tmp_path, text, src, SearchConfig(budget_seconds=60, max_expansions=4))[3]
    assert result.expansions <= 4
    if not result.proved:
        assert result.stop_reason in ("expansions", "exhausted")


def test_time_budget_is_respected(tmp_path):
    text = """Lemma no_way : forall n : nat, n = S n.
Proof.
Admitted.
"""
    # Each of these makes progress to a state never seen before (a new hypothesis), so the tree
    # cannot run out of candidates: only the clock can stop this search.
    src = source(("intros.", 1.0), ("assert True by exact I.", 1.0),
                 ("pose proof (eq_refl 0).", 1.0), ("simpl.", 1.0))
    config = SearchConfig(budget_seconds=4, tactic_timeout=2, max_depth=400, max_children=12,
                          premises=0)
    result = search(tmp_path, text, src, config)[3]
    assert not result.proved
    assert result.stop_reason == "time"
    assert 4 <= result.seconds <= 4 + 2 + 3  # one tactic may finish past the budget, plus grace
    assert result.expansions > 10


def test_non_terminating_tactic_is_timed_out(tmp_path):
    src = source(("do 100000000 idtac.", 10.0), ("intros.", 1.0), ("split.", 1.0),
                 ("assumption.", 1.0))
    config = SearchConfig(budget_seconds=60, tactic_timeout=1)
    _, _, _, result = search(tmp_path, CONJ, src, config)
    assert result.timeouts >= 1
    assert result.proved


def test_search_survives_coqtop_killed_mid_search(tmp_path):
    path = tmp_path / "T.v"
    path.write_text(CONJ, encoding="utf-8")
    prover = CoqProver(path)
    killed = []

    def kill_once(event: SearchEvent) -> None:
        if event.kind == "expand" and event.expansions == 2 and not killed:
            pid = prover.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    src = source(("intros.", 1.0), ("split.", 1.0), ("assumption.", 1.0), ("exfalso.", 1.0))
    try:
        result = search(tmp_path, CONJ, src, SearchConfig(budget_seconds=60), kill_once,
                        prover)[3]
        assert killed
        assert result.proved
        assert prover.restarts >= 1
        assert prover.pid not in (None, killed[0])
    finally:
        prover.close()


def test_cheating_tactics_never_yield_an_accepted_proof(tmp_path):
    cheats = ("admit.", "Admitted.", "Abort.", "reflexivity. Qed.", "exact cheat. Qed.",
              "Axiom cheat : False.", "give_up.", "intros; admit.")
    src = source(*[(c, 5.0) for c in cheats], ("intros.", 0.1))
    result = search(tmp_path, CONJ, src, SearchConfig(budget_seconds=20))[3]
    assert not result.proved
    assert sum(result.refused.values()) >= len(cheats) - 1


class Scripted:
    """A tactic source that proposes the given candidates at every state (test double of a
    model, not of the prover)."""

    def __init__(self, tactics: list[str]) -> None:
        self.tactics = tactics

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        return [Candidate(t, 1.0) for t in self.tactics]


def test_disproof_of_a_false_closed_claim(tmp_path):
    text = """Require Import Lia.
Lemma tiles_fit : forall m : nat, m <= 320 -> m * 4 <= 1000.
Proof.
Admitted.
"""
    path = tmp_path / "T.v"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(None, budget_seconds=30, offline=True)
    settings = dataclasses.replace(
        settings, tactics=dataclasses.replace(settings.tactics, learned_priors=False)
    )
    from alphaquant.runs.attempt import Goal, attempt_goal

    src = Scripted(["intros.", "lia.", "intro H.", "specialize (H 320).", "split."])
    site = locate(text, path)[0]
    with CoqProver(path) as prover:
        result, after = attempt_goal(prover, src, Goal(path, text, site), settings)
    assert result.status == "disproved", result
    assert "specialize (H 320)." in result.proof
    assert after == text  # a disproof is reported, not written into the claim


@pytest.mark.parametrize("share", [0.5, 0.0])
def test_a_rejected_tactic_backs_up_its_share_of_the_states_value(tmp_path, share):
    from alphaquant.search.grow import expand
    from alphaquant.search.running import Run
    from alphaquant.search.tree import Action, SearchTree

    path = tmp_path / "T.v"
    path.write_text(CONJ, encoding="utf-8")
    site = locate(CONJ, path)[0]
    config = SearchConfig(budget_seconds=30, failure_share=share)
    with CoqProver(path) as prover:
        root = prover.open(site, CONJ)
        tree = SearchTree(root, 0.8)
        wrong = Action("reflexivity.", 1.0)  # a conjunction under binders: Coq refuses it
        tree.node(root).actions = [wrong]
        run = Run(SearchParts(prover, source(), gate=lambda t: check_tactic(t, "coq")),
                  GoalContext("coq", CONJ), config)
        run.start(30)
        value = expand(tree, run, root, wrong)
        run.stop()
    assert wrong.failure is not None
    assert value == pytest.approx(share * 0.8)
