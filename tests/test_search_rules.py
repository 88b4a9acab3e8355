"""The MCTS rules on small trees built in memory: scoring, widening, selection, backpropagation,
status propagation and transpositions. (The engine itself is tested on real Coq.)"""

from __future__ import annotations

import math

import pytest

from alphaquant.provers.base import ProofState, Subgoal
from alphaquant.search.base import GoalContext, SearchConfig, SearchParts
from alphaquant.search.grow import grow
from alphaquant.search.running import Run
from alphaquant.search.selection import puct_score, ucb1_score, widening_limit
from alphaquant.search.tree import SOLVED, Action, SearchTree, Status
from alphaquant.search.walk import backpropagate, eligible, select


def state(name: str, path: tuple[str, ...] = ()) -> ProofState:
    return ProofState((Subgoal((), name),), path=path)


def run_with(config: SearchConfig) -> Run:
    """A run whose nodes already hold their actions: no source or prover is ever asked."""
    parts = SearchParts(None, None, gate=lambda _t: None)  # type: ignore[arg-type]
    return Run(parts, GoalContext("coq"), config)


def test_puct_prefers_a_high_prior_until_visits_pile_up():
    fresh = puct_score(q=0.5, prior=0.6, parent_visits=4, visits=0, c_puct=1.5)
    assert fresh == pytest.approx(0.5 + 1.5 * 0.6 * 2 / 1)
    visited = puct_score(q=0.5, prior=0.6, parent_visits=4, visits=9, c_puct=1.5)
    low_prior = puct_score(q=0.5, prior=0.1, parent_visits=4, visits=0, c_puct=1.5)
    assert fresh > low_prior > visited
    assert ucb1_score(q=0.0, parent_visits=3, visits=0) == math.inf


@pytest.mark.parametrize(("visits", "alpha", "cap", "limit"), [
    (0, 0.5, 8, 2), (3, 0.5, 8, 3), (8, 0.5, 8, 4), (99, 0.5, 8, 8), (0, 0.5, 1, 1),
    (24, 1.0, 40, 26),
])
def test_widening_limit(visits, alpha, cap, limit):
    assert widening_limit(visits=visits, alpha=alpha, cap=cap) == limit


def test_only_the_widening_limit_of_untried_candidates_is_eligible():
    tree = SearchTree(state("root"), 0.5)
    node = tree.node(tree.root)
    node.actions = [Action(f"t{k}.", 0.2) for k in range(5)]
    config = SearchConfig(widening_alpha=0.5, max_children=8)
    assert [a.tactic for a in eligible(tree, node, config)] == ["t0.", "t1."]
    node.visits = 8  # limit 4; none started yet
    assert [a.tactic for a in eligible(tree, node, config)] == ["t0.", "t1.", "t2.", "t3."]


def test_rejected_tactics_leave_the_widening_slots_to_candidates_and_retries_come_last():
    tree = SearchTree(state("root"), 0.5)
    node = tree.node(tree.root)
    node.actions = [Action(f"bad{k}.", 0.2, failure="error") for k in range(3)]
    node.actions += [Action("retry.", 0.9, retries=1), Action("t0.", 0.1), Action("t1.", 0.1)]
    config = SearchConfig(widening_alpha=0.5, max_children=2)
    assert [a.tactic for a in eligible(tree, node, config)] == ["t0."]  # no child: one more try
    # Visited often, three errors and no child: room for the two children of the cap; the
    # timed-out tactic queued again waits for the fresh candidates, whatever its prior.
    node.visits = 24
    assert [a.tactic for a in eligible(tree, node, config)] == ["t0.", "t1."]
    node.actions[-1].failure = node.actions[-2].failure = "error"
    assert [a.tactic for a in eligible(tree, node, config)] == ["retry."]


def test_selection_walks_down_to_the_best_untried_action_by_puct():
    root, child = state("root"), state("child", ("a.",))
    tree = SearchTree(root, 0.5)
    top = tree.node(root)
    a, b = Action("a.", 0.7), Action("b.", 0.3)
    top.actions = [a, b]
    assert tree.add_child(root, a, child, 0.9)
    a.visits, a.value_sum, top.visits = 1, 0.9, 1
    tree.node(child).actions = [Action("low.", 0.1), Action("high.", 0.9)]
    path, key, action = select(tree, SearchConfig())
    assert [act.tactic for _, act in path] == ["a.", "high."]
    assert key == child and action is not None and action.tactic == "high."


def test_selection_changes_nothing_and_hands_a_dead_end_to_grow():
    root, child = state("root"), state("child", ("a.",))
    tree = SearchTree(root, 0.5)
    a = Action("a.", 1.0)
    tree.node(root).actions = [a]
    assert tree.add_child(root, a, child, 0.5)
    a.visits = tree.node(root).visits = 1
    spent = Action("x.", 1.0, failure="error")
    tree.node(child).actions = [spent]
    tree.node(child).final = False  # it could still be asked again, so it is not failed yet
    tree.node(child).rounds = SearchConfig().proposal_rounds  # ...but it has no asks left
    before = (tree.status(child), tree.status(root), a.visits, tree.node(child).visits)
    path, key, action = select(tree, SearchConfig())
    assert key == child and action is None and [act.tactic for _, act in path] == ["a."]
    assert (tree.status(child), tree.status(root), a.visits, tree.node(child).visits) == before
    grow(tree, run_with(SearchConfig()), key)
    assert tree.status(child) is Status.FAILED and tree.status(root) is Status.FAILED


def test_a_node_that_tried_all_it_holds_asks_for_more_once_its_visits_earn_them():
    from alphaquant.tactics.base import Candidate

    class Wider:  # the source's contract: a larger k and a later round give more candidates
        def propose(self, request):
            return [Candidate(f"t{i}.", 1.0 / (1 + i)) for i in range(request.k)]

    root, child = state("root"), state("child", ("t0.",))
    tree = SearchTree(root, 0.5)
    top = tree.node(root)
    top.actions = [Action("t0.", 1.0), Action("t1.", 0.5, failure="error")]
    top.final = False  # as grow leaves it while proposal rounds remain
    assert tree.add_child(root, top.actions[0], child, 0.9)
    config = SearchConfig(candidates=2, proposal_rounds=2)
    top.visits = top.actions[0].visits = 0  # the widening would try 2: nothing more wanted
    assert select(tree, config)[1] == child  # on to the child, which has no candidates yet
    top.visits = top.actions[0].visits = 8  # it would try 4, and holds 2, all tried
    path, key, action = select(tree, config)
    assert key == root and action is None and path == []
    parts = SearchParts(None, Wider(), gate=lambda _t: None)  # type: ignore[arg-type]
    grow(tree, Run(parts, GoalContext("coq"), config), key)
    assert [a.tactic for a in top.actions] == ["t0.", "t1.", "t2.", "t3."]
    assert tree.status(root) is Status.OPEN and top.rounds == 1


def test_a_node_with_nothing_left_is_marked_failed_and_so_is_a_parent_with_only_it():
    root, child = state("root"), state("child", ("a.",))
    tree = SearchTree(root, 0.5)
    a = Action("a.", 1.0)
    tree.node(root).actions = [a]
    tree.add_child(root, a, child, 0.5)
    tree.node(child).actions = [Action("x.", 1.0, failure="error")]
    tree.update_status(child)
    assert tree.status(child) is Status.FAILED
    assert tree.status(root) is Status.FAILED


def test_backpropagation_adds_one_visit_and_the_value_along_the_path():
    tree = SearchTree(state("root"), 0.5)
    n1, n2 = tree.node(tree.root), tree.node(tree.root)
    a1, a2 = Action("a.", 0.5), Action("b.", 0.5)
    backpropagate([(n1, a1), (n2, a2)], 0.25)
    backpropagate([(n1, a1)], 0.75)
    assert (a1.visits, a1.value_sum, a2.visits, a2.value_sum) == (2, 1.0, 1, 0.25)
    assert n1.visits == 3  # the same node object walked twice in the first path


def test_solved_propagates_proved_to_the_root_and_the_proof_follows_it():
    root, mid = state("root"), state("mid", ("s.",))
    tree = SearchTree(root, 0.5)
    s, t = Action("s.", 0.5), Action("t.", 0.5)
    tree.node(root).actions = [Action("dead.", 0.5, failure="error"), s]
    tree.add_child(root, s, mid, 0.5)
    tree.node(mid).actions = [t]
    tree.add_solved(mid, t)
    assert t.child == SOLVED
    assert tree.status(mid) is Status.PROVED and tree.status(root) is Status.PROVED
    assert tree.proof() == ("s.", "t.")


def test_transpositions_merge_and_a_cycle_is_refused():
    root, x, y = state("root"), state("x", ("a.",)), state("y", ("b.",))
    tree = SearchTree(root, 0.5)
    a, b, back, again = Action("a.", 0.5), Action("b.", 0.5), Action("c.", 0.5), Action("d.", 0.5)
    assert tree.add_child(root, a, x, 0.5)
    assert tree.add_child(root, b, y, 0.5)
    assert tree.add_child(y, again, state("x", ("b.", "d.")), 0.5)  # same goals as x: one node
    assert len(tree) == 3 and again.child == x
    assert not tree.add_child(x, back, root, 0.5)  # would close a cycle
    assert back.child is None


def test_the_selection_rule_is_passed_in():
    root = state("root")
    tree = SearchTree(root, 0.5)
    tree.node(root).actions = [Action("likely.", 0.9), Action("unlikely.", 0.1)]
    by_puct = select(tree, SearchConfig())[2]
    assert by_puct is not None and by_puct.tactic == "likely."
    chosen = select(tree, SearchConfig(), lambda action, node, config: -action.prior)[2]
    assert chosen is not None and chosen.tactic == "unlikely."
