"""Monte Carlo tree search over tactics: select, expand, evaluate, backpropagate.

The loop knows nothing of Lean or Coq: it speaks to a Prover (provers/base.py), a TacticSource
(tactics/base.py) and a Gate that every tactic passes before a prover sees it. Two optional
prover capabilities widen it: ``focus`` (independent goals become a product node, each searched
as its own subproblem) and ``premises`` (library lemmas the tactic source may turn into
candidates). The whole budget is used: a timed-out tactic is queued again with a doubled limit,
and a state whose candidates ran out is asked for more (a larger premise pool) before it fails.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
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
    StopReason,
    Trial,
    TrialOutcome,
)
from alphaquant.search.export import tree_json
from alphaquant.search.selection import puct_score, widening_limit
from alphaquant.search.tree import SOLVED, Action, Node, SearchTree, Status
from alphaquant.search.value import goal_size_value
from alphaquant.tactics.base import ProposalRequest, TacticSource, normalise

# The selection rule: the score of one action of a node; the walk takes the highest.
SelectionRule = Callable[[Action, Node, SearchConfig], float]
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
    rule: SelectionRule | None = None
    rejected: int = 0
    accepted: tuple[str, ...] | None = None
    retried: int = 0
    products: int = 0
    reproposals: int = 0

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
    rule: SelectionRule | None = None,
    export_tree: bool = True,
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
      rule: the selection rule scoring an action of a node (default: PUCT, ``puct_rule``).
      export_tree: put the tree in the result as plain data (for run stores and exports).
      debug: check the tree's invariants after every step.

    Returns:
      The proof if one was found, with the search's statistics.
    """
    run = _Run(
        prover, source, gate, evaluator, config, language, file_text, theorem,
        random.Random(config.seed), accept=accept, rule=rule or puct_rule,
    )
    tree = SearchTree(root, evaluator(root))
    emit = on_event or (lambda _event: None)
    stop = StopReason.EXHAUSTED
    while tree.node(root).status is Status.OPEN:
        if run.elapsed() >= config.budget_seconds:
            stop = StopReason.TIME
            break
        if run.expansions >= config.max_expansions:
            stop = StopReason.EXPANSIONS
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
        stop = StopReason.SOLVED
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
        stop_detail=_stop_detail(tree, run, stop),
        errors=run.errors,
        timeouts=run.timeouts,
        refused=dict(run.refused),
        rejected=run.rejected,
        tried=tuple(run.tried),
        tree=tree_json(tree) if export_tree else None,
        retried=run.retried,
        products=run.products,
        reproposals=run.reproposals,
    )


def _stop_detail(tree: SearchTree, run: _Run, stop: StopReason) -> str:
    """Why the search stopped, in one sentence a user can act on."""
    states = len(tree)
    untried = sum(
        1
        for key in tree.graph.nodes
        if key != SOLVED
        for a in tree.node(key).actions or []
        if not a.tried and not tree.node(key).product
    )
    cost = (f"{run.expansions} tactics at {states} states, {run.timeouts} timeouts "
            f"({run.retried} retried longer), {run.reproposals} states asked again")
    if stop is StopReason.SOLVED:
        return f"proved after {cost}"
    if stop is StopReason.EXHAUSTED:
        return f"no candidate left anywhere after {cost}"
    if stop is StopReason.TIME:
        return f"the budget of {run.config.budget_seconds:g}s ran out with {untried} " \
               f"candidates untried, after {cost}"
    return f"the expansion limit of {run.config.max_expansions} was reached after {cost}"


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
            if not split_product(tree, run, key):
                node.actions = propose(run, node)
                node.final = run.config.proposal_rounds == 0
                tree.update_status(key)
            if node.status is not Status.OPEN:
                return path, key, None
        if node.product:
            # All goals must be proved: work on the hardest open one.
            assert node.actions is not None
            goals = [a for a in node.actions if tree.status(a.child) is Status.OPEN]
            action = min(goals, key=lambda a: (a.q(tree.node(a.child).value), a.visits))
            path.append((node, action))
            key = action.child
            continue
        eligible = _eligible(tree, node, run.config)
        if not eligible and repropose(run, node):
            eligible = _eligible(tree, node, run.config)
        if not eligible:
            tree.mark_failed(key)
            return path, key, None
        score = run.rule or puct_rule
        action = max(eligible, key=lambda a: score(a, node, run.config))
        path.append((node, action))
        if not action.tried:
            return path, key, action
        key = action.child


def split_product(tree: SearchTree, run: _Run, key: ProofState) -> bool:
    """Make a state of several independent goals a product node, when the prover can focus.

    Args:
      tree: the search tree.
      run: the running search.
      key: a state not yet expanded.

    Returns:
      True if ``key`` is now a product node (one linked subproblem per goal).
    """
    focus = getattr(run.prover, "focus", None)
    if not run.config.product_nodes or focus is None or len(key.goals) < 2:
        return False
    parts = [focus(key, i) for i in range(len(key.goals))]
    if any(p is None for p in parts):
        return False
    values = [tree.node(p).value if p in tree else run.evaluator(p) for p in parts]
    tree.add_product(key, parts, values)
    run.products += 1
    return True


def repropose(run: _Run, node: Node) -> bool:
    """Ask the source again for a state whose candidates ran out (a wider premise pool).

    Args:
      run: the running search.
      node: an ordinary node with every candidate tried and no open child.

    Returns:
      True if new candidates (texts not yet among the node's actions) were added.
    """
    assert node.actions is not None
    if node.rounds >= run.config.proposal_rounds:
        node.final = True
        return False
    node.rounds += 1
    run.reproposals += 1
    known = {a.tactic for a in node.actions}
    fresh = [a for a in propose(run, node, node.rounds) if a.tactic not in known]
    node.actions.extend(fresh)
    node.final = not fresh or node.rounds >= run.config.proposal_rounds
    return bool(fresh)


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


def propose(run: _Run, node: Node, round_: int = 0) -> list[Action]:
    """Ask the tactic source for candidates and pass each through the gate.

    Args:
      run: the running search (source, gate, refusal counts).
      node: the node to propose for.
      round_: how often this node's candidates ran out before (the pool widens each time).

    Returns:
      Allowed candidates as untried actions, highest prior first (ties in source order).
    """
    retrieve = getattr(run.prover, "premises", None)
    state = node.state
    pool = run.config.premises * (1 + round_) + 2 * len(state.path) if run.config.premises else 0
    request = ProposalRequest(
        state=state,
        k=run.config.candidates * (1 + round_),
        language=run.language,
        file_text=run.file_text,
        theorem=run.theorem,
        failures=tuple(node.failures),
        round=round_,
        premises=(lambda: retrieve(state, pool)) if retrieve is not None and pool > 0 else None,
    )
    allowed = []
    for candidate in normalise(run.source.propose(request)):
        reason = run.gate(candidate.tactic)
        if reason is not None:
            run.refused[reason] += 1
            continue
        allowed.append(candidate)
    ranked = sorted(enumerate(allowed), key=lambda ic: (-ic[1].prior, ic[0]))
    return [Action(c.tactic, c.prior, timeout=c.timeout) for _, c in ranked[: request.k]]


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
    limit = run.config.tactic_timeout
    if action.timeout is not None:
        # A heavy action's own limit, bounded by a share of the whole budget: one call never
        # eats the search.
        limit = min(action.timeout, max(limit, run.config.heavy_share * run.config.budget_seconds))
    timeout = max(0.5, min(limit, remaining))
    t0 = time.monotonic()
    outcome = run.prover.apply(key, action.tactic, timeout)
    seconds = time.monotonic() - t0
    run.prover_seconds += seconds
    run.expansions += 1

    def record(kind: TrialOutcome) -> None:
        run.tried.append(Trial(key, action.tactic, kind, seconds))

    if isinstance(outcome, (Solved, Progress)):
        said = outcome.path if isinstance(outcome, Solved) else outcome.state.path
        refused = _restated(run, action, said[-1] if said else action.tactic)
        if refused is not None:
            record(TrialOutcome.ERROR)
            return _fail(tree, key, node, action, refused)
    if isinstance(outcome, Solved):
        tree.add_solved(key, action)
        if run.accept is not None and tree.status(tree.root) is Status.PROVED:
            proof = tree.proof()
            assert proof is not None
            reason = run.accept(proof)
            if reason is not None:
                run.rejected += 1
                record(TrialOutcome.REJECTED)
                tree.revoke_solved(key, action, f"refused: {reason}")
                return 0.0
            run.accepted = proof
        record(TrialOutcome.SOLVED)
        return 1.0
    if isinstance(outcome, Progress):
        child = outcome.state
        if child == key:
            record(TrialOutcome.ERROR)
            return _fail(tree, key, node, action, "no progress")
        value = tree.node(child).value if child in tree else run.evaluator(child)
        if not tree.add_child(key, action, child, value):
            record(TrialOutcome.ERROR)
            return _fail(tree, key, node, action, "cycle")
        tree.update_status(key)
        record(TrialOutcome.PROGRESS)
        return value
    if isinstance(outcome, TacticTimeout):
        run.timeouts += 1
        record(TrialOutcome.TIMEOUT)
        cap = max(run.config.tactic_timeout, run.config.heavy_share * run.config.budget_seconds)
        longer = min(2 * outcome.seconds, cap)
        if action.retries < run.config.timeout_retries and outcome.seconds < min(remaining, longer):
            # Tried again after the others, with twice the limit: slow is not wrong.
            assert node.actions is not None
            node.actions.append(Action(action.tactic, action.prior / 2,
                                       timeout=longer, retries=action.retries + 1))
            run.retried += 1
        return _fail(tree, key, node, action, f"timeout after {outcome.seconds:g}s")
    assert isinstance(outcome, TacticError)
    run.errors += 1
    record(TrialOutcome.ERROR)
    return _fail(tree, key, node, action, outcome.message)


def _restated(run: _Run, action: Action, said: str) -> str | None:
    """Record the prover's restatement of ``action`` (what to write instead); it passes the
    gate like any tactic. Returns why it is refused, or None."""
    if " ".join(said.split()) == " ".join(action.tactic.split()):
        return None
    reason = run.gate(said)
    if reason is not None:
        run.refused[reason] += 1
        return f"restatement refused ({reason}): {said}"
    action.written = said
    return None


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
