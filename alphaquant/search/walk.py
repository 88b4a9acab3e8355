"""Selection and backpropagation: the walk down the tree and the values carried back up.

Both read the tree's statistics and nothing else: ``select`` changes nothing (a leaf that needs
candidates, or has none left, is handed back for search/grow.py to deal with), and
``backpropagate`` only adds visits and values along a walked path.
"""

from __future__ import annotations

from alphaquant.provers.base import ProofState
from alphaquant.search.base import SearchConfig, SelectionRule
from alphaquant.search.selection import puct_score, widening_limit
from alphaquant.search.tree import Action, Node, SearchTree, Status

# The walked path: each node and the action taken from it, from the root down.
Path = list[tuple[Node, Action]]


def puct_rule(action: Action, node: Node, config: SearchConfig) -> float:
    """The default selection rule: PUCT over the action's mean value (first-play value: the
    node's own) and prior, with the config's exploration constant."""
    return puct_score(
        q=action.q(node.value),
        prior=action.prior,
        parent_visits=node.visits,
        visits=action.visits,
        c_puct=config.c_puct,
    )


def eligible(tree: SearchTree, node: Node, config: SearchConfig) -> list[Action]:
    """Actions still worth a visit: open children, then untried ones within the widening limit.

    Two limits grow with the node's visits: the children it may grow (capped by
    ``max_children``) and the tactics it may try. Only the first is capped: a tactic the prover
    rejected leaves no state to share visits with, so at a much-visited node rejections do not
    keep the next candidates out. A timed-out tactic queued again is offered only once every
    other candidate of the node has been tried and none of its children is open any more: it
    costs twice its last limit, the state's last resort before it fails.

    Decision: a retry used to be offered as soon as the node's other candidates were tried;
    `firstorder` at the root of the project's longest goal then timed out at 4, 8 and 16 s
    while that root had children open below it, 28 s of a 116 s search that proved the goal.
    """
    assert node.actions is not None
    limit = widening_limit(visits=node.visits, alpha=config.widening_alpha, cap=config.max_children)
    tries = _tries(node, config)
    live: list[Action] = []
    untried: list[Action] = []
    fresh: list[Action] = []
    grown = failed = 0
    for a in node.actions:  # one pass: this runs at every node of every walk down
        if a.child is not None:
            grown += 1
            if tree.status(a.child) is Status.OPEN:
                live.append(a)
        elif a.failure is not None:
            failed += 1
        else:
            untried.append(a)
            if a.retries == 0:
                fresh.append(a)
    untried = fresh or ([] if live else untried)
    room = min(limit - grown, tries - grown - failed)
    if room > 0 or not live:
        live.extend(untried[: max(1, room)])
    return live


def wants_more(node: Node, config: SearchConfig) -> bool:
    """Whether the node has tried every candidate it holds while the widening would take
    another: time to ask the source again (a larger pool), even though children are still open.
    The candidate pool grows with the visits a state earns."""
    assert node.actions is not None
    if node.final or node.product or any(not a.tried and not a.retries for a in node.actions):
        return False  # (a retry waits for the node to have nothing else: see ``eligible``)
    return _tries(node, config) > len(node.actions)


def _tries(node: Node, config: SearchConfig) -> int:
    """How many tactics the node may have tried by now (the uncapped widening limit; one past
    what it holds at most, which is all either caller needs to know)."""
    assert node.actions is not None
    return widening_limit(visits=node.visits, alpha=config.widening_alpha,
                          cap=len(node.actions) + 1)


def select(
    tree: SearchTree, config: SearchConfig, rule: SelectionRule | None = None
) -> tuple[Path, ProofState, Action | None]:
    """Walk down from the root by the selection rule to an untried action.

    Args:
      tree: the search tree (read only).
      config: the widening constants and those the rule reads.
      rule: scores an action of a node; the walk takes the highest (default ``puct_rule``).

    Returns:
      The (node, action) pairs walked, the state reached, and its untried action to try; the
      action is None when the state has no candidates yet, has tried all it holds and earned
      more, or has none left to visit (the caller grows it, or closes it as a dead end).
    """
    score = rule or puct_rule
    path: Path = []
    key = tree.root
    while True:
        node = tree.node(key)
        if node.actions is None:
            return path, key, None
        if node.product:
            # All goals must be proved: take turns among the open ones, the hardest first on a
            # tie. Decision: not the hardest always; a rewrite's side condition that is false
            # (`Z.Even 31`) then never got a visit, and the product took thousands of visits
            # below its main goal before anything showed it could never be proved. By turns, a
            # true side goal closes in a few visits and a false one fails and takes the
            # product with it.
            goals = [a for a in node.actions if tree.status(a.child) is Status.OPEN]
            action = min(goals, key=lambda a: (a.visits, a.q(tree.node(a.child).value)))
            path.append((node, action))
            key = action.child
            continue
        choices = eligible(tree, node, config)
        if not choices or wants_more(node, config):
            return path, key, None
        action = max(choices, key=lambda a: score(a, node, config))
        path.append((node, action))
        if not action.tried:
            return path, key, action
        key = action.child


def backpropagate(path: Path, value: float) -> None:
    """Add one visit and ``value`` to every node and action on the walked path.

    Args:
      path: the (node, action) pairs from the root down.
      value: the leaf's value.
    """
    for node, action in path:
        node.visits += 1
        action.visits += 1
        action.value_sum += value
