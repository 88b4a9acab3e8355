"""The search tree: a DAG of proof states over networkx, with explicit status that checks itself.

Nodes are proof states keyed by their goals, so two tactic paths that reach the same goals meet in
one node (transpositions). Edges carry the tactic, its prior and its statistics. Solved edges end
in the sink node ``SOLVED``. A tactic the prover rejects is recorded on its parent as a failure,
never as a node.

A *product* node (AlphaProof's product node, HTPS's hypertree) is a state of several independent
goals: its actions are not tactics but one link per goal to that goal's own state, it is proved
when every goal is, failed when any goal is, and worth its hardest goal. Since states compare on
their goals, a goal proved once is proved wherever it appears.

The proof is a ``Script`` (alphaquant/script.py): it keeps which goals each step left, read off
the goal lists the prover answered, so that a writer can put a bullet before each; flat, it is
the tactics in the order they ran, each on the first goal left.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from alphaquant.provers.base import ProofState
from alphaquant.script import Script


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
        """The proof of ``key`` (the root by default) flat, or None: each tactic in the order it
        runs, on the first goal left (``script`` with its structure)."""
        script = self.script(key)
        return None if script is None else script.tactics()

    def script(self, key: ProofState | None = None) -> Script | None:
        """The proof of ``key`` (the root by default) through proved nodes, or None.

        An ordinary node contributes its first proved step, then that child's proof; a product
        node one proof per goal. Where a step leaves several goals, the script holds one proof
        per goal: the goal lists before and after the step say how many it left (the goals it
        did not work on are still there, last and unchanged). Where they do not (a step that
        changed the other goals too, such as existential variables shared between goals, or
        reordered them), that stretch of the proof is kept flat and says why.
        """
        key = self.root if key is None else key
        if self.node(key).status is not Status.PROVED:
            return None
        done: dict[ProofState, Script] = {}

        def of(start: ProofState) -> Script:
            if start not in done:
                done[start] = self._context(start, of)
            return done[start]

        return of(key)

    def _chosen(self, node: Node) -> Action:
        assert node.actions is not None
        return next(a for a in node.actions
                    if a.child is not None and self.status(a.child) is Status.PROVED)

    def _context(self, start: ProofState, of: Any) -> Script:
        """The script of the proved state ``start``: its steps down to the sink or to a product
        node (whose goals' scripts ``of`` gives), laid out per goal where the counts allow."""
        chain: list[tuple[ProofState, str, Any]] = []
        current: Any = start
        parts: list[Script] | None = None
        while current != SOLVED:
            node = self.node(current)
            if node.product:
                assert node.actions is not None
                parts = [of(a.child) for a in node.actions]
                break
            step = self._chosen(node)
            chain.append((current, step.text, step.child))
            current = step.child
        laid = _per_goal(start, chain, parts)
        if laid is not None:
            return laid
        return Script(tuple(t for _, t, _ in chain), tuple(parts or ()),
                      "the goals a step left could not be told apart (it changed the other "
                      "goals too, e.g. existential variables they share): kept flat")

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


# A goal's script while it is built: its steps so far, then its goals' scripts.
@dataclass
class _Open:
    steps: list[str] = field(default_factory=list)
    goals: list[_Open] = field(default_factory=list)
    done: Script | None = None  # a product's goal: its script, whole

    def close(self) -> Script:
        if self.done is not None:
            return Script((*self.steps, *self.done.steps), self.done.goals, self.done.flat)
        return Script(tuple(self.steps), tuple(g.close() for g in self.goals))


def _per_goal(start: ProofState, chain: list[tuple[ProofState, str, Any]],
              parts: list[Script] | None) -> Script | None:
    """The chain of steps from ``start`` (each run on the first goal of its state) as one script
    per goal, or None when the goal lists do not show which goals each step left.

    A step from goals [g1, …, gn] to [h1, …, hm] worked on g1 alone when its last n-1 goals are
    g2, …, gn (compared on their conclusions: coqtop prints the hypotheses of the first goal
    only); it then left k = m-(n-1) goals of g1's. A step that closed every goal left none.
    """
    top = _Open()
    open_goals = [top] if len(start.goals) == 1 else [_Open() for _ in start.goals]
    if len(start.goals) > 1:
        top.goals = open_goals[:]
    for state, tactic, child in chain:
        n = len(state.goals)
        if not open_goals or len(open_goals) != n:
            return None
        first = open_goals[0]
        first.steps.append(tactic)
        if child == SOLVED:
            if n != 1:
                return None  # it closed goals it was not run on
            open_goals = []
            continue
        after = child.goals
        left = len(after) - (n - 1)
        rest = [g.conclusion for g in state.goals[1:]]
        if left < 0 or [g.conclusion for g in after[left:]] != rest:
            return None
        if left == 0:
            open_goals = open_goals[1:]
        elif left > 1:
            first.goals = [_Open() for _ in range(left)]
            open_goals = first.goals + open_goals[1:]
    if parts is not None:
        if len(parts) != len(open_goals):
            return None
        for goal, part in zip(open_goals, parts, strict=True):
            goal.done = part
    elif open_goals:
        return None
    return top.close()
