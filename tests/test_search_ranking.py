"""Where the offline search spends its visits, on small states and trees built in memory: which
candidates come first (lemmas by the symbols they share with the goal, hypotheses by their
shape), which case splits are offered, how a product node shares its visits, and what a state
of several goals is worth. (The engine itself is tested on real Coq.)"""

from __future__ import annotations

import pytest

from alphaquant.provers.base import Premise, ProofState, Subgoal
from alphaquant.search.base import SearchConfig
from alphaquant.search.tree import Action, SearchTree
from alphaquant.search.value import goal_size_value, scaled
from alphaquant.search.walk import backpropagate, select
from alphaquant.tactics.rules import automation, goal_rules, goal_value, statements

FILE = """Local Open Scope R_scope.
Definition squash (x : R) : Z := Z.max 0 (Rfloor x).
Definition spread (q : Z) : R := IZR q * 2.
Lemma spread_pos : forall q : Z, 0 <= spread q.
Proof. Qed.
Lemma squash_close : forall x : R, Rabs (x - spread (squash x)) <= 3.
Proof. Qed.
Lemma triangle_any : forall a b c : R, Rabs (a - c) <= Rabs (a - b) + Rabs (b - c).
Proof. Qed.
Lemma sum_bound : forall a b : R, Rabs (a + b) <= Rabs a + Rabs b.
Proof. Qed.
"""


def goal(conclusion: str, *hypotheses: str, path: tuple[str, ...] = ()) -> ProofState:
    return ProofState((Subgoal(hypotheses, conclusion),), path=path)


def split_in_two(tactic: str, first: str, second: str,
                 values: list[float]) -> tuple[SearchTree, ProofState, ProofState]:
    """A tree whose root's one step ``tactic`` leaves two goals, made a product node: the tree
    and the two goals' states."""
    root = goal("root")
    tree = SearchTree(root, 0.5)
    step = Action(tactic, 1.0)
    tree.node(root).actions = [step]
    both = ProofState((Subgoal((), first), Subgoal((), second)), path=(tactic,))
    tree.add_child(root, step, both, 0.5)
    parts = [goal(c, path=(tactic, str(i))) for i, c in enumerate((first, second), 1)]
    tree.add_product(both, parts, values)
    return tree, parts[0], parts[1]


def weights(state: ProofState, text: str = FILE) -> dict[str, float]:
    out: dict[str, float] = {}
    for tactic, weight in goal_rules.coq_rules(state, text):
        out[tactic] = out.get(tactic, 0.0) + weight
    return out


def test_a_lemma_that_shares_the_goals_rare_symbols_comes_before_one_that_shares_common_ones():
    # All three conclude `Rabs … <= …`, as the goal does; only one is about `squash`.
    state = goal("Rabs (y - spread (squash y)) <= 3", "y : R")
    w = weights(state)
    assert w["apply squash_close."] > w["apply triangle_any."]
    assert w["apply squash_close."] > w["apply sum_bound."]
    fit = goal_rules.lemma_fit(state, statements.proved_lemmas(FILE))
    assert max(fit, key=lambda name: fit[name]) == "squash_close"
    assert all(0.5 <= f <= 1.5 for f in fit.values())


def test_apply_of_a_lemma_with_another_head_is_offered_weakly_and_transitivity_once():
    state = goal("Rabs (y - spread (squash y)) <= 3", "y : R")
    w = weights(state)
    # `0 <= spread q` cannot conclude an `Rabs` goal without unfolding `Rabs`.
    assert w["apply spread_pos."] < 0.5 * w["apply squash_close."]
    # Every `Rabs … <=` lemma bridges with the same step: it is one candidate, not a sum.
    bridges = [t for t, _ in goal_rules.coq_rules(state, FILE) if t == "eapply Rle_trans."]
    assert len(bridges) == 1


def test_hypotheses_are_applied_by_their_shape_and_a_value_is_never_applied():
    state = goal("(f n <= 7)%Z", "p : Params", "n : nat",
                 "Hr : forall m : nat, (f m <= 7)%Z", "Hs : (g n < 3)%Z",
                 "Hn : n_bits p = 4%nat")
    w = weights(state, "Definition f (n : nat) : Z := 0.\n")
    assert "apply p." not in w  # p is a record value, not a proof
    assert w["apply Hr."] > w["apply Hs."]


def test_an_equation_rewrites_first_where_its_left_side_is_in_the_conclusion():
    state = goal("(2 ^ Z.of_nat (n_bits p) <= 16)%Z", "p : Params", "Hn : n_bits p = 4%nat",
                 "Hm : m = 1%nat", "m : nat")
    w = weights(state, "")
    assert w["rewrite Hn."] > w["rewrite Hm."]


def test_working_on_the_conclusion_waits_for_intros():
    early = weights(goal("forall x : R, Rabs x <= 1 -> Rabs (x / 2) <= 1"), "")
    late = weights(goal("Rabs (x / 2) <= 1", "x : R", "H : Rabs x <= 1"), "")
    assert early["intros."] > 5 * early["apply Rabs_le."]
    assert late["apply Rabs_le."] == pytest.approx(5 * early["apply Rabs_le."])


def test_unfolding_a_universal_hypothesis_is_not_offered():
    text = "Definition in_range (x : R) : Prop := 0 <= x <= 1.\n"
    state = goal("in_range (a 3)", "a : nat -> R", "Ha : forall i : nat, in_range (a i)",
                 "Hb : in_range (a 2)")
    w = weights(state, text)
    assert "unfold in_range in Hb." in w and "unfold in_range in Ha." not in w


def test_case_splits_are_on_scrutinees_in_scope_not_on_those_under_a_binder():
    bound = "forall i j : nat, (if Rcase_abs (A i j) then - A i j else A i j) <= 1"
    assert automation.scrutinees(bound) == []
    assert automation.scrutinees("(if Rle_dec a b then a else b) <= c") == ["Rle_dec a b"]
    state = goal("(if Rle_dec a b then a else b) <= c", "a, b, c : R", f"H : {bound}")
    splits = [t for t, _, _ in automation.structural(state) if t.startswith("destruct (")]
    assert splits == ["destruct (Rle_dec a b).", "destruct (Rle_dec a b) eqn:?."]


def test_a_retrieved_lemma_with_the_goals_head_is_applied_before_one_with_another_head():
    state = goal("Rabs (x - y) <= e", "x, y, e : R")
    found = [Premise("other_head", "forall q : Z, (0 <= qlo q)%Z", 1.0),
             Premise("same_head", "forall a b : R, Rabs (a - b) <= Rabs a + Rabs b", 1.0),
             Premise("generic", "forall r1 r2 r3 : R, r1 <= r2 -> r2 <= r3 -> r1 <= r3", 1.0)]
    w = {t: wt for t, wt, _ in automation.from_premises(state, found)}
    assert w["apply same_head."] > 2 * w["apply other_head."]
    # A bare transitivity fits every goal of its relation (its head is a bound variable) but
    # leaves the middle term open: `eapply`, and well below a lemma that decides something.
    assert w["eapply generic."] == pytest.approx(0.3 * w["apply same_head."])
    assert w["apply generic."] < w["eapply generic."]


def test_a_lemma_whose_conclusion_leaves_a_variable_unknown_is_eapplied_not_applied():
    """`apply` fails on it ("unable to find an instance for b"); `eapply` leaves `?b` open."""
    assert statements.unfixed_binders(
        ": forall (X : Type) (d : X -> X -> R) (a b c : X) (E e B : R), "
        "d a b <= E -> d b c <= e -> E + e <= B -> d a c <= B.") == {"b", "E", "e"}
    assert statements.unfixed_binders(": forall k (f g : nat -> R) c, "
                                      "(forall l, Rabs (f l - g l) <= c) -> Rabs (f k) <= c") \
        == {"g"}
    state = goal("Rabs (x - y) <= e", "x, y, e : R")
    loose = Premise("through", "forall a b c : R, Rabs (a - b) <= 1 -> Rabs (b - c) <= 1 -> "
                    "Rabs (a - c) <= 2", 1.0)
    w = {t: wt for t, wt, _ in automation.from_premises(state, [loose])}
    assert w["eapply through."] > 3 * w["apply through."]
    text = f"Lemma through : {loose.statement}.\nProof. Admitted.\n".replace("Admitted", "Qed")
    rules = dict(goal_rules.coq_rules(state, text))
    assert rules["eapply through."] > 3 * rules["apply through."]


def test_a_conditional_rewrite_whose_premise_nothing_in_sight_meets_ranks_low():
    state = goal("clip x = x", "x : R", "H : Rabs x <= 1")
    met = ": forall x : R, Rabs x <= 1 -> clip x = x."
    unmet = ": forall (x : R) (n : Z), IZR n <= x -> clip x = x."
    assert statements.unmet_conditions(met, ["Rabs x <= 1"]) == 0
    assert statements.unmet_conditions(unmet, ["Rabs x <= 1"]) == 1
    # A premise headed by the lemma's own variable may be met by anything.
    assert statements.unmet_conditions(": forall a b q : Z, (a <= q <= b)%Z -> f q = q.", []) == 0
    text = f"Lemma below : {met[2:]}\nProof. Qed.\nLemma above : {unmet[2:]}\nProof. Qed.\n"
    rules = dict(goal_rules.coq_rules(state, text))
    assert rules["rewrite below."] > 3 * rules["rewrite above."]


def test_a_product_node_gives_its_goals_turns_so_a_false_side_goal_is_looked_at():
    tree, main, side = split_in_two("rewrite side_lemma.", "main'", "side",
                                    [0.3, 0.9])  # the side goal looks easy
    for key in (main, side):
        tree.node(key).actions = [Action("a.", 0.5), Action("b.", 0.5)]
    seen = []
    for _ in range(4):
        path, key, action = select(tree, SearchConfig())
        seen.append(key)
        backpropagate(path, 0.1)
        assert action is not None
        action.failure = "error"  # tried; leaves the node's other candidate
    assert seen[:2] == [main, side] and seen.count(side) == 2


def test_a_state_is_worth_about_its_hardest_goal_whether_or_not_it_can_be_split():
    small, large = Subgoal((), "x <= 1"), Subgoal(("H : y <= 2",), "x + y <= 3 * z + 10")
    one = ProofState((large,), path=("a.",))
    joined = ProofState((small, large), path=("a.",))
    assert goal_size_value(joined) < goal_size_value(one)
    assert goal_size_value(joined) > 0.9 * goal_size_value(one)
    assert goal_size_value(ProofState((), path=("a.",))) == 1.0


def test_a_bound_below_a_maximum_takes_one_side_and_a_maximum_below_a_bound_takes_both():
    below = weights(goal("a / 2 <= Rmax (a / 2) (b / 2)", "a, b : R"), "")
    assert "apply Rmax_l." in below and "apply Rmax_r." in below
    assert "apply Rmax_lub." not in below
    above = weights(goal("Rmax a b <= c", "a, b, c : R"), "")
    assert "apply Rmax_lub." in above and "apply Rmax_l." not in above


def test_induction_on_the_variable_a_recursive_function_of_the_file_is_applied_to():
    text = "Fixpoint walk (n : nat) (x : R) : R := match n with O => x | S m => walk m x end.\n"
    state = goal("walk n x <= x + INR n", "n : nat", "x : R")
    assert weights(state, text).get("induction n.", 0) >= 1.0
    underway = goal("walk (S n) x <= x + INR (S n)", "n : nat", "x : R",
                    "IHn : walk n x <= x + INR n")
    assert "induction n." not in weights(underway, text)


def test_a_hypothesis_that_is_the_goal_up_to_numbers_and_existential_variables_applies_first():
    state = goal("forall l : nat, (?lo <= qa l <= ?hi)%Z", "qa : nat -> Z",
                 "Hr : forall l : nat, (-128 <= qa l <= 127)%Z",
                 "Hs : forall l : nat, (qa l < 3)%Z")
    w = weights(state, "")
    assert w["apply Hr."] > 2 * w["apply Hs."]
    assert statements.skeleton("forall l : nat, (?lo <= qa l <= ?hi)%Z") == \
        statements.skeleton("forall l : nat, (-128 <= qa l <= 127)%Z")


def test_a_function_is_not_specialized_as_if_it_were_an_implication():
    state = goal("dist a a <= e", "X : Type", "dist : X -> X -> R", "a : X", "e : R",
                 "H : 0 <= e -> dist a a <= e")
    specialized = [t for t in weights(state, "") if t.startswith("specialize (")]
    assert specialized and all(t.startswith("specialize (H ") for t in specialized)


def test_the_tactics_of_a_proved_goal_go_first_where_they_are_untried_in_the_same_search():
    from alphaquant.search.base import GoalContext, SearchParts
    from alphaquant.search.grow import reinforce
    from alphaquant.search.running import Run

    tree, left, right = split_in_two("split.", "left", "right", [0.5, 0.5])
    tree.node(right).actions = [Action("common.", 0.6), Action("unfold f.", 0.3),
                                Action("apply g.", 0.1)]
    step, closing = Action("unfold f.", 0.2), Action("apply g.", 0.8)
    tree.node(left).actions = [step, closing]
    middle = goal("left'", path=("split.", "1", "unfold f."))
    tree.add_child(left, step, middle, 0.5)
    tree.node(middle).actions = [closing]
    tree.add_solved(middle, closing)
    run = Run(SearchParts(None, None, gate=lambda _t: None),  # type: ignore[arg-type]
              GoalContext("coq"), SearchConfig())
    reinforce(tree, run, middle)
    assert run.history == {"unfold f.", "apply g."}  # the left goal's whole proof
    order = [(a.tactic, a.prior) for a in tree.node(right).actions]
    assert order[:2] == [("unfold f.", 0.6), ("apply g.", 0.6)] and order[2][0] == "common."


def test_a_one_step_proof_is_not_promoted_elsewhere():
    from alphaquant.search.base import GoalContext, SearchParts
    from alphaquant.search.grow import reinforce
    from alphaquant.search.running import Run

    tree, left, right = split_in_two("split.", "left", "right", [0.5, 0.5])
    tree.node(right).actions = [Action("common.", 0.6), Action("apply H.", 0.1)]
    closing = Action("apply H.", 0.8)
    tree.node(left).actions = [closing]
    tree.add_solved(left, closing)
    run = Run(SearchParts(None, None, gate=lambda _t: None),  # type: ignore[arg-type]
              GoalContext("coq"), SearchConfig())
    reinforce(tree, run, left)
    # `apply H` closed a goal it fitted; it was ranked there by its fit already.
    assert run.history == set()
    assert [(a.tactic, a.prior) for a in tree.node(right).actions] == [
        ("common.", 0.6), ("apply H.", 0.1)]


def test_arithmetic_behind_definitions_and_equations_is_one_normalise_and_decide_step():
    text = "Definition top (p : P) : Z := 2 ^ Z.of_nat (bits p) - 1.\n"
    state = goal("(Z.of_nat k * top p < 2 ^ 31)%Z", "k : nat", "p : P", "Hb : bits p = 4%nat",
                 "Hk : Z.of_nat k = 8192%Z", "Hn : n = 3%nat", "Hf : forall m, g m = m")
    closers = [t for t in weights(state, text) if t.endswith("simpl; lia.")]
    assert closers == ["unfold top in *; rewrite ?Hb, ?Hk; simpl; lia."]
    real = goal("a * 2 <= top2 b", "a, b : R", "Ha : f a = 1")
    assert [t for t in weights(real, "Definition top2 (x : R) : R := x.\n")
            if t.endswith("simpl; lra.")] == ["unfold top2 in *; rewrite ?Ha; simpl; lra."]
    # With no equation to rewrite with, the unfold and the decision are candidates of their own.
    assert not [t for t in weights(goal("(top p <= 20)%Z", "p : P"), text) if "simpl; lia" in t]
    # Before intros, it is not offered.
    assert not [t for t in weights(goal("forall x : Z, (top p <= x)%Z", "p : P"), text)
                if t.endswith("simpl; lia.")]


def test_a_clamped_code_cast_to_a_real_gets_its_bounds_stated_for_lra():
    state = goal("False", "H : Rabs (50 - IZR (Z.max (-4) (Z.min (Rfloor (50 / 2)) 3))) <= 1",
                 "q : Z", "E : IZR (Z.min q k) <= 2")
    found = weights(state)
    term = "Z.max (-4) (Z.min (Rfloor (50 / 2)) 3)"
    assert found[f"pose proof (IZR_le _ _ (ltac:(lia) : ({term} <= 3)%Z))."] >= 1.5
    assert found[f"pose proof (IZR_le _ _ (ltac:(lia) : ((-4) <= {term})%Z))."] >= 1.5
    assert "pose proof (IZR_le _ _ (ltac:(lia) : (Z.min q k <= k)%Z))." in found
    # A minimum has no lower bound of its own to state.
    assert not any("<= Z.min q k" in t for t in found)


def test_a_hypothesis_whose_predicate_unfolds_to_the_goal_is_applied_first():
    text = FILE + """Definition near (x : R) (q : Z) : Prop := (Rabs (x - IZR q) <= 1)%R.
"""
    state = goal("Rabs (a * 2 - IZR (squash (a * 2))) <= 1",
                 "a : R", "H : forall y : R, near y (squash y)", "G : forall y : R, 0 <= y * y")
    found = weights(state, text)
    # As strong as the goal itself up to numbers; before, a defined predicate got 0.6.
    assert found["apply H."] == 2.5
    assert 0 < found["apply G."] < 1.0


def test_a_recursive_function_applied_to_a_constructor_is_computed_before_lemmas_apply():
    text = FILE + """Fixpoint repeat_step (n : nat) (x : R) : R :=
  match n with O => x | S m => spread (squash (repeat_step m x)) end.
"""
    before = weights(goal("Rabs (x - repeat_step n x) <= 3", "n : nat", "x : R"), text)
    after = weights(goal("Rabs (x - repeat_step (S n) x) <= 3", "n : nat", "x : R",
                         "IHn : Rabs (x - repeat_step n x) <= 3"), text)
    assert after["simpl."] > before.get("simpl.", 0.0)
    assert after["simpl."] >= max(w for t, w in after.items() if t.startswith("apply squash"))
    assert after["apply squash_close."] == pytest.approx(before["apply squash_close."] / 2, rel=0.3)


def test_a_lemma_naming_a_constant_no_unfolding_shows_is_applied_weakly():
    # Both conclude `Rabs … <= 3` and share no rarer symbol with the goal; `IZR` is in the body
    # of `spread`, which the goal mentions, `INR` in nothing the goal can unfold to.
    text = FILE + """Lemma int_close : forall q : Z, Rabs (IZR q - 1) <= 3.
Proof. Qed.
Lemma nat_close : forall n : nat, Rabs (INR n - 1) <= 3.
Proof. Qed.
"""
    state = goal("Rabs (y - spread (squash y)) <= 3", "y : R")
    found = weights(state, text)
    # (Their fit to the goal differs by a few per cent: the symbols' rarity.)
    assert found["apply nat_close."] < 0.6 * found["apply int_close."]
    bodies = statements.definition_bodies(text)
    assert {"Z.max", "Rfloor"} <= statements.unfolded_symbols("squash", bodies)
    assert "x" not in statements.unfolded_symbols("squash", bodies)  # its parameter
    assert statements.conclusion_symbols(": forall n : nat, Rabs (INR n - 1) <= 3") == {
        "Rabs", "INR"}


def test_unfolding_a_definition_that_shows_what_a_lemma_of_the_goals_shape_needs_comes_early():
    # `floor_near` is about `Rfloor`, which the goal shows only once `squash` is unfolded
    # (`apply` may not see through it: here a clamp stands around the floor).
    text = FILE + """Lemma floor_near : forall x : R, Rabs (x - IZR (Rfloor x)) <= 1.
Proof. Qed.
"""
    state = goal("Rabs (y - IZR (squash y)) <= 1", "y : R")
    found, alone = weights(state, text), weights(state)
    assert found["unfold squash."] == pytest.approx(found["apply floor_near."])
    assert found["unfold squash."] > alone["unfold squash."]
    # Before `intros`, unfolding is premature whatever it shows.
    early = weights(goal("forall y : R, Rabs (y - IZR (squash y)) <= 1"), text)
    assert early.get("unfold squash.", 0.0) < 0.5


def test_a_rewrite_whose_whole_left_side_is_in_the_goal_comes_before_one_with_its_head_only():
    text = FILE + """Lemma clip_in : forall a b q : Z, (a <= q <= b)%Z -> Z.max a (Z.min q b) = q.
Proof. Qed.
Lemma max_id : forall a : Z, Z.max a a = a.
Proof. Qed.
"""
    found = weights(goal("(Z.max 0 (Z.min (f y) 7) <= 7)%Z", "y : R"), text)
    assert found["rewrite clip_in."] > found["rewrite max_id."]


def test_a_state_whose_goals_a_lemma_or_hypothesis_concludes_is_worth_more():
    factor = goal_value.reach("coq", FILE)
    # `squash_close` has this head and relation and names nothing the goal lacks.
    near = goal("Rabs (y - spread (squash y)) <= 3", "y : R")
    # The same bound taken apart: nothing in the file concludes `- 3 <= …`.
    apart = goal("- 3 <= y - spread (squash y) <= 3", "y : R")
    assert factor(near) == 1.0
    assert factor(apart) == pytest.approx(goal_value.OUT_OF_REACH)
    # A hypothesis of the goal's shape brings it within reach; a state of two goals, one within
    # reach, lies between.
    assert factor(goal("(f y <= 1)%Z", "y : R", "H : forall z : R, (f z <= 1)%Z")) == 1.0
    both = ProofState((near.goals[0], apart.goals[0]))
    assert goal_value.OUT_OF_REACH < factor(both) < 1.0
    assert factor(ProofState(())) == 1.0
    assert goal_value.reach("lean", FILE)(apart) == 1.0
    value = scaled(goal_size_value, factor)
    assert value(apart) < value(near)


def test_a_first_try_is_brief_once_the_search_knows_how_long_its_steps_take():
    from alphaquant.search.base import GoalContext, SearchParts
    from alphaquant.search.grow import TYPICAL_AFTER, first_limit
    from alphaquant.search.running import Run

    run = Run(SearchParts(None, None, gate=lambda _t: None),  # type: ignore[arg-type]
              GoalContext("coq"), SearchConfig(tactic_timeout=5, first_timeout=1))
    assert first_limit(run, "apply H1.") == 5  # nothing known yet: the whole limit
    run.successes, run.success_seconds = TYPICAL_AFTER, TYPICAL_AFTER * 0.01
    assert first_limit(run, "apply H1.") == 1  # steps of 10 ms: a first try of 1 s
    run.success_seconds = TYPICAL_AFTER * 0.2
    assert first_limit(run, "apply H1.") == pytest.approx(4)  # slow steps: 20x their mean
    run.success_seconds = TYPICAL_AFTER * 2.0
    assert first_limit(run, "apply H1.") >= 5  # a prover whose every step is slow
    run.timed_out.add("apply H1.")
    assert first_limit(run, "apply H1.") == 1  # it ran past its limit elsewhere
