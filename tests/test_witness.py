"""Counterexample witnesses: the grid of values a universal hypothesis is instantiated at, the
values built by a record's own constructor, and the candidate at the statement's boundary. On
real Coq: a false claim that only a boundary witness refutes, and a bound on a clamped code cast
to a real, proved through the clamp's stated bound."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from alphaquant.config import load_settings
from alphaquant.goals import locate
from alphaquant.provers.coq.prover import CoqProver
from alphaquant.runs.attempt import Goal, GoalResult, attempt_goal
from alphaquant.tactics.factory import heuristic_source
from alphaquant.tactics.rules import witness
from tests.conftest import needs_coq

RECORDS = """Record Box := mkBox {
  side : R;
  depth : nat;
  side_pos : 0 < side
}.
Definition box_of (s : R) (h : 0 < s) : Box := mkBox s 4 h.
Record Pair := mkPair { left_code : Z; right_code : Z }.
"""


def test_a_records_own_constructor_builds_a_witness_with_its_side_condition_at_one():
    candidates = [c for c, _ in witness.specialize_candidates(
        "H", "forall (x : R) (p : Pair), x <= 3", RECORDS)]
    assert candidates, candidates
    assert all("(mkPair 1%Z " in c for c in candidates), candidates
    built = witness.constructors(RECORDS)["Box"]
    assert [name for name, _ in built] == ["box_of", "mkBox"]
    assert built[1][1] == [("side", "R"), ("depth", "nat"), ("side_pos", "0 < side")]


def test_the_boundary_witness_takes_the_statements_power_and_the_constructor_with_most_numbers():
    typ = ("forall (n : nat) (f : nat -> R) (b : Box) (i : nat), (Z.of_nat n <= 8192)%Z -> "
           "(Rfloor_like (f i) * Z.of_nat (depth b) < 2 ^ 20)%Z")
    weighted = witness.specialize_candidates("H", typ, RECORDS)
    candidates = [c for c, _ in weighted]
    assert candidates[0] == ("specialize (H 1%nat (fun _ => IZR (2 ^ 20)) "
                             "(mkBox 1%R 20%nat Rlt_0_1) 1%nat).")
    # The statement's own values weigh more than the grid's.
    assert weighted[0][1] > max(w for _, w in weighted[1:])
    # The grid still follows, built with the file's definition; a natural bound above what Coq
    # keeps concrete (8192) is not a grid value, and `i < 2 ^ 20` does not bound i.
    rest = candidates[1:]
    assert rest and all("(box_of 1%R Rlt_0_1)" in c for c in rest), rest
    assert not any("8192" in c for c in candidates)
    assert not any(c.endswith(" 19%nat).") for c in candidates)


def test_no_boundary_candidate_without_a_power_in_the_statement():
    candidates = witness.specialize_candidates("H", "forall (x : R) (b : Box), x <= 3", RECORDS)
    assert candidates and not any("IZR" in c for c, _ in candidates)
    assert {w for _, w in candidates} == {1.0}


def attempt_offline(path: Path, text: str, budget: float) -> tuple[GoalResult, str]:
    """The file's one goal attempted as `alphaquant search --offline` would, on real Coq."""
    path.write_text(text, encoding="utf-8")
    settings = load_settings(None, budget_seconds=budget, offline=True)
    settings = dataclasses.replace(
        settings, tactics=dataclasses.replace(settings.tactics, learned_priors=False))
    with CoqProver(path) as prover:
        return attempt_goal(prover, heuristic_source(settings, "coq"),
                            Goal(path, text, locate(text, path)[0]), settings)


@needs_coq
def test_a_false_bound_is_disproved_by_the_witness_at_its_boundary(tmp_path):
    # Every grid value (0, 1, 100, constant functions 0 and 1) satisfies the claim; only values
    # of the size the statement names refute it.
    text = """From Coq Require Import ZArith Lia.
Local Open Scope Z_scope.
Record Gain := mkGain { bits : nat; offset : Z }.
Definition amplified (g : Gain) (f : nat -> Z) (i : nat) : Z :=
  f i * 2 ^ Z.of_nat (bits g) + offset g.
Theorem amplified_small : forall (g : Gain) (f : nat -> Z) (i : nat),
  amplified g f i < 2 ^ 12.
Proof.
Admitted.
"""
    result, after = attempt_offline(tmp_path / "Gain.v", text, budget=60)
    assert result.status == "disproved", result
    assert any("2 ^ 12" in step for step in result.proof), result.proof
    assert after == text


@needs_coq
def test_a_false_bound_on_a_clamped_code_cast_to_a_real_is_disproved_through_the_clamp(tmp_path):
    # At every witness the code stays opaque (Int_part does not compute): only the clamp's
    # range, stated on the real side, shows that twice the code never reaches 10.
    text = """From Coq Require Import Reals ZArith Lra Lia.
Local Open Scope R_scope.
Theorem clamped_cast_reaches : forall x : R, 10 <= 2 * IZR (Z.max (-4) (Z.min (Int_part x) 3)).
Proof.
Admitted.
"""
    result, _ = attempt_offline(tmp_path / "Clamp.v", text, budget=30)
    assert result.status == "disproved", result
    assert any("IZR_le" in step for step in result.proof), result.proof


def test_a_natural_valued_function_at_the_boundary_takes_the_small_number_not_the_power():
    typ = "forall (f : nat -> nat) (g : nat -> Z), (Z.of_nat (f 0) + g 0 < 2 ^ 10)%Z"
    first, _ = witness.specialize_candidates("H", typ, "")[0]
    assert first == "specialize (H (fun _ => 10%nat) (fun _ => (2 ^ 10)%Z))."
