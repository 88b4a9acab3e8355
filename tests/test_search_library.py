"""Issue 10 on a real Coq kernel: library premises, CoqHammer reconstructions, product nodes, the
whole budget; and the rules behind them on small in-memory states."""

from __future__ import annotations

from pathlib import Path

import pytest
from lean_interact.interface import Message, Pos

from alphaquant.proof import add_imports, needed_imports, splice
from alphaquant.provers.base import Premise, ProofState, Subgoal
from alphaquant.provers.coq.premises import Found, conclusion, is_equation, parse_search, rank
from alphaquant.provers.lean.responses import suggestion, suggestions
from alphaquant.script import Script
from alphaquant.search.base import GoalContext, SearchConfig, SearchParts
from alphaquant.tactics.rules import automation
from alphaquant.tactics.rules.heuristic import HeuristicSource, WeightedTactic
from tests import replay_repl
from tests.conftest import needs_coq
from tests.test_search_coq import search

FIXTURES = replay_repl.fixtures_dir()  # ../shared beside the checkout, else the tests/ copy


def only(*tactics: tuple[str, float, float | None], premises: float = 1.0) -> HeuristicSource:
    """The given list and nothing goal-aware; retrieved premises at ``premises`` weight."""
    return HeuristicSource(tuple(WeightedTactic(*t) for t in tactics), goal_aware_weight=0.0,
                           premise_weight=premises)


def checks(tmp_path: Path, text: str, site, proof: tuple[str, ...], prover) -> bool:
    """Whether the file as written (the proof, and the import line it needs) compiles."""
    spliced = add_imports(splice(text, site, proof), needed_imports(text, proof, "coq"))[0]
    return prover.check_file(tmp_path / "T.v", spliced).ok


# --- real Coq --------------------------------------------------------------------------------

REVERSE = """Require Import List.
Lemma twice_reversed : forall (l : list nat), rev (rev l) = l.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_a_library_lemma_found_by_retrieval_closes_the_goal(tmp_path):
    src = only(("intros.", 1.0, None), ("reflexivity.", 1.0, None))
    config = SearchConfig(budget_seconds=30, seed=0)
    path, site, prover, result = search(tmp_path, REVERSE, src, config, prover=None)
    assert result.proved, result.stop_detail
    used = [t for t in result.proof if t not in ("intros.", "reflexivity.")]
    assert used, result.proof  # a step that neither the list nor the file offered
    without = search(tmp_path, REVERSE, src, SearchConfig(budget_seconds=30, premises=0))[3]
    assert not without.proved and without.stop_reason == "exhausted"
    from alphaquant.provers.coq.prover import CoqProver

    with CoqProver(path) as checker:
        assert checks(tmp_path, REVERSE, site, result.proof, checker)


QUOTIENT = """Require Import ZArith.
Open Scope Z_scope.
Lemma quotient_nonneg : forall a b : Z, 0 <= a -> 0 < b -> 0 <= a \u00f7 b.
Proof.
Admitted.
"""


def test_a_notation_symbol_is_looked_up_as_the_constant_it_prints():
    from alphaquant.provers.coq.premises import constants

    state = goal("0 <= a \u00f7 b", "a, b : Z", "H : 0 <= a", "H0 : 0 < b")
    assert '"\u00f7"' in constants(state)  # `0 <= a ÷ b` names no constant but Z
    assert '"\u2192"' not in constants(goal("P \u2192 Q", "P, Q : Prop"))  # logic, no constant


@pytest.mark.coq
@needs_coq
def test_a_lemma_about_a_notation_symbol_is_retrieved_and_closes_the_goal(tmp_path):
    src = only(("intros.", 1.0, None))
    config = SearchConfig(budget_seconds=30, seed=0)
    result = search(tmp_path, QUOTIENT, src, config, prover=None)[3]
    assert result.proved, result.stop_detail
    assert any("quot" in t for t in result.proof), result.proof


POWER_MOD = """Require Import ZArith Zpow_facts Lia.
Open Scope Z_scope.
Lemma power_mod : forall p q n : Z, 0 < n -> p ^ q mod n = (p mod n) ^ q mod n.
Proof.
Admitted.
"""


def test_an_infix_notation_is_looked_up_where_the_state_names_no_constant():
    from alphaquant.provers.coq.premises import constants

    assert constants(goal("p ^ q mod n = (p mod n) ^ q mod n", "p, q, n : Z")) == [
        "mod", '"_ ^ _"']  # `mod` is asked as `Search mod`, then as the notation `_ mod _`
    assert '"_ + _"' not in constants(goal("a + b = b + a", "a, b : Z"))  # too common


@pytest.mark.coq
@needs_coq
def test_a_lemma_about_an_infix_notation_is_retrieved_and_closes_the_goal(tmp_path):
    src = only(("intros.", 1.0, None), ("reflexivity.", 1.0, None), ("assumption.", 1.0, None))
    result = search(tmp_path, POWER_MOD, src, SearchConfig(budget_seconds=30, seed=0))[3]
    assert result.proved, result.stop_detail
    assert any("mod" in t for t in result.proof), result.proof


HAMMERED = """From Hammer Require Import Hammer.
Require Import List Arith.
Lemma reversed_length : forall (A : Type) (l : list A), length (rev l) = length l.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
@pytest.mark.skipif(automation.hammer_library() is None or not automation.atps(),
                    reason="CoqHammer is not installed (apt-get install -y libcoq-hammer "
                           "eprover z3 cvc4, or make install)")
def test_hammer_reconstruction_is_the_written_step_and_checks_without_hammer_running(tmp_path):
    src = only(("hammer.", 1.0, 60.0), premises=0.0)
    config = SearchConfig(budget_seconds=120, seed=0, premises=0)
    path, site, _, result = search(tmp_path, HAMMERED, src, config)
    assert result.proved, result.stop_detail
    assert len(result.proof) == 1 and "hammer" not in result.proof[0], result.proof
    from alphaquant.provers.coq.prover import CoqProver

    with CoqProver(path) as checker:
        assert checks(tmp_path, HAMMERED, site, result.proof, checker)


SPLIT = """Lemma two_sides : forall P Q R S : Prop, P -> Q -> R -> S -> (P /\\ Q) /\\ (R /\\ S).
Proof.
Admitted.
"""
SPLIT_TACTICS = tuple((t, 1.0, None) for t in (
    "intros.", "split.", "assumption.", "exfalso.", "left.", "constructor."))


@pytest.mark.coq
@needs_coq
def test_product_nodes_solve_independent_goals_with_fewer_expansions(tmp_path):
    src = only(*SPLIT_TACTICS, premises=0.0)
    accepted: list[tuple[str, ...]] = []

    def accept(script: Script) -> str | None:
        accepted.append(script.tactics())
        return None

    from alphaquant.provers.coq.prover import CoqProver
    from alphaquant.sanitize import check_tactic
    from alphaquant.search.mcts import run_search

    results = {}
    for product in (True, False):
        path = tmp_path / "T.v"
        path.write_text(SPLIT, encoding="utf-8")
        from alphaquant.goals import locate

        site = locate(SPLIT, path)[0]
        with CoqProver(path) as prover:
            root = prover.open(site, SPLIT)
            parts = SearchParts(prover, src, gate=lambda t: check_tactic(t, "coq"),
                                accept=accept if product else None)
            results[product] = run_search(
                parts, root, SearchConfig(budget_seconds=60, seed=3, premises=0,
                                          product_nodes=product),
                GoalContext("coq", SPLIT), export_tree=True, debug=True,
            )
            assert results[product].proved
            assert checks(tmp_path, SPLIT, site, results[product].proof, prover)
    assert results[True].products > 0 and results[False].products == 0
    assert results[True].expansions < results[False].expansions
    assert accepted == [results[True].proof]  # the assembled path is what accept saw
    assert any(n.get("product") for n in results[True].tree["nodes"])


SLOW = """Require Import ZArith. Open Scope Z_scope.
Lemma slow_ring : forall x y z : Z,
  (x+y+z)^26 * (x-y-z)^26 = (x*x - (y+z)*(y+z))^26.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_a_timed_out_tactic_is_retried_with_a_longer_limit_instead_of_stopping(tmp_path):
    src = only(("intros.", 1.0, None), ("ring.", 1.0, None), premises=0.0)
    early = search(tmp_path, SLOW, src, SearchConfig(budget_seconds=60, tactic_timeout=1,
                                                     timeout_retries=0, premises=0))[3]
    assert not early.proved and early.stop_reason == "exhausted" and early.seconds < 30
    config = SearchConfig(budget_seconds=90, tactic_timeout=1, timeout_retries=4, premises=0)
    result = search(tmp_path, SLOW, src, config)[3]
    assert result.proved, result.stop_detail
    assert result.retried >= 1
    outcomes = [t.outcome for t in result.tried if t.tactic == "ring." and t.state.path]
    assert outcomes[0] == "timeout" and outcomes[-1] == "solved"


@pytest.mark.coq
@needs_coq
def test_a_continued_search_keeps_its_tree_and_counts_each_go_apart(tmp_path):
    from alphaquant.provers.coq.prover import CoqProver
    from alphaquant.search.mcts import Search
    from alphaquant.sites.coq import locate as coq_locate

    path = tmp_path / "T.v"
    path.write_text(SLOW, encoding="utf-8")
    site = coq_locate(SLOW, path)[0]
    src = only(("intros.", 1.0, None), ("ring.", 1.0, None), premises=0.0)
    config = SearchConfig(tactic_timeout=1, timeout_retries=5, premises=0)
    with CoqProver(path) as prover:
        search = Search(SearchParts(prover, src, gate=lambda t: None), prover.open(site, SLOW),
                        config, GoalContext("coq", SLOW, site.theorem), debug=True)
        first = search.go(2.0)
        assert not first.proved and first.stop_reason == "time" and first.timeouts >= 1
        second = search.go(90.0)
    assert second.proved, second.stop_detail
    root_steps = [t.tactic for t in second.tried if not t.state.path]
    assert "intros." not in root_steps  # done in the first go, not again
    assert second.expansions == len(second.tried) and first.expansions == len(first.tried)
    assert second.nodes == 0 or second.nodes < first.nodes + second.nodes


def search_nth(tmp_path: Path, text: str, index: int, src, config: SearchConfig):
    """Search the ``index``-th goal of ``text`` on real Coq; the result, and whether the file
    with the proof spliced in compiles."""
    from alphaquant.provers.coq.prover import CoqProver
    from alphaquant.search.mcts import run_search
    from alphaquant.sites.coq import locate as coq_locate

    path = tmp_path / "T.v"
    path.write_text(text, encoding="utf-8")
    site = coq_locate(text, path)[index]
    with CoqProver(path) as prover:
        root = prover.open(site, text)
        result = run_search(SearchParts(prover, src, gate=lambda t: None), root, config,
                            GoalContext("coq", text, site.theorem), debug=True)
        return result, result.proved and checks(tmp_path, text, site, result.proof, prover)


SHORTCUT = """Lemma plus_zero_shortcut : forall n : nat, n + 0 = n.
Proof.
Admitted.

Lemma plus_zero : forall n : nat, n + 0 = n.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_a_lemma_closed_by_admitted_is_never_tried_however_it_is_offered(tmp_path):
    # Offered at the top of the list and found by retrieval (`Search` sees admitted lemmas),
    # it would close the goal at once, and the acceptance rule would refuse the path at the end.
    src = only(("apply plus_zero_shortcut.", 5.0, None), ("intros.", 1.0, None),
               ("induction n.", 1.0, None), ("simpl.", 1.0, None), ("reflexivity.", 1.0, None),
               ("rewrite IHn.", 1.0, None))
    result, compiles = search_nth(tmp_path, SHORTCUT, 1, src, SearchConfig(budget_seconds=60))
    assert result.proved, result.stop_detail
    assert not any("shortcut" in t.tactic for t in result.tried), result.tried
    assert compiles


BRIDGED = """Require Import Reals Lra.
Open Scope R_scope.
Definition f (x : R) : R := sin x.
Lemma f_bound : forall x, Rabs (f x) <= 1.
Proof. intros. unfold f. apply Rabs_le. apply SIN_bound. Qed.
Lemma f_small : forall x, Rabs (f x) < 2.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_a_lemma_that_bounds_the_goals_left_side_serves_through_transitivity(tmp_path):
    # (no new imports: Coq Interval's `interval` would close it at once)
    src = HeuristicSource((WeightedTactic("lra.", 1.0),), goal_aware_weight=1.0,
                          premise_weight=0.0, new_imports=False)
    config = SearchConfig(budget_seconds=60, premises=0)
    result, compiles = search_nth(tmp_path, BRIDGED, 0, src, config)
    assert result.proved, result.stop_detail
    # The step and the lemma as one candidate (no existential variable left between them), or
    # as two.
    steps = " ".join(result.proof)
    assert "eapply Rle_lt_trans" in steps and "apply f_bound" in steps, result.proof
    assert compiles


# --- rules on in-memory states ---------------------------------------------------------------


def goal(concl: str, *hyps: str) -> ProofState:
    return ProofState((Subgoal(tuple(hyps), concl),))


def test_case_analysis_on_the_scrutinees_the_goal_branches_on():
    state = goal("(if Rle_dec a b then b else a) <= match l with | nil => c | _ :: _ => d end",
                 "a, b, c, d : R", "l : list R")
    texts = [t for t, _, _ in automation.structural(state)]
    assert "destruct (Rle_dec a b)." in texts
    assert "destruct l." in texts
    assert "induction l; simpl." in texts
    assert not any("induction a" in t for t in texts)  # a real is no inductive type
    inside = goal("P (S n)", "n : nat", "IHn : P n")
    assert not any(t.startswith(("induction n", "destruct n")) for t, _, _ in
                   automation.structural(inside))  # an induction on n is under way


def test_coqhammer_is_offered_in_the_search_where_the_file_imports_it():
    assert automation.hammer_level("Require Import Reals.\n") == ""
    assert automation.hammer_level("From Hammer Require Import Tactics.\n") == "tactics"
    texts = [t for t, _, _ in automation.hammer_family("tactics")]
    assert "sauto." in texts and "hammer." not in texts


def test_search_answers_parse_and_rank_by_shared_rare_symbols():
    answer = ("foo_comm: forall a b : T, foo a b = foo b a\n"
              "bar_le:\n  forall a b : T,\n  bar a <= bar b -> a <= b\n"
              "foo_bar: forall a : T, foo a (bar a) = a\n")
    assert parse_search("") == [] and parse_search("\n") == []  # an empty answer
    parsed = parse_search(answer)
    assert [n for n, _ in parsed] == ["foo_comm", "bar_le", "foo_bar"]
    assert parsed[1][1] == "forall a b : T, bar a <= bar b -> a <= b"
    assert conclusion(parsed[1][1]) == "a <= b" and not is_equation(parsed[1][1])
    assert is_equation(parsed[0][1])
    from alphaquant.provers.coq.premises import symbols

    pool = [Found(n, s, frozenset(symbols(s))) for n, s in parsed]
    state = goal("foo x (bar x) = x", "x : T")
    ranked = rank(state, pool, own=set(), limit=3)
    assert ranked[0].name == "foo_bar"
    assert rank(state, pool, own={"bar_le"}, limit=3)[0].name == "bar_le"  # own lemmas first


def test_premises_become_apply_rewrite_and_apply_in_candidates():
    state = goal("0 <= g y", "y : T", "H : f y <= g y")
    premises = [Premise("le_lift", "forall a : T, f a <= g a -> 0 <= g a", 2.0),
                Premise("g_def", "forall a : T, g a = f a + 1", 1.0)]
    texts = [t for t, _, _ in automation.from_premises(state, premises)]
    assert "apply le_lift." in texts and "apply le_lift in H." in texts
    assert "rewrite g_def." in texts and "rewrite <- g_def." in texts
    assert "apply g_def." not in texts
    # an existential or a conjunction of equations is applied, not rewritten with
    inverse = Premise("map_inv", "forall (f : A -> B) (l : list A) (m : list B), "
                      "Perm m (map f l) -> exists k : list A, m = map f k /\\ Perm l k", 1.0)
    both = Premise("two_eqs", "forall a : T, f a = g a /\\ g a = f a", 1.0)
    iff = Premise("eq_iff", "forall a b : T, f a = f b <-> a = b /\\ b = a", 1.0)
    texts = [t for t, _, _ in automation.from_premises(
        goal("exists k : list A, m = map f k /\\ Perm l k", "H : Perm m (map f l)"),
        [inverse, both, iff])]
    assert "apply map_inv." in texts and "rewrite map_inv." not in texts
    assert not is_equation(both.statement) and is_equation(iff.statement)


# --- Lean: "Try this:" as the REPL prints it -------------------------------------------------


def _fixture_messages(name: str) -> list[Message]:
    import json

    text = (FIXTURES / name).read_text(encoding="utf-8")
    found = []
    for chunk in text.split("\n\n"):
        if not chunk.strip():
            continue
        obj = json.loads(chunk)
        for m in obj.get("messages", []):
            found.append(Message(pos=Pos(line=0, column=0), severity=m["severity"],
                                 data=m["data"]))
    return found


def test_try_this_suggestion_from_the_repls_real_output():
    messages = tuple(_fixture_messages("mathlib/exact.expected.out"))
    assert suggestion(messages) == "exact Nat.one_pos"


def test_try_this_older_and_list_formats():
    def info(data: str) -> tuple[Message, ...]:
        return (Message(pos=Pos(line=0, column=0), severity="info", data=data),)

    assert suggestion(info("Try this: exact h.le")) == "exact h.le"
    assert suggestion(info("Try these:\n• [apply] rw [foo]\n• [apply] simp")) == "rw [foo]"
    # a suggestion over several lines keeps them, dedented to its own indentation
    wrapped = info("Try this:\n  [apply] simp only [a,\n      b]")
    assert suggestion(wrapped) == "simp only [a,\n    b]"
    calc = "Try this:\n  [apply] calc a = b := by rfl\n    _ = c := by rfl\n  [apply] omega"
    assert suggestions(info(calc)) == ["calc a = b := by rfl\n  _ = c := by rfl", "omega"]
    warning = Message(pos=Pos(line=0, column=0), severity="warning", data="Try this: rfl")
    assert suggestion((warning,)) is None


def test_unproved_names_are_admitted_lemmas_and_axioms_and_match_qualified():
    from alphaquant.tactics.rules.statements import names_any, unproved_names

    text = ("Lemma a : True.\nProof.\nexact I.\nQed.\n"
            "Theorem b : 1 = 2.\nProof.\nAdmitted.\nAxiom c : False.\n")
    assert unproved_names(text) == {"b", "c"}
    assert names_any("apply M.N.b.", {"b"}) and names_any("destruct c.", {"c"})
    assert not names_any("apply bb.", {"b"}) and not names_any("apply a.", {"b", "c"})


def test_transitivity_bridges_a_lemmas_bound_to_the_goals():
    from alphaquant.tactics.rules.goal_rules import bridge
    from alphaquant.tactics.rules.statements import conclusion_shape

    goal = "(Z.abs (zsum_k k (fun l : nat => qa l * qw l)) < 2 ^ 31)%Z"
    lemma = "(Z.abs (zsum_k k (fun l => a l * w l)) <= Z.of_nat k * m)%Z"
    assert conclusion_shape(goal) == ("Z.abs", "<")  # `=>` of a fun is no relation
    assert bridge(conclusion_shape(goal), conclusion_shape(lemma), goal, "") == \
        "eapply Z.le_lt_trans."
    assert bridge(("Rabs", "<="), ("Rabs", "<="), "Rabs x <= 1", "Open Scope R_scope.") == \
        "eapply Rle_trans."
    assert bridge(("Rabs", "<="), ("Z.abs", "<="), "Rabs x <= 1", "") is None


TWINS = """Require Import PeanoNat.
Lemma twins : forall n : nat, n = n /\\ n + 0 = n.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_a_root_proved_through_a_transposition_is_judged_and_its_proof_returned(tmp_path):
    # `split` makes a product; its first goal `n = n` is proved; the rewrite turns the second
    # into that same goal, already proved: the root is proved by a step that closes nothing
    # itself. The acceptance rule must be asked then too (before, the search stopped with the
    # root proved and no proof returned).
    from alphaquant.proof import verify
    from alphaquant.provers.coq.prover import CoqProver
    from alphaquant.search.mcts import run_search
    from alphaquant.sites.coq import locate as coq_locate

    src = only(("intros.", 3.0, None), ("split.", 2.0, None), ("reflexivity.", 1.0, None),
               ("rewrite Nat.add_0_r.", 0.2, None), premises=0.0)
    path = tmp_path / "T.v"
    path.write_text(TWINS, encoding="utf-8")
    site = coq_locate(TWINS, path)[0]
    asked: list[tuple[str, ...]] = []
    with CoqProver(path) as prover:

        def accept(script: Script) -> str | None:
            tactics = script.tactics()
            asked.append(tactics)
            verdict = verify(prover, path, TWINS, splice(TWINS, site, script), tactics,
                             site.decl_start)
            return None if verdict.ok else verdict.reason

        root = prover.open(site, TWINS)
        result = run_search(SearchParts(prover, src, gate=lambda _t: None, accept=accept), root,
                            SearchConfig(budget_seconds=60, premises=0), GoalContext("coq", TWINS),
                            debug=True)
    assert result.proved and result.proof == asked[-1], (result.stop_detail, asked)
    assert "rewrite Nat.add_0_r." in result.proof  # the step into the twin already proved


TWINS_ADMITTED = """Require Import PeanoNat.
Lemma shortcut : forall n : nat, n + 0 = n.
Proof.
Admitted.
Global Hint Rewrite shortcut : quick.
Lemma twins : forall n : nat, n = n /\\ n + 0 = n.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_an_admitted_lemma_reached_through_a_transposition_is_refused(tmp_path):
    # The same shape, with a rewrite by an admitted lemma first, reached through a rewrite hint
    # (its name is in no tactic, so no filter of names sees it): it leads into the twin already
    # proved, so the root is proved by a step that closes nothing itself. The acceptance rule
    # refuses that path by the admitted lemma's kernel name, and the honest rewrite wins.
    from alphaquant.proof import verify
    from alphaquant.provers.coq.prover import CoqProver
    from alphaquant.search.mcts import run_search
    from alphaquant.sites.coq import locate as coq_locate

    src = only(("intros.", 3.0, None), ("split.", 2.0, None), ("reflexivity.", 1.0, None),
               ("autorewrite with quick.", 0.5, None), ("rewrite Nat.add_0_r.", 0.2, None),
               premises=0.0)
    path = tmp_path / "T.v"
    path.write_text(TWINS_ADMITTED, encoding="utf-8")
    site = coq_locate(TWINS_ADMITTED, path)[1]
    refused: list[str] = []
    with CoqProver(path) as prover:

        def accept(script: Script) -> str | None:
            verdict = verify(prover, path, TWINS_ADMITTED, splice(TWINS_ADMITTED, site, script),
                             script.tactics(), site.decl_start)
            if not verdict.ok:
                refused.append(verdict.reason)
            return None if verdict.ok else verdict.reason

        root = prover.open(site, TWINS_ADMITTED)
        result = run_search(SearchParts(prover, src, gate=lambda _t: None, accept=accept), root,
                            SearchConfig(budget_seconds=60, premises=0),
                            GoalContext("coq", TWINS_ADMITTED), debug=True)
    assert refused and "shortcut" in refused[0], (refused, result.proof)
    assert result.proved and "autorewrite with quick." not in result.proof, result.proof
    assert "rewrite Nat.add_0_r." in result.proof


def test_indexed_ranking_matches_the_formula_and_is_built_once_per_pool() -> None:
    """Ranking (an idf index built once per pool) gives what the formula says: Σ idf of the
    shared symbols / √(Σ idf of the lemma's symbols + 1), the project's own first, ties by
    name, the cut keeping exactly ``limit``; the retriever builds one index per set of
    looked-up constants, whatever their order."""
    import math
    import random

    from alphaquant.provers.coq.premises import Ranking, Retriever, local_names, symbols

    rng = random.Random(7)
    words = ["Rabs", "Rle", "INR", "sum_k", "scale", "Rmult", "<=", "+", "*", "clamp", "IZR",
             "Z.abs", "up", "/", "-", "qmax", "Rround"]
    for _ in range(200):
        pool = []
        for _ in range(rng.randint(0, 40)):
            text = " ".join(rng.sample(words, rng.randint(1, 6)))
            name = rng.choice(["", "Coq.Reals.M.", "N."]) + f"lem{rng.randint(0, 30)}"
            pool.append(Found(name, text, frozenset(symbols(text))))
        state = goal(" ".join(rng.sample(words, 5)), "x : R", "H : Rabs x <= 1")
        own = {f"lem{i}" for i in rng.sample(range(30), 4)}
        limit = rng.randint(1, 25)
        lemmas = list({f.name: f for f in pool}.values())
        df = {s: sum(s in f.symbols for f in lemmas) for f in lemmas for s in f.symbols}
        idf = {s: math.log((len(lemmas) + 1) / (c + 1)) + 0.1 for s, c in df.items()}
        wanted = symbols(state.text) - local_names(state)
        expected = []
        for f in lemmas:
            shared = sum(idf[s] for s in f.symbols & wanted)
            if shared > 0:
                local = f.name in own or f.name.split(".")[-1] in own
                score = round(shared / math.sqrt(sum(idf[s] for s in f.symbols) + 1.0), 9)
                expected.append((not local, -score, f.name))
        expected.sort()
        got = Ranking(pool).top(state, own, limit)
        assert [p.name for p in got] == [n for _, _, n in expected[:limit]]
        assert all(math.isclose(p.score, -s) and p.local == (not o)
                   for p, (o, s, _) in zip(got, expected, strict=False))

    answers = {"Search foo -is:Definition.": "foo_le: forall a : T, foo a <= bar a\n",
               "Search bar -is:Definition.": "bar_pos: forall a : T, 0 <= bar a\n"}
    retriever = Retriever(lambda _state, command: answers.get(command))
    first = retriever.premises(goal("foo x <= bar x", "x : T"), 5, "env", set())
    again = retriever.premises(goal("bar x <= foo x", "x : T"), 5, "env", set())
    assert {p.name for p in first} == {p.name for p in again} == {"foo_le", "bar_pos"}
    assert retriever.queries == 2 and retriever.ranked == 2 and len(retriever._rankings) == 1


SLOWER = """Require Import ZArith. Open Scope Z_scope.
Lemma slower_ring : forall x y z : Z, 0 <= x ->
  (x+y+z)^40 * (x-y-z)^40 = (x*x - (y+z)*(y+z))^40.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_a_tactic_that_timed_out_at_one_state_is_first_tried_briefly_at_the_next(tmp_path):
    """`ring` times out after `intros.`; after `intros x y z _.` (another state, the same
    equation) it is first tried at ``first_timeout``, not the whole tactic limit."""
    from alphaquant.provers.coq.prover import CoqProver

    class Limits:  # the real prover, with the limit of each `ring.` written down
        def __init__(self, prover: CoqProver) -> None:
            self.prover = prover
            self.ring: list[tuple[float, str]] = []

        def __getattr__(self, name: str):
            return getattr(self.prover, name)

        def apply(self, state, tactic, timeout):
            outcome = self.prover.apply(state, tactic, timeout)
            if tactic == "ring.":
                self.ring.append((timeout, type(outcome).__name__))
            return outcome

    src = only(("intros.", 1.0, None), ("intros x y z _.", 1.0, None), ("ring.", 0.5, None),
               premises=0.0)
    config = SearchConfig(budget_seconds=40, tactic_timeout=2, first_timeout=1,
                          timeout_retries=0, premises=0)
    with CoqProver(tmp_path / "T.v") as prover:
        spy = Limits(prover)
        result = search(tmp_path, SLOWER, src, config, prover=spy)[3]
    assert not result.proved and result.stop_reason == "exhausted", result.stop_detail
    timed_out = [limit for limit, kind in spy.ring if kind == "TacticTimeout"]
    assert timed_out == [2, 1], spy.ring


def test_avoided_names_are_never_proposed_bare_or_qualified():
    from alphaquant.tactics.base import ProposalRequest

    source = only(("apply classic.", 1.0, None), ("exact (Classical_Prop.classic P).", 1.0, None),
                  ("apply helper.", 1.0, None), ("tauto.", 1.0, None))
    state = ProofState((Subgoal((), "P \\/ ~ P"),))
    avoid = frozenset({"Coq.Logic.Classical_Prop.classic"})
    proposed = [c.tactic for c in source.propose(ProposalRequest(state, 30, "coq", avoid=avoid))]
    assert {"apply helper.", "tauto."} <= set(proposed)
    assert not [t for t in proposed if "classic" in t]
    unfiltered = [c.tactic for c in source.propose(ProposalRequest(state, 30, "coq"))]
    assert "apply classic." in unfiltered
    with pytest.raises(Exception, match="search.avoid"):
        SearchConfig(avoid="classic")  # type: ignore[arg-type]
