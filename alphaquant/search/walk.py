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

    The limit counts the children a node has grown, not the tactics it has tried: a tactic the
    prover rejected cost one cheap call and leaves no state to share visits with, so it does not
    take a child's place. A timed-out tactic queued again is offered only once every other
    candidate of the node has been tried.
    """
    assert node.actions is not None
    limit = widening_limit(visits=node.visits, alpha=config.widening_alpha, cap=config.max_children)
    live = [a for a in node.actions if a.child is not None and tree.status(a.child) is Status.OPEN]
    grown = sum(1 for a in node.actions if a.child is not None)
    untried = [a for a in node.actions if not a.tried]
    untried = [a for a in untried if a.retries == 0] or untried
    if grown < limit or not live:
        live.extend(untried[: max(1, limit - grown)])
    return live


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
      action is None when the state has no candidates yet or none left to visit (the caller
      grows it, or closes it as a dead end).
    """
    score = rule or puct_rule
    path: Path = []
    key = tree.root
    while True:
        node = tree.node(key)
        if node.actions is None:
            return path, key, None
        if node.product:
            # All goals must be proved: work on the hardest open one.
            goals = [a for a in node.actions if tree.status(a.child) is Status.OPEN]
            action = min(goals, key=lambda a: (a.q(tree.node(a.child).value), a.visits))
            path.append((node, action))
            key = action.child
            continue
        choices = eligible(tree, node, config)
        if not choices:
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
