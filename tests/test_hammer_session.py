"""CoqHammer and the domain's automation in the search session, not in the user's file: what a
proof needs is added to the written file (and said), or refused with --no-new-imports; the
first pass; the negation's time by evidence. Real Coq, real CoqHammer / Interval."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from alphaquant.config import BesideConfig, FirstPassConfig, Settings, load_settings
from alphaquant.provers.coq import requires
from alphaquant.provers.coq.prover import CoqProver
from alphaquant.provers.negation import has_constants
from alphaquant.runs.single import FileResult, SearchOptions, plan_search, search_file
from alphaquant.runs.source_file import read_source_file
from alphaquant.tactics.base import Candidate, ProposalRequest
from alphaquant.tactics.rules import automation
from tests.conftest import needs_coq

HAMMER_MISSING = "CoqHammer is not installed (apt-get install -y libcoq-hammer eprover z3 cvc4)"
needs_hammer = pytest.mark.skipif(requires.installed(requires.HAMMER) is None,
                                  reason=HAMMER_MISSING)
needs_interval = pytest.mark.skipif(
    requires.installed(requires.INTERVAL) is None,
    reason="Coq Interval is not installed (apt-get install -y libcoq-interval)")


class Scripted:
    """A tactic source that proposes the given candidates at every state (a stand-in for a
    model, not for the prover)."""

    def __init__(self, *candidates: Candidate) -> None:
        self.candidates = candidates

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        return list(self.candidates)


def settings(budget: float, *, first_pass: bool = False, new_imports: bool = True) -> Settings:
    base = load_settings(None, budget_seconds=budget, offline=True)
    return dataclasses.replace(base, new_imports=new_imports,
                               first_pass=FirstPassConfig(enabled=first_pass))


def run(tmp_path: Path, text: str, source: Scripted, config: Settings) -> FileResult:
    path = tmp_path / "T.v"
    path.write_text(text, encoding="utf-8")
    with CoqProver(path) as prover:
        return search_file(read_source_file(path), config, source, prover=prover)


SWAP = """Require Import List.

Lemma swap : forall P Q : Prop, P /\\ Q -> Q /\\ P.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
@needs_hammer
def test_a_coqhammer_tactic_adds_its_import_to_the_file_and_the_diff_shows_it(tmp_path):
    # The source offers nothing that closes it; CoqHammer's sauto, run beside the search in a
    # session that loads CoqHammer, does.
    result = run(tmp_path, SWAP, Scripted(Candidate("idtac.", 1.0)), settings(30))
    goal = result.goals[0]
    assert goal.status == "proved", goal.message
    assert goal.proof == ["sauto."]
    assert goal.adds_import == "From Hammer Require Import Tactics."
    assert goal.to_json()["adds_import"] == "From Hammer Require Import Tactics."
    # right after the file's own imports, and checked by coqc in that text
    assert result.final.startswith("Require Import List.\nFrom Hammer Require Import Tactics.\n")
    assert "+From Hammer Require Import Tactics." in result.diff


@pytest.mark.coq
@needs_coq
@needs_hammer
def test_no_new_imports_refuses_a_proof_that_needs_one(tmp_path):
    path = tmp_path / "T.v"
    path.write_text(SWAP, encoding="utf-8")
    config = dataclasses.replace(settings(10, new_imports=False),
                                 beside=BesideConfig(enabled=False))
    # a session that has CoqHammer, so that sauto closes the goal there
    with CoqProver(path, hammer_session=True) as prover:
        result = search_file(read_source_file(path), config,
                             Scripted(Candidate("sauto.", 1.0, "heuristic", 6.0)),
                             prover=prover)
    goal = result.goals[0]
    assert goal.status == "open"
    assert "new imports are refused" in goal.message, goal.message
    assert result.final == SWAP
    # and beside the search, sauto is not run at all
    assert [t for t, _ in automation.beside_tactics(SWAP, new_imports=False)] in (
        [], ["hammer."])


def test_no_new_imports_reaches_the_settings_and_the_offered_tactics(tmp_path):
    path = tmp_path / "T.v"
    path.write_text(SWAP, encoding="utf-8")
    plan = plan_search(SearchOptions(str(path), offline=True, new_imports=False))
    assert plan.settings.new_imports is False
    if requires.installed(requires.HAMMER) is not None and automation.atps():
        # the search's own session offers CoqHammer only where the file imports it
        assert automation.hammer_level(SWAP) == ""
        assert automation.hammer_level("From Hammer Require Import Tactics.\n") == "tactics"
        # beside it: sauto where the file may gain its import, then hammer
        assert [t for t, _ in automation.beside_tactics(SWAP)] == ["sauto.", "hammer."]


LENGTHS = """Require Import Arith List.

Lemma app_lengths : forall (l1 l2 : list nat), length (l1 ++ l2) = length l2 + length l1.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
@needs_hammer
@pytest.mark.skipif(not automation.atps(), reason="no external prover for hammer (eprover, z3)")
def test_hammers_premises_close_a_goal_in_a_file_without_hammer_and_add_no_import(tmp_path):
    # hammer runs beside the search, in a second session that loads CoqHammer (sauto does not
    # close this goal); the file imports nothing of CoqHammer.
    result = run(tmp_path, LENGTHS, Scripted(Candidate("idtac.", 1.0)), settings(180))
    goal = result.goals[0]
    assert goal.status == "proved", goal.message
    assert goal.adds_import == "", goal.proof
    assert "Hammer" not in result.final
    step = " ".join(goal.proof or [])
    assert "hammer" not in step and not any(
        name in requires.HAMMER.tactics for name in step.replace(";", " ").split()), step


INTERVAL = """Require Import Reals.
Open Scope R_scope.

Lemma root_two : sqrt 2 <= 3 / 2.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
@needs_interval
def test_an_interval_goal_is_closed_with_intervals_import_added(tmp_path):
    assert requires.INTERVAL.session in requires.session_loads(INTERVAL, "sqrt 2 <= 3 / 2")
    result = run(tmp_path, INTERVAL, Scripted(Candidate("intros; interval.", 1.0,
                                                        "heuristic", 10.0)), settings(40))
    goal = result.goals[0]
    assert goal.status == "proved", goal.message
    assert goal.adds_import == "From Interval Require Import Tactic."
    assert result.final.startswith("Require Import Reals.\nFrom Interval Require Import Tactic.")


FALSE_BOUND = """Require Import Reals.
Open Scope R_scope.

Lemma root_two_low : sqrt 2 <= 14 / 10.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
@needs_interval
def test_a_disproof_that_needs_an_import_loads_it_after_the_claim(tmp_path):
    # The session loads Interval for a statement about sqrt, so `interval` closes the negation
    # there. The check loads Interval after the claim, just before its negation (never above
    # it: the claim reads as in the file the user keeps), and the file is left as it was.
    result = run(tmp_path, FALSE_BOUND, Scripted(
        Candidate("apply Rlt_not_le.", 1.0), Candidate("interval.", 1.0, "heuristic", 10.0)),
        settings(20))
    goal = result.goals[0]
    assert goal.status == "disproved", goal.message
    assert goal.negation == "~ (sqrt 2 <= 14 / 10)" and "interval." in (goal.proof or [])
    assert result.final == FALSE_BOUND


def test_a_disproofs_import_goes_after_the_claim_and_names_it_by_an_alias():
    from alphaquant.provers.coq.trust import _probe

    line = "From Interval Require Import Tactic."
    probe = _probe(FALSE_BOUND, FALSE_BOUND.index("Lemma"), (), ("interval.",), (line,))
    assert probe is not None
    text = probe.text
    claim, imported = text.index("Lemma root_two_low"), text.index(line)
    negation = text.index(f"Lemma aq_negation_{probe.token}")
    assert claim < imported < negation
    alias = f"Definition aq_target_{probe.token} := root_two_low."
    assert claim < text.index(alias) < imported
    assert "type of root_two_low" not in text  # stated through the alias only
    assert probe.twin.index(line) < probe.twin.index(f"Lemma aq_negation_{probe.token}")


def test_domain_closers_are_offered_where_the_goal_is_a_real_bound():
    from alphaquant.provers.base import ProofState, Subgoal

    bound = ProofState((Subgoal((), "sqrt 2 <= 3 / 2"),), 0)
    texts = [t for t, _, _ in automation.domain(bound, INTERVAL)]
    assert "intros; field_simplify; nra." in texts
    if requires.installed(requires.INTERVAL) is not None:
        assert "intros; interval." in texts
        assert "intros; interval." not in [t for t, _, _ in automation.domain(
            bound, INTERVAL, new_imports=False)]
    lists = ProofState((Subgoal((), "length (l ++ m) = length m + length l"),), 0)
    assert automation.domain(lists, LENGTHS) == []


def test_an_import_goes_after_the_files_own_imports():
    text = "(* c *)\nRequire Import Reals.\nFrom Coq Require Import Lia.\n\nOpen Scope R_scope.\n"
    added, shift = requires.add_imports(text, ("From Gappa Require Import Gappa_tactic.",))
    assert added == ("(* c *)\nRequire Import Reals.\nFrom Coq Require Import Lia.\n"
                     "From Gappa Require Import Gappa_tactic.\n\nOpen Scope R_scope.\n")
    assert shift == len("\nFrom Gappa Require Import Gappa_tactic.")
    assert requires.needed(["intros; hauto use: f."], text) == (
        "From Hammer Require Import Tactics.",)
    assert requires.needed(["intros; hauto use: f."],
                           text + "From Hammer Require Import Hammer.\n") == ()
    assert requires.needed(["eauto using sauto_lemma.", "lia."], text) == ()


def test_hammers_reconstruction_becomes_import_free_steps_first():
    from alphaquant.provers.coq.hammer import import_free_tries

    tries = import_free_tries("hauto use: Nat.add_comm, app_length unfold: sum.")
    assert tries[0] == "intros; unfold sum in *; eauto using Nat.add_comm, app_length."
    assert "intros; unfold sum in *; try rewrite Nat.add_comm; try rewrite app_length; lia." \
        in tries
    assert requires.needed(tries, "") == ()
    assert import_free_tries("sauto.") == []


def test_the_negation_gets_time_only_for_statements_with_constants():
    assert has_constants("Lemma fits : forall m : nat, m <= 320 -> m * 4 <= 1000")
    assert has_constants("Theorem half : forall x, Rabs x <= s / 2")
    assert has_constants("Theorem lat : t <= 0.24e-3")
    assert not has_constants("Lemma aq_Zeven_3 : forall n m : nat, n + m = m + n")
    assert not has_constants("Lemma z : forall x, x + 0 = x /\\ 1 * x = x")


@pytest.mark.coq
@needs_coq
def test_a_true_goal_of_laws_alone_gives_the_negation_no_time(tmp_path):
    from alphaquant.runs.attempt import Goal, attempt_goal
    from alphaquant.sites.site import GoalSite  # noqa: F401 - the located site below

    text = SWAP.replace("Require Import List.\n\n", "")
    path = tmp_path / "T.v"
    path.write_text(text, encoding="utf-8")
    site = read_source_file(path).sites[0]
    source = Scripted(*(Candidate(t, 1.0) for t in ("intros.", "destruct H.", "split.",
                                                    "assumption.")))
    with CoqProver(path) as prover:
        result, _ = attempt_goal(prover, source, Goal(path, text, site), settings(20))
    assert result.status == "proved", result.message
    assert set(result.trees) == {"prove"}  # no probe, no disproof search
    # a statement with a constant gets the probe first
    bounded = ("Require Import Lia.\nLemma b : forall m : nat, m <= 3 -> m <= 5.\n"
               "Proof.\nAdmitted.\n")
    path.write_text(bounded, encoding="utf-8")
    site = read_source_file(path).sites[0]
    with CoqProver(path) as prover:
        result, _ = attempt_goal(prover, Scripted(Candidate("intros.", 1.0),
                                                  Candidate("lia.", 1.0)),
                                 Goal(path, bounded, site), settings(20))
    assert result.status == "proved", result.message
    assert "probe" in result.trees


@pytest.mark.coq
@needs_coq
def test_the_first_pass_closes_an_easy_goal_before_any_search(tmp_path):
    text = ("Require Import Reals Lra.\nOpen Scope R_scope.\n\n"
            "Lemma apart : forall r1 r2, r1 < r2 \\/ r1 > r2 -> r1 <> r2.\nProof.\nAdmitted.\n")
    result = run(tmp_path, text, Scripted(Candidate("intros.", 1.0)),
                 settings(30, first_pass=True))
    goal = result.goals[0]
    assert goal.status == "proved", goal.message
    assert goal.proof == ["intros; lra."]
    assert goal.nodes == 0  # no search tree was grown
