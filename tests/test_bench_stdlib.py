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

    def score(proof: tuple[str, ...]) -> str:
        return stdlib_goals.score(path, stdlib_goals.written_file(path, text, proof), GOAL)

    assert score(planted) == "its proof term names Nat.add_comm"
    assert score(("intros n m.", "lia.")) == "ok"
    assert score(("intros.", "reflexivity.")).startswith("coqc rejects it")


@pytest.mark.skipif(stdlib_goals.hammer_library() is None, reason="CoqHammer is not installed")
def test_the_written_file_gains_the_import_a_coqhammer_proof_needs(tmp_path):
    path = tmp_path / "aq_fresh_0.v"
    text = GOAL.text("Require Import Arith Lia.")
    written = stdlib_goals.written_file(path, text, ("intros.", "sauto."))
    assert written.startswith("Require Import Arith Lia.\nFrom Hammer Require Import Tactics.")
    assert stdlib_goals.score(path, written, GOAL) in ("ok", "its proof term names Nat.add_comm")


def test_names_original_matches_qualified_names_only_of_that_lemma():
    assert stdlib_goals.names_original("apply Coq.Arith.PeanoNat.Nat.add_comm.", "Nat.add_comm")
    assert not stdlib_goals.names_original("apply Nat.add_comm'.", "Nat.add_comm")
    assert not stdlib_goals.names_original("apply Nat.add_commute.", "Nat.add_comm")
