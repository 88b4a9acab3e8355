"""Written proofs keep the search's structure: a Script per goal a step left, read off the goal
lists the prover answered, and the one assembler per language that writes bullets and dots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alphaquant.errors import InputError
from alphaquant.goals import locate
from alphaquant.proof import coq_bullets_in_use, disproof_lemma, one_line, splice
from alphaquant.provers.base import ProofState, Subgoal
from alphaquant.runs.source_file import located
from alphaquant.sanitize import check_tactic
from alphaquant.script import Script, coq_bullets, indent_unit
from alphaquant.search.tree import Action, SearchTree, Status
from tests.conftest import needs_coq, run_cli, write_config

REPO = Path(__file__).resolve().parents[1]


def state(*conclusions: str, hyps: tuple[str, ...] = ()) -> ProofState:
    """A state as coqtop prints it: hypotheses for the first goal only."""
    goals = [Subgoal(hyps if i == 0 else (), c) for i, c in enumerate(conclusions)]
    return ProofState(tuple(goals))


def chain(tree: SearchTree, steps: list[tuple[ProofState, str, ProofState | None]]) -> None:
    """Link each (state, tactic, next state or None for solved) as the one proved step."""
    for at, tactic, to in steps:
        action = Action(tactic, 1.0)
        tree.node(at).actions = [action]
        if to is None:
            tree.add_solved(at, action)
        else:
            tree.add_child(at, action, to, 0.5)


# --- the script, from the goal counts ---------------------------------------------------------


def test_a_flat_search_path_gets_one_script_per_goal_each_step_left():
    root = state("forall b n, P b n /\\ Q n")
    a = state("P b n /\\ Q n", hyps=("b : bool",))
    b = state("P b n", "Q n", hyps=("b : bool",))
    c = state("P true n", "P false n", "Q n")  # destruct b. left two goals of the first
    d = state("P false n", "Q n")
    e = state("Q n")
    tree = SearchTree(root, 0.5)
    chain(tree, [(root, "intros.", a), (a, "split.", b), (b, "destruct b.", c),
                 (c, "lia.", d), (d, "lia.", e), (e, "lia.", None)])
    assert tree.status(root) is Status.PROVED
    script = tree.script()
    assert script == Script(("intros.", "split."), (
        Script(("destruct b.",), (Script(("lia.",)), Script(("lia.",)))),
        Script(("lia.",)),
    ))
    # Flat, it is the path the search ran, each tactic on the first goal left.
    assert tree.proof() == script.tactics() == (
        "intros.", "split.", "destruct b.", "lia.", "lia.", "lia.")


def test_a_product_node_gives_each_goal_its_script_in_goal_order():
    root = state("A /\\ B")
    both = state("A", "B")
    left, right = state("A"), state("B")
    tree = SearchTree(root, 0.5)
    chain(tree, [(root, "split.", both)])
    tree.add_product(both, [left, right], [0.5, 0.5])
    chain(tree, [(right, "b.", None), (left, "intro.", state("A'")), (state("A'"), "a.", None)])
    assert tree.script() == Script(("split.",), (Script(("intro.", "a.")), Script(("b.",))))


def test_a_product_below_goals_of_two_levels_fills_each_level():
    # split. leaves [A, B]; on A, split. again leaves [A1, A2, B]: a product of the three.
    root = state("(A1 /\\ A2) /\\ B")
    ab = state("A1 /\\ A2", "B")
    three = state("A1", "A2", "B")
    parts = [state("A1"), state("A2"), state("B")]
    tree = SearchTree(root, 0.5)
    chain(tree, [(root, "split.", ab), (ab, "split.", three)])
    tree.add_product(three, parts, [0.5] * 3)
    chain(tree, [(p, t, None) for p, t in zip(parts, ("a1.", "a2.", "b."), strict=True)])
    assert tree.script() == Script(("split.",), (
        Script(("split.",), (Script(("a1.",)), Script(("a2.",)))),
        Script(("b.",)),
    ))


def test_a_step_that_changes_the_other_goals_keeps_that_proof_flat_and_says_so():
    # eapply leaves two goals sharing ?r; closing the first instantiates ?r in the second: the
    # goal lists no longer say which goals came from which step.
    root = state("a <= c")
    two = state("a <= ?r", "?r <= c")
    one = state("b <= c")
    tree = SearchTree(root, 0.5)
    chain(tree, [(root, "eapply Rle_trans.", two), (two, "apply H.", one),
                 (one, "exact H0.", None)])
    script = tree.script()
    assert script.steps == ("eapply Rle_trans.", "apply H.", "exact H0.")
    assert not script.goals and "existential variables" in script.flat
    assert script.notes() == (script.flat,)


def test_a_step_that_closes_more_goals_than_its_own_keeps_the_proof_flat():
    root = state("A /\\ B")
    both = state("A", "B")
    tree = SearchTree(root, 0.5)
    chain(tree, [(root, "split.", both), (both, "all: auto.", None)])
    script = tree.script()
    assert script.steps == ("split.", "all: auto.") and not script.goals and script.flat


def test_the_script_round_trips_through_json_and_the_batch_writes_the_stored_one():
    from alphaquant.runs.write_back import written

    script = Script(("split.",), (Script(("lia.",)), Script(("a.", "b."), flat="why")))
    assert Script.from_json(script.to_json()) == script
    assert Script.of(["a.", "b."]) == Script(("a.", "b."))
    item = {"proof": list(script.tactics()), "script": script.to_json()}
    assert written(item) == script
    assert written({"proof": ["a.", "b."]}) == Script(("a.", "b."))  # stored before scripts


# --- the Coq assembler --------------------------------------------------------------------------

NESTED = Script(("intros.", "split."), (
    Script(("lra.",)),
    Script(("destruct x.",), (Script(("auto.",)), Script(("simpl.", "auto.")))),
))


def test_coq_admitted_alone_becomes_bulleted_lines_in_the_files_indentation():
    text = ("Lemma other : True.\nProof.\n    exact I.\nQed.\n\n"
            "Lemma t : P.\nProof.\nAdmitted.\n")
    site = locate(text, Path("T.v"))[0]
    assert indent_unit(text) == "    "
    assert splice(text, site, NESTED).endswith(
        "Proof.\n"
        "    intros.\n"
        "    split.\n"
        "    - lra.\n"
        "    - destruct x.\n"
        "      + auto.\n"
        "      + simpl.\n"
        "        auto.\n"
        "Qed.\n")


def test_a_comments_continuation_lines_are_not_the_files_indentation():
    # two-space code under doc comments whose lines are indented four (as coq_project writes)
    text = ("(** A claim about tiles:\n    it fits.\n    Really. *)\n"
            "Lemma t : forall n : nat,\n  n = n.\nProof.\nAdmitted.\n")
    site = locate(text, Path("T.v"))[0]
    assert indent_unit(text) == "    "  # what a line-by-line reading sees
    assert splice(text, site, ("intros.", "reflexivity.")).endswith(
        "Proof.\n  intros.\n  reflexivity.\nQed.\n")


def test_coq_proof_admitted_on_one_line_is_broken_into_lines_unless_one_tactic():
    text = "Lemma t : P.\nProof. Admitted.\n"
    site = locate(text, Path("T.v"))[0]
    assert splice(text, site, Script(("split.",), (Script(("a.",)), Script(("b.",))))) == (
        "Lemma t : P.\nProof.\n  split.\n  - a.\n  - b.\nQed.\n")
    assert splice(text, site, ("lia.",)) == "Lemma t : P.\nProof. lia. Qed.\n"


def test_coq_admit_after_a_bullet_reads_as_a_bullet_with_bullets_not_in_use():
    text = ("Lemma t : P /\\ Q.\nProof.\n  split.\n  - admit.\n  - split.\n"
            "    + exact I.\n    + admit.\nAdmitted.\n")
    first, second, _ = locate(text, Path("T.v"))
    assert coq_bullets_in_use(text, first.decl_start, second.start) == {"-", "+"}
    two = Script(("split.",), (Script(("a.",)), Script(("b.",))))
    assert "  - split.\n    + a.\n    + b.\n  - split." in splice(text, first, two)
    written = splice(text, second, two)
    assert "    + split.\n      * a.\n      * b.\nAdmitted." in written
    assert splice(text, first, ("ring.",)).startswith(
        "Lemma t : P /\\ Q.\nProof.\n  split.\n  - ring.\n")  # not `- { ring. }`


def test_coq_admit_not_focused_by_a_bullet_goes_in_braces_where_bullets_start_again():
    text = "Lemma t : P /\\ Q.\nProof.\n  split.\n  admit.\n  exact I.\nAdmitted.\n"
    site = locate(text, Path("T.v"))[0]
    two = Script(("split.",), (Script(("a.",)), Script(("b.",))))
    assert splice(text, site, two) == (
        "Lemma t : P /\\ Q.\nProof.\n  split.\n  { split.\n    - a.\n    - b. }\n"
        "  exact I.\nAdmitted.\n")
    assert "  { lia. }\n" in splice(text, site, ("lia.",))
    braced = "Lemma t : P.\nProof.\n  - { admit. }\nAdmitted.\n"
    site = locate(braced, Path("T.v"))[0]
    assert "  - { split.\n      - a.\n      - b. }\n" in splice(braced, site, two)


def test_bullets_run_on_past_three_levels_and_skip_those_in_use():
    assert coq_bullets()[:7] == ["-", "+", "*", "--", "++", "**", "---"]
    assert coq_bullets({"-", "+"})[:3] == ["*", "--", "++"]


def test_the_one_line_form_and_the_disproof_lemma_keep_the_bullets():
    assert one_line("coq", NESTED) == (
        "intros. split. - lra. - destruct x. + auto. + simpl. auto.")
    text = "Lemma t : forall n : nat, n = 0.\nProof.\nAdmitted.\n"
    site = locate(text, Path("T.v"))[0]
    _, lemma = disproof_lemma(site, Script(("intro H.",), (Script(("a.",)), Script(("b.",)))))
    assert "Proof.\n  intro H.\n  - a.\n  - b.\nQed." in lemma


def test_structure_from_a_model_is_still_refused():
    assert check_tactic("- lia.", "coq") == "bullet"
    assert check_tactic("{ lia. }", "coq") == "bullet"
    assert check_tactic("· simp", "lean") == "bullet"
    assert check_tactic(". simp", "lean") == "bullet"
    assert check_tactic("simp", "lean") is None


# --- the Lean assembler -------------------------------------------------------------------------


def test_lean_by_sorry_and_a_tactic_sorry_get_dots_and_indentation():
    text = ("theorem t (p r : Prop) : p ∧ r := by sorry\n\n"
            "theorem u : P ∧ Q := by\n  constructor\n  · sorry\n  · exact h\n")
    by_sorry, tactic = locate(text, Path("T.lean"))
    two = Script(("constructor",), (Script(("linarith",)),
                                    Script(("cases x",), (Script(("simp",)), Script(("ring",))))))
    assert splice(text, by_sorry, two).startswith(
        "theorem t (p r : Prop) : p ∧ r := by\n  constructor\n  · linarith\n  · cases x\n"
        "    · simp\n    · ring\n\n")
    assert splice(text, tactic, two).endswith(
        "  constructor\n  · constructor\n    · linarith\n    · cases x\n      · simp\n"
        "      · ring\n  · exact h\n")
    assert one_line("lean", two) == "constructor; (· linarith); (· cases x; (· simp); (· ring))"


def test_lean_search_on_the_replay_repl_writes_a_dot_per_goal():
    from alphaquant.search.base import GoalContext, SearchConfig, SearchParts
    from alphaquant.search.mcts import run_search
    from alphaquant.tactics.rules.heuristic import HeuristicSource, WeightedTactic

    sys.path.insert(0, str(Path(__file__).parent))
    from lean_replay import replay_prover

    text = "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry"
    prover = replay_prover("proof_branching")
    source = HeuristicSource(tuple(WeightedTactic(t, 1.0) for t in (
        "apply And.intro", "exact h1.left", "apply h2", "exact h1.right")), goal_aware_weight=0.0)
    site = locate(text, Path("T.lean"))[0]
    seen: list[Script] = []

    def accept(script: Script) -> str | None:
        seen.append(script)
        return None

    try:
        root = prover.open(site, text)
        result = run_search(
            SearchParts(prover, source, gate=lambda t: check_tactic(t, "lean"), accept=accept),
            root, SearchConfig(budget_seconds=60, seed=0), GoalContext("lean", text))
    finally:
        prover.close()
    assert result.proved and seen == [result.script]  # the acceptance rule saw the structure
    assert splice(text, site, result.script) == (
        "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by\n"
        "  apply And.intro\n"
        "  · exact h1.left\n"
        "  · apply h2\n"
        "    exact h1.right")


# --- the goal at a line -------------------------------------------------------------------------

LINES = """Require Import Lia.

Lemma done_already : 1 = 1.
Proof.
  reflexivity.
Qed.

Lemma first_hole : forall n : nat, n + 0 = n.
Proof.
  intros n.
Admitted.

(* a comment between them *)

Lemma two_holes : forall n : nat, n = n /\\ 0 + n = n.
Proof.
  split.
  - admit.
  - admit.
Admitted.
"""


def test_the_goal_at_a_line_is_a_hole_of_the_declaration_holding_it(tmp_path):
    file = located(tmp_path / "L.v", LINES)
    site, note = file.goal_at(9)  # `Proof.` of first_hole
    assert (site.theorem, site.line, note) == ("first_hole", 11, "")
    site, note = file.goal_at(19)  # the second bullet's line
    assert (site.theorem, site.line, site.kind, note) == ("two_holes", 19, "admit", "")
    site, _ = file.goal_at(17)  # `split.`: the nearest hole of the declaration
    assert (site.line, site.kind) == (18, "admit")


def test_a_line_without_a_goal_takes_the_nearest_and_says_so(tmp_path):
    file = located(tmp_path / "L.v", LINES)
    site, note = file.goal_at(4)  # in a declaration with no hole: the nearest below
    assert site.theorem == "first_hole" and "line 4" in note and "below" in note
    site, note = file.goal_at(1)
    assert site.theorem == "first_hole" and note


def test_a_line_outside_the_file_or_a_file_without_goals_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a line of L.v"):
        located(tmp_path / "L.v", LINES).goal_at(99)
    with pytest.raises(InputError, match="not a line of L.v"):
        located(tmp_path / "L.v", LINES).goal_at(0)
    with pytest.raises(InputError, match="no open goal"):
        located(tmp_path / "N.v", "Lemma a : True.\nProof.\n  exact I.\nQed.\n").goal_at(2)


# --- on real Coq, through the command line -----------------------------------------------------

CASES = """Require Import Lia.

Lemma cases_and_split : forall (b c : bool) (n : nat), n <= 5 ->
  n * 2 <= 10 /\\ (if b then (if c then n else n + 1) else n + 2) <= 7.
Proof.
Admitted.

Lemma tiles_fit : forall m : nat, m <= 320 -> m * 4 <= 1000.
Proof.
Admitted.
"""
CASE_TACTICS = [("intros.", 1.0), ("split.", 1.0), ("destruct b.", 1.0), ("destruct c.", 1.0),
                ("lia.", 1.0), ("intro H.", 1.0), ("specialize (H 320).", 1.0)]


def _proof_lines(text: str, theorem: str) -> list[str]:
    start = text.index(f"Lemma {theorem}")
    body = text[text.index("Proof.\n", start) + len("Proof.\n"): text.index("Qed.", start)]
    return body.splitlines()


@pytest.mark.coq
@needs_coq
@pytest.mark.parametrize("product_nodes", ["true", "false"])
def test_a_case_split_is_written_with_nested_bullets_and_coqc_accepts_it(tmp_path,
                                                                        product_nodes):
    (tmp_path / "S.v").write_text(CASES, encoding="utf-8")
    config = write_config(tmp_path, CASE_TACTICS, budget_seconds=40)
    config.write_text(config.read_text(encoding="utf-8")
                      + f"product_nodes = {product_nodes}\n", encoding="utf-8")
    done = run_cli("search", "S.v", "--config", "config.toml", "--theorem", "cases_and_split",
                   "--write", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    item = json.loads(done.stdout)["goals"][0]
    script = Script.from_json(item["script"])
    assert item["status"] == "proved" and list(script.tactics()) == item["proof"]
    written = (tmp_path / "S.v").read_text(encoding="utf-8")
    site = locate(CASES, tmp_path / "S.v")[0]
    assert written == splice(CASES, site, script)  # the text written is the assembled script
    lines = _proof_lines(written, "cases_and_split")
    # One sentence a line; a bullet before each goal of the split and of both case splits,
    # the inner ones a level deeper (whichever order the search found them in).
    assert all(line.count(".") == 1 for line in lines), lines
    bullets = [line.split()[0] for line in lines if line.split()[0] in ("-", "+", "*")]
    assert bullets.count("-") == 2 and bullets.count("+") >= 2, written
    assert "{" not in written and not script.flat
    assert subprocess.run(["coqc", "S.v"], cwd=tmp_path, capture_output=True).returncode == 0


@pytest.mark.coq
@needs_coq
def test_try_this_prints_one_line_per_proved_goal_that_pastes_in(tmp_path):
    (tmp_path / "S.v").write_text(CASES, encoding="utf-8")
    write_config(tmp_path, CASE_TACTICS, budget_seconds=40)
    done = run_cli("search", "S.v", "--config", "config.toml", "--format", "try-this",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # proved and disproved: every goal closed
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Try this: "), done.stdout
    assert "tiles_fit (line 10): disproved" in done.stderr
    proof_text = lines[0].removeprefix("Try this: ")
    assert " - " in proof_text  # the bullets, on one line
    # Pasted in place of Admitted., the suggestion compiles.
    first = CASES.index("Admitted.")
    pasted = CASES[:first] + proof_text + " Qed." + CASES[first + len("Admitted."):]
    (tmp_path / "S.v").write_text(pasted, encoding="utf-8")
    assert subprocess.run(["coqc", "S.v"], cwd=tmp_path, capture_output=True).returncode == 0


@pytest.mark.coq
@needs_coq
def test_line_searches_only_the_goal_there_and_refuses_a_line_not_in_the_file(tmp_path):
    (tmp_path / "S.v").write_text(CASES, encoding="utf-8")
    write_config(tmp_path, CASE_TACTICS, budget_seconds=20)
    done = run_cli("search", "S.v", "--config", "config.toml", "--line", "9", "--format",
                   "try-this", cwd=tmp_path)  # `Proof.` of tiles_fit: disproved, not proved
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "tiles_fit (line 10): disproved" in done.stderr
    assert "cases_and_split" not in done.stderr  # the other goal was not searched
    done = run_cli("search", "S.v", "--config", "config.toml", "--line", "40", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "alphaquant: error: --line 40 is not a line of S.v (lines 1 to 10)"]
    done = run_cli("search", "S.v", "--line", "3", "--theorem", "tiles_fit", cwd=tmp_path)
    assert done.returncode == 2 and "cannot be combined" in done.stderr
    assert (tmp_path / "S.v").read_text(encoding="utf-8") == CASES


@pytest.mark.coq
@needs_coq
def test_a_layout_the_kernel_refuses_falls_back_to_the_flat_text_and_says_so(tmp_path):
    # A script whose structure is wrong (a bullet around `split.`, which leaves two goals in
    # it) where the same tactics flat are a proof: the flat text is what stands.
    from alphaquant.config import load_settings
    from alphaquant.provers.coq.prover import CoqProver
    from alphaquant.runs.attempt import Goal, _Attempt

    text = "Lemma c : forall P Q : Prop, P -> Q -> P /\\ Q.\nProof.\nAdmitted.\n"
    path = tmp_path / "C.v"
    path.write_text(text, encoding="utf-8")
    site = locate(text, path)[0]
    wrong = Script(("intros.",), (Script(("split.",)), Script(("assumption.", "assumption."))))
    right = Script(("intros.", "split."), (Script(("assumption.",)), Script(("assumption.",))))
    with CoqProver(path) as prover:
        attempt = _Attempt(prover, None, Goal(path, text, site), load_settings(None),  # type: ignore[arg-type]
                           lambda _e: None, None, False)
        verdict, spliced, used = attempt.judged("prove", wrong)
        assert verdict.ok and used.tactics() == wrong.tactics() and not used.goals
        assert "structured text was refused" in used.flat and "\n  - " not in spliced
        verdict, spliced, used = attempt.judged("prove", right)
        assert verdict.ok and used == right and "  - assumption.\n" in spliced


def test_the_verdict_says_as_data_why_it_refused_and_the_fallback_reads_only_that():
    # attempt.py falls back to the flat layout on Refusal.DOES_NOT_CHECK, never on a message:
    # a refusal by the rule whose message happens to say "does not check" is no layout problem
    from alphaquant.proof import Refusal, judged
    from alphaquant.provers.base import Acceptance, FileCheck

    failed = judged(Acceptance(False, "x", check=FileCheck(False, "boom", 3)))
    assert failed.reason == "the whole file does not check (line 3): boom"
    assert failed.refusal is Refusal.DOES_NOT_CHECK
    negation = judged(Acceptance(False, "the negation does not check: y", negation_fails=True))
    assert negation.refusal is Refusal.DOES_NOT_CHECK
    ruled = judged(Acceptance(False, "rests on aq_adm (its proof does not check)"))
    assert ruled.refusal is Refusal.RULE and "does not check" in ruled.reason
    assert judged(Acceptance(True, assumes=("h",))).refusal is None


@pytest.mark.coq
@needs_coq
def test_a_refusal_by_the_rule_does_not_fall_back_to_the_flat_text(tmp_path):
    from alphaquant.config import load_settings
    from alphaquant.proof import Refusal
    from alphaquant.provers.coq.prover import CoqProver
    from alphaquant.runs.attempt import Goal, _Attempt

    text = ("Lemma helper : forall P Q : Prop, P -> Q -> P /\\ Q.\nProof.\nAdmitted.\n\n"
            "Lemma c : forall P Q : Prop, P -> Q -> P /\\ Q.\nProof.\nAdmitted.\n")
    path = tmp_path / "C.v"
    path.write_text(text, encoding="utf-8")
    site = locate(text, path)[1]
    structured = Script(("intros P Q p q.", "split."),
                        (Script(("exact (proj1 (helper P Q p q)).",)),
                         Script(("exact (proj2 (helper P Q p q)).",))))
    with CoqProver(path) as prover:
        attempt = _Attempt(prover, None, Goal(path, text, site), load_settings(None),  # type: ignore[arg-type]
                           lambda _e: None, None, False)
        verdict, _, used = attempt.judged("prove", structured)
    assert not verdict.ok and verdict.refusal is Refusal.RULE and "(admitted)" in verdict.reason
    assert used == structured and not used.flat  # no flat retry: the layout was not at fault


def test_the_goal_at_a_line_of_a_lean_file(tmp_path):
    text = ("theorem a : True := by\n  trivial\n\n"
            "theorem b (p : Prop) (h : p) : p ∧ p := by\n  constructor\n  · sorry\n  · exact h\n\n"
            "example : 1 = 1 := by sorry\n")
    file = located(tmp_path / "L.lean", text)
    site, note = file.goal_at(5)
    assert (site.theorem, site.line, note) == ("b", 6, "")
    site, note = file.goal_at(2)
    assert (site.theorem, site.line) == ("b", 6) and "below" in note
    site, note = file.goal_at(9)
    assert (site.theorem, site.kind, note) == ("", "by sorry", "")
