"""The search tree: a DAG of proof states over networkx, with explicit status that checks itself.

Nodes are proof states keyed by their goals, so two tactic paths that reach the same goals meet in
one node (transpositions). Edges carry the tactic, its prior and its statistics. Solved edges end
in the sink node ``SOLVED``. A tactic the prover rejects is recorded on its parent as a failure,
never as a node.

A *product* node (AlphaProof's product node, HTPS's hypertree) is a state of several independent
goals: its actions are not tactics but one link per goal to that goal's own state, it is proved
when every goal is, failed when any goal is, and worth its hardest goal. Its proof is the goals'
proofs one after another (each runs on the first goal left). Since states compare on their goals,
a goal proved once is proved wherever it appears.
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
    written: str | None = None  # the prover's restatement of the tactic, to write instead
    timeout: float | None = None  # its own time limit; None: the search's
    retries: int = 0  # times it timed out before (a retry runs with a longer limit)

    @property
    def tried(self) -> bool:
        return self.child is not None or self.failure is not None

    @property
    def text(self) -> str:
        """What goes into the written proof for this step."""
        return self.written or self.tactic

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
    product: bool = False  # actions are links to independent goals, all to be proved
    rounds: int = 0  # times the tactic source was asked again after the candidates ran out
    final: bool = True  # False while the source may still be asked for more candidates


class SearchTree:
    """A facade over a networkx DiGraph; node keys are the ProofState values themselves."""

    def __init__(self, root: ProofState, root_value: float) -> None:
        self.graph: nx.DiGraph = nx.DiGraph()
        self.root = root
        self._nodes: dict[ProofState, Node] = {root: Node(root, root_value)}  # the graph's data
        self.graph.add_node(root, data=self._nodes[root])
        self.graph.add_node(SOLVED)

    def node(self, key: ProofState) -> Node:
        return self._nodes[key]

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
            self._nodes[child] = Node(child, value)
            self.graph.add_node(child, data=self._nodes[child])
        self.graph.add_edge(parent, child, tactic=action.text)
        action.child = child
        return True

    def add_product(
        self, key: ProofState, parts: list[ProofState], values: list[float]
    ) -> None:
        """Make ``key`` a product node over ``parts``, one independent goal each."""
        node = self.node(key)
        node.product = True
        node.actions = []
        for i, (part, value) in enumerate(zip(parts, values, strict=True)):
            link = Action(f"goal {i + 1} of {len(parts)}", 1.0 / len(parts))
            node.actions.append(link)
            if not self.add_child(key, link, part, value):
                link.failure = "cycle: the goal is an ancestor of itself"
        live = [self.node(a.child).value for a in node.actions if a.child is not None]
        node.value = min(live, default=0.0)
        self.update_status(key)

    def add_solved(self, parent: ProofState, action: Action) -> None:
        """Record that ``action`` closes every goal of ``parent``."""
        self.graph.add_edge(parent, SOLVED, tactic=action.text)
        action.child = SOLVED
        self.update_status(parent)

    def revoke_solved(self, parent: ProofState, action: Action, why: str) -> None:
        """Undo ``add_solved`` (or ``add_child``): the step becomes a failure recorded on
        ``parent``."""
        self.graph.remove_edge(parent, action.child)
        action.child = None
        action.failure = why
        self.node(parent).failures.append((action.tactic, why))
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
        if node.product:
            parts = [Status.FAILED if a.child is None else self.status(a.child)
                     for a in node.actions]
            if Status.FAILED in parts:
                return Status.FAILED
            return Status.PROVED if all(p is Status.PROVED for p in parts) else Status.OPEN
        if any(a.child is not None and self.status(a.child) is Status.PROVED for a in node.actions):
            return Status.PROVED
        if node.final and all(
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

    def proof(self, key: ProofState | None = None) -> tuple[str, ...] | None:
        """The proof of ``key`` (the root by default) through proved nodes, or None.

        An ordinary node contributes its first proved step, then that child's proof; a product
        node its goals' proofs in order (each closes the first goal left, the others wait).
        """
        key = self.root if key is None else key
        if self.node(key).status is not Status.PROVED:
            return None
        done: dict[Any, tuple[str, ...]] = {SOLVED: ()}

        def of(current: Any) -> tuple[str, ...]:
            if current not in done:
                node = self.node(current)
                assert node.actions is not None
                if node.product:
                    done[current] = tuple(t for a in node.actions for t in of(a.child))
                else:
                    step = next(
                        a
                        for a in node.actions
                        if a.child is not None and self.status(a.child) is Status.PROVED
                    )
                    done[current] = (step.text, *of(step.child))
            return done[current]

        return of(key)

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
            if node.product:
                assert node.actions, "a product node without goals"
            for action in node.actions or []:
                assert not (action.failure and action.child is not None), "failure with a child"
                if action.child is not None:
                    assert self.graph.has_edge(key, action.child), "action child without edge"
            edges = sum(1 for a in node.actions or [] if a.child is not None)
            assert edges >= self.graph.out_degree(key), "edge without an action"
