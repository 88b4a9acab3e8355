"""The search tree's structure: transpositions, cycles, status propagation, proof extraction."""

import math

import pytest

from alphaquant.provers.base import ProofState, Subgoal
from alphaquant.search.selection import puct_score, ucb1_score, widening_limit
from alphaquant.search.tree import SOLVED, Action, SearchTree, Status


def state(*conclusions: str, path: tuple[str, ...] = ()) -> ProofState:
    return ProofState(tuple(Subgoal((), c) for c in conclusions), path=path)


def test_states_compare_on_goals_only():
    a = ProofState((Subgoal(("x : R",), "x = x"),), handle=3, path=("intros.",))
    b = ProofState((Subgoal(("x : R",), "x = x"),), handle=9, path=("intro x.",))
    assert a == b and hash(a) == hash(b)
    assert a != ProofState((Subgoal(("x : R",), "x <= x"),))


def test_transposition_is_one_node():
    root = state("A /\\ B")
    tree = SearchTree(root, 0.5)
    left, right = Action("split.", 0.5), Action("constructor.", 0.5)
    tree.node(root).actions = [left, right]
    child = state("A", "B", path=("split.",))
    assert tree.add_child(root, left, child, 0.4)
    assert tree.add_child(root, right, state("A", "B", path=("constructor.",)), 0.4)
    assert len(tree) == 2
    assert left.child == right.child == child
    tree.check_invariants()


def test_cycle_refused():
    root = state("P")
    tree = SearchTree(root, 0.5)
    step = Action("t1.", 1.0)
    tree.node(root).actions = [step]
    child = state("Q")
    assert tree.add_child(root, step, child, 0.5)
    back = Action("t2.", 1.0)
    tree.node(child).actions = [back]
    assert not tree.add_child(child, back, state("P"), 0.5)
    assert back.child is None
    tree.check_invariants()


def test_status_propagates_and_proof_is_the_proved_path():
    root = state("P")
    tree = SearchTree(root, 0.5)
    a, b = Action("bad.", 0.6), Action("good.", 0.4)
    tree.node(root).actions = [a, b]
    mid = state("Q")
    tree.add_child(root, b, mid, 0.5)
    a.failure = "nope"
    tree.update_status(root)
    assert tree.node(root).status is Status.OPEN
    finish = Action("done.", 1.0)
    tree.node(mid).actions = [finish]
    tree.add_solved(mid, finish)
    assert tree.node(mid).status is Status.PROVED
    assert tree.node(root).status is Status.PROVED
    assert tree.proof() == ("good.", "done.")
    assert finish.child == SOLVED
    tree.check_invariants()


def test_all_failed_means_failed():
    root = state("P")
    tree = SearchTree(root, 0.5)
    acts = [Action("x.", 0.5), Action("y.", 0.5)]
    tree.node(root).actions = acts
    for act in acts:
        act.failure = "error"
    tree.update_status(root)
    assert tree.node(root).status is Status.FAILED
    assert tree.proof() is None


def test_puct_prefers_prior_when_unvisited_and_value_when_visited():
    high = puct_score(q=0.0, prior=0.8, parent_visits=4, visits=0, c_puct=1.5)
    low = puct_score(q=0.0, prior=0.1, parent_visits=4, visits=0, c_puct=1.5)
    assert high > low
    assert puct_score(q=0.5, prior=0.2, parent_visits=9, visits=2, c_puct=1.0) == pytest.approx(
        0.5 + 0.2 * 3 / 3
    )
    assert ucb1_score(q=0.1, parent_visits=3, visits=0) == math.inf


def test_widening_grows_with_visits_up_to_the_cap():
    limits = [widening_limit(visits=n, alpha=0.5, cap=6) for n in (0, 3, 15, 1000)]
    assert limits == sorted(limits)
    assert limits[0] >= 1 and limits[-1] == 6


def test_product_node_is_proved_by_all_its_goals_and_assembles_their_proofs_in_order():
    root = state("A /\\ B")
    tree = SearchTree(root, 0.5)
    split = Action("split.", 1.0)
    tree.node(root).actions = [split]
    both = state("A", "B", path=("split.",))
    tree.add_child(root, split, both, 0.5)
    left, right = state("A", path=("split.", "1")), state("B", path=("split.", "2"))
    tree.add_product(both, [left, right], [0.7, 0.2])
    assert tree.node(both).product and tree.node(both).value == 0.2  # the hardest goal's
    for part, tactic in ((right, "b."), (left, "a.")):
        step = Action(tactic, 1.0)
        tree.node(part).actions = [step]
        tree.add_solved(part, step)
        tree.check_invariants()
        if part == right:
            assert tree.status(root) is Status.OPEN  # one goal is not enough
    assert tree.status(root) is Status.PROVED
    assert tree.proof() == ("split.", "a.", "b.")  # goal order, not the order proved


def test_product_node_fails_with_any_goal_and_a_revoked_step_reopens_it():
    root = state("A", "B")
    tree = SearchTree(root, 0.5)
    left, right = state("A", path=("1",)), state("B", path=("2",))
    tree.add_product(root, [left, right], [0.5, 0.5])
    good = Action("a.", 1.0)
    tree.node(left).actions = [good]
    tree.add_solved(left, good)
    tree.node(right).actions = [Action("b.", 1.0)]
    tree.node(right).actions[0].failure = "no"
    tree.update_status(right)
    assert tree.status(root) is Status.FAILED
    tree.revoke_solved(left, good, "refused")
    assert tree.status(left) is Status.FAILED and good.failure == "refused"
    tree.check_invariants()


def test_a_timed_out_tactic_queued_again_waits_until_its_state_has_nothing_else_open():
    """A retry costs twice its last limit: offered once the state's other candidates are tried
    and none of its children is open (its last resort), not while a child still is."""
    from alphaquant.search.base import SearchConfig
    from alphaquant.search.walk import eligible, wants_more

    root = state("P")
    tree = SearchTree(root, 0.5)
    step, slow = Action("t1.", 1.0), Action("firstorder.", 0.5)
    retry = Action("firstorder.", 0.25, timeout=10.0, retries=1)
    slow.failure = "timeout after 5s"
    node = tree.node(root)
    node.actions = [step, slow, retry]
    node.visits = 50
    child = state("Q")
    assert tree.add_child(root, step, child, 0.5)
    config = SearchConfig()
    assert eligible(tree, node, config) == [step]
    node.final = False  # the source may still be asked: the pending retry does not stop that
    assert wants_more(node, config)
    tree.mark_failed(child)
    assert eligible(tree, node, config) == [retry]
