"""The search tree: a DAG of proof states over networkx, with explicit status that checks itself.

Nodes are proof states keyed by their goals, so two tactic paths that reach the same goals meet in
one node (transpositions). Edges carry the tactic, its prior and its statistics. Solved edges end
in the sink node ``SOLVED``. A tactic the prover rejects is recorded on its parent as a failure,
never as a node.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from alphaquant.provers.base import ProofState


class Status(enum.Enum):
    OPEN = "open"
    PROVED = "proved"
    FAILED = "failed"


SOLVED = "SOLVED"  # the sink every closing tactic leads to


# A candidate tactic of a node; `child` is set once it has been tried and made progress.
@dataclass
class Action:
    tactic: str
    prior: float
    visits: int = 0
    value_sum: float = 0.0
    child: Any = None  # node key, SOLVED, or None while untried
    failure: str | None = None  # why the prover rejected it

    @property
    def tried(self) -> bool:
        return self.child is not None or self.failure is not None

    def q(self, fpu: float) -> float:
        """Mean value, or the first-play value ``fpu`` while unvisited."""
        return self.value_sum / self.visits if self.visits else fpu


# One proof state in the tree.
@dataclass
class Node:
    state: ProofState
    value: float
    visits: int = 0
    status: Status = Status.OPEN
    actions: list[Action] | None = None  # None until the tactic source has been asked
    failures: list[tuple[str, str]] = field(default_factory=list)


class SearchTree:
    """A facade over a networkx DiGraph; node keys are the ProofState values themselves."""

    def __init__(self, root: ProofState, root_value: float) -> None:
        self.graph: nx.DiGraph = nx.DiGraph()
        self.root = root
        self.graph.add_node(root, data=Node(root, root_value))
        self.graph.add_node(SOLVED)

    def node(self, key: ProofState) -> Node:
        data: Node = self.graph.nodes[key]["data"]
        return data

    def __contains__(self, state: ProofState) -> bool:
        return state in self.graph

    def __len__(self) -> int:
        count: int = self.graph.number_of_nodes()
        return count - 1  # the sink is not a state

    def status(self, key: Any) -> Status:
        return Status.PROVED if key == SOLVED else self.node(key).status

    def add_child(
        self, parent: ProofState, action: Action, child: ProofState, value: float
    ) -> bool:
        """Link ``action`` of ``parent`` to ``child`` (added if new).

        Returns False, linking nothing, when the edge would close a cycle.
        """
        if child in self.graph and nx.has_path(self.graph, child, parent):
            return False
        if child not in self.graph:
            self.graph.add_node(child, data=Node(child, value))
        self.graph.add_edge(parent, child, tactic=action.tactic)
        action.child = child
        return True

    def add_solved(self, parent: ProofState, action: Action) -> None:
        """Record that ``action`` closes every goal of ``parent``."""
        self.graph.add_edge(parent, SOLVED, tactic=action.tactic)
        action.child = SOLVED
        self.update_status(parent)

    def update_status(self, key: ProofState) -> None:
        """Recompute a node's status from its actions and propagate changes to its parents."""
        pending = [key]
        while pending:
            current = pending.pop()
            node = self.node(current)
            new = self._derived_status(node)
            if new is node.status:
                continue
            node.status = new
            pending.extend(p for p in self.graph.predecessors(current))

    def _derived_status(self, node: Node) -> Status:
        if node.actions is None:
            return Status.OPEN
        if any(a.child is not None and self.status(a.child) is Status.PROVED for a in node.actions):
            return Status.PROVED
        if all(
            a.failure is not None or (a.child is not None and self.status(a.child) is Status.FAILED)
            for a in node.actions
        ):
            return Status.FAILED
        return Status.OPEN

    def mark_failed(self, key: ProofState) -> None:
        """Give up on a node (too deep, or no candidates) and propagate."""
        node = self.node(key)
        node.status = Status.FAILED
        for parent in self.graph.predecessors(key):
            self.update_status(parent)

    def proof(self) -> tuple[str, ...] | None:
        """The tactic path from the root to SOLVED through proved nodes, or None."""
        if self.node(self.root).status is not Status.PROVED:
            return None
        tactics: list[str] = []
        key: Any = self.root
        while key != SOLVED:
            node = self.node(key)
            assert node.actions is not None
            step = next(
                a
                for a in node.actions
                if a.child is not None and self.status(a.child) is Status.PROVED
            )
            tactics.append(step.tactic)
            key = step.child
        return tuple(tactics)

    def check_invariants(self) -> None:
        """Assert the tree's structural promises; run after every step in debug mode."""
        assert nx.is_directed_acyclic_graph(self.graph), "the search graph has a cycle"
        for key in self.graph.nodes:
            if key == SOLVED:
                continue
            node = self.node(key)
            assert node.status is self._derived_status(node) or node.status is Status.FAILED, (
                f"stale status at {key.text[:60]!r}"
            )
            for action in node.actions or []:
                assert not (action.failure and action.child is not None), "failure with a child"
                if action.child is not None:
                    assert self.graph.has_edge(key, action.child), "action child without edge"
            edges = sum(1 for a in node.actions or [] if a.child is not None)
            assert edges >= self.graph.out_degree(key), "edge without an action"
