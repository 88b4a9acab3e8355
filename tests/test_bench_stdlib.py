"""The standard-library benchmark's scorer: coqc on the written file, and no proof that names the
original lemma, directly or through its printed term."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO, needs_coq

sys.path.insert(0, str(REPO / "bench"))
import stdlib_goals  # noqa: E402

pytestmark = [pytest.mark.coq, needs_coq]

GOAL = stdlib_goals.Goal("Arith/PeanoNat.v", "Nat.add_comm", "forall n m : nat, n + m = m + n",
                         "aq_fresh_0")


def test_a_planted_proof_through_the_original_is_rejected_and_another_is_counted(tmp_path):
    path = tmp_path / "aq_fresh_0.v"
    text = GOAL.text("Require Import Arith Lia.")
    path.write_text(text, encoding="utf-8")
    # The scorer reads the proof term as Coq prints it, not the tactics.
    planted = ("intros.", "rewrite Nat.add_comm.", "reflexivity.")
    assert stdlib_goals.score(path, text, GOAL, planted) == "its proof term names Nat.add_comm"
    assert stdlib_goals.score(path, text, GOAL, ("intros n m.", "lia.")) == "ok"
    assert stdlib_goals.score(path, text, GOAL, ("intros.", "reflexivity.")).startswith(
        "coqc rejects it")


def test_names_original_matches_qualified_names_only_of_that_lemma():
    assert stdlib_goals.names_original("apply Coq.Arith.PeanoNat.Nat.add_comm.", "Nat.add_comm")
    assert not stdlib_goals.names_original("apply Nat.add_comm'.", "Nat.add_comm")
    assert not stdlib_goals.names_original("apply Nat.add_commute.", "Nat.add_comm")
