"""Monte Carlo tree search over tactics: select, expand, evaluate, backpropagate.

The loop knows nothing of Lean or Coq: it speaks to a Prover (provers/base.py), a TacticSource
(tactics/base.py) and a Gate that every tactic passes before a prover sees it.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from alphaquant.provers.base import (
    Progress,
    ProofState,
    Prover,
    Solved,
    TacticError,
    TacticTimeout,
)
from alphaquant.search.base import (
    Acceptor,
    Evaluator,
    EventSink,
    Gate,
    SearchConfig,
    SearchEvent,
    SearchResult,
    Trial,
)
from alphaquant.search.export import tree_json
from alphaquant.search.selection import puct_score, widening_limit
from alphaquant.search.tree import Action, Node, SearchTree, Status
from alphaquant.search.value import goal_size_value
from alphaquant.tactics.base import ProposalRequest, TacticSource, normalise

log = logging.getLogger(__name__)


# What the loop needs besides the tree: the components and the running statistics.
@dataclass
class _Run:
    prover: Prover
    source: TacticSource
    gate: Gate
    evaluator: Evaluator
    config: SearchConfig
    language: str
    file_text: str
    theorem: str
    rng: random.Random
    started: float = field(default_factory=time.monotonic)
    expansions: int = 0
    prover_seconds: float = 0.0
    errors: int = 0
    timeouts: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    tried: list[Trial] = field(default_factory=list)
    accept: Acceptor | None = None
    rejected: int = 0
    accepted: tuple[str, ...] | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def run_search(
    prover: Prover,
    source: TacticSource,
    root: ProofState,
    config: SearchConfig,
    *,
    gate: Gate,
    language: str,
    file_text: str = "",
    theorem: str = "",
    evaluator: Evaluator = goal_size_value,
    on_event: EventSink | None = None,
    accept: Acceptor | None = None,
    debug: bool = False,
) -> SearchResult:
    """Search for a tactic path that closes ``root``.

    Args:
      prover: judges every tactic.
      source: proposes candidates with priors.
      root: the state to prove.
      config: budgets and constants.
      gate: refuses unsafe tactic text before the prover sees it.
      language: passed to the tactic source ("coq" or "lean").
      file_text: the file, as context for the tactic source.
      theorem: the declaration's name, as context.
      evaluator: value estimate of new states.
      on_event: receives progress events.
      accept: the acceptance rule for complete paths; a refused path is a failed edge and the
        search goes on. The proof returned is then the accepted path itself.
      debug: check the tree's invariants after every step.

    Returns:
      The proof if one was found, with the search's statistics.
    """
    run = _Run(
        prover, source, gate, evaluator, config, language, file_text, theorem,
        random.Random(config.seed), accept=accept,
    )
    tree = SearchTree(root, evaluator(root))
    emit = on_event or (lambda _event: None)
    stop = "exhausted"
    while tree.node(root).status is Status.OPEN:
        if run.elapsed() >= config.budget_seconds:
            stop = "time"
            break
        if run.expansions >= config.max_expansions:
            stop = "expansions"
            break
        path, leaf, action = select(tree, run)
        if action is None:
            continue  # selection closed a dead end; the tree changed, select again
        value = expand(tree, run, leaf, action)
        backpropagate(tree, path, value)
        if debug:
            tree.check_invariants()
        emit(SearchEvent("expand", run.expansions, run.elapsed(), len(tree), action.tactic))
    proof = tree.proof()
    if proof is not None and accept is not None:
        proof = run.accepted
    if proof is not None:
        stop = "solved"
        emit(SearchEvent("solved", run.expansions, run.elapsed(), len(tree), " ".join(proof)))
    emit(SearchEvent("finished", run.expansions, run.elapsed(), len(tree), stop))
    return SearchResult(
        proved=proof is not None,
        proof=proof,
        expansions=run.expansions,
        seconds=run.elapsed(),
        prover_seconds=run.prover_seconds,
        nodes=len(tree),
        stop_reason=stop,
        errors=run.errors,
        timeouts=run.timeouts,
        refused=dict(run.refused),
        rejected=run.rejected,
        tried=tuple(run.tried),
        tree=tree_json(tree),
    )


def select(
    tree: SearchTree, run: _Run
) -> tuple[list[tuple[Node, Action]], ProofState, Action | None]:
    """Walk down from the root by PUCT to an untried action.

    Args:
      tree: the search tree.
      run: the running search.

    Returns:
      The (node, action) pairs walked, the state whose action is to be tried, and that action;
      the action is None when the walk hit a dead end (which it has marked FAILED).
    """
    path: list[tuple[Node, Action]] = []
    key = tree.root
    while True:
        node = tree.node(key)
        if node.actions is None:
            if len(key.path) >= run.config.max_depth:
                tree.mark_failed(key)
                return path, key, None
            node.actions = propose(run, node)
            tree.update_status(key)
        eligible = _eligible(tree, node, run.config)
        if not eligible:
            tree.mark_failed(key)
            return path, key, None
        action = max(eligible, key=lambda a: _score(a, node, run.config))
        path.append((node, action))
        if not action.tried:
            return path, key, action
        key = action.child


def _eligible(tree: SearchTree, node: Node, config: SearchConfig) -> list[Action]:
    """Actions still worth a visit: open children, then untried ones within the widening limit."""
    assert node.actions is not None
    limit = widening_limit(visits=node.visits, alpha=config.widening_alpha, cap=config.max_children)
    live = [a for a in node.actions if a.child is not None and tree.status(a.child) is Status.OPEN]
    started = sum(1 for a in node.actions if a.tried)
    untried = [a for a in node.actions if not a.tried]
    if started < limit or not live:
        live.extend(untried[: max(1, limit - started)])
    return live


def _score(action: Action, node: Node, config: SearchConfig) -> float:
    return puct_score(
        q=action.q(node.value),
        prior=action.prior,
        parent_visits=node.visits,
        visits=action.visits,
        c_puct=config.c_puct,
    )


def propose(run: _Run, node: Node) -> list[Action]:
    """Ask the tactic source for candidates and pass each through the gate.

    Args:
      run: the running search (source, gate, refusal counts).
      node: the node to propose for.

    Returns:
      Allowed candidates as untried actions, highest prior first (ties in source order).
    """
    request = ProposalRequest(
        state=node.state,
        k=run.config.candidates,
        language=run.language,
        file_text=run.file_text,
        theorem=run.theorem,
        failures=tuple(node.failures),
    )
    allowed = []
    for candidate in normalise(run.source.propose(request)):
        reason = run.gate(candidate.tactic)
        if reason is not None:
            run.refused[reason] += 1
            continue
        allowed.append(candidate)
    ranked = sorted(enumerate(allowed), key=lambda ic: (-ic[1].prior, ic[0]))
    return [Action(c.tactic, c.prior) for _, c in ranked[: run.config.candidates]]


def expand(tree: SearchTree, run: _Run, key: ProofState, action: Action) -> float:
    """Try ``action`` on the state ``key`` with the prover and grow the tree by its outcome.

    Args:
      tree: the search tree.
      run: the running search.
      key: the state the action belongs to.
      action: the untried action.

    Returns:
      The value to back up: 1 for a solved state, the evaluator's estimate for a new state, 0 for
      a failure.
    """
    node = tree.node(key)
    remaining = run.config.budget_seconds - run.elapsed()
    timeout = max(0.5, min(run.config.tactic_timeout, remaining))
    t0 = time.monotonic()
    outcome = run.prover.apply(key, action.tactic, timeout)
    seconds = time.monotonic() - t0
    run.prover_seconds += seconds
    run.expansions += 1

    def record(kind: str) -> None:
        run.tried.append(Trial(key, action.tactic, kind, seconds))

    if isinstance(outcome, Solved):
        if run.accept is not None:
            path = (*key.path, action.tactic)
            reason = run.accept(path)
            if reason is not None:
                run.rejected += 1
                record("rejected")
                return _fail(tree, key, node, action, f"refused: {reason}")
            run.accepted = path
        tree.add_solved(key, action)
        record("solved")
        return 1.0
    if isinstance(outcome, Progress):
        child = outcome.state
        if child == key:
            record("error")
            return _fail(tree, key, node, action, "no progress")
        value = tree.node(child).value if child in tree else run.evaluator(child)
        if not tree.add_child(key, action, child, value):
            record("error")
            return _fail(tree, key, node, action, "cycle")
        tree.update_status(key)
        record("progress")
        return value
    if isinstance(outcome, TacticTimeout):
        run.timeouts += 1
        record("timeout")
        return _fail(tree, key, node, action, f"timeout after {outcome.seconds:g}s")
    assert isinstance(outcome, TacticError)
    run.errors += 1
    record("error")
    return _fail(tree, key, node, action, outcome.message)


def _fail(tree: SearchTree, key: ProofState, node: Node, action: Action, why: str) -> float:
    """Record a rejected tactic on its parent (never as a node); worth 0."""
    action.failure = why
    node.failures.append((action.tactic, why))
    tree.update_status(key)
    return 0.0


def backpropagate(tree: SearchTree, path: list[tuple[Node, Action]], value: float) -> None:
    """Add one visit and ``value`` to every node and action on the walked path.

    Args:
      tree: the search tree (unused beyond the path's objects; kept for symmetry).
      path: the (node, action) pairs from the root down.
      value: the leaf's value.
    """
    del tree
    for node, action in path:
        node.visits += 1
        action.visits += 1
        action.value_sum += value
