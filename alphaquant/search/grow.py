"""Growing the tree: a leaf's candidates, product nodes, and what one tactic does to a state.

Every change the search makes to the tree happens here (search/walk.py only reads it): ``grow``
gives a leaf its candidates (or splits it into independent goals, or closes it as a dead end),
and ``expand`` sends one action to the prover and records the outcome. The whole budget is used:
a timed-out tactic is queued again with a doubled limit, and a state whose candidates ran out is
asked for more (a larger premise pool) before it fails.
"""

from __future__ import annotations

import dataclasses
import time

from alphaquant.provers.base import Progress, ProofState, Solved, TacticError, TacticTimeout
from alphaquant.search.base import Trial, TrialOutcome
from alphaquant.search.running import Run
from alphaquant.search.tree import SOLVED, Action, Node, SearchTree, Status
from alphaquant.search.walk import eligible, wants_more
from alphaquant.tactics.base import ProposalRequest, normalise


def grow(tree: SearchTree, run: Run, key: ProofState) -> None:
    """Give the leaf ``key`` what the walk lacked there: its first candidates (or its goals as a
    product node), more candidates once it tried all it held (with children still open, once its
    visits earned more; without, at once), or its end as a dead end (FAILED).

    Args:
      tree: the search tree.
      run: the running search.
      key: a state the walk reached without an untried action to try.
    """
    node = tree.node(key)
    if node.actions is None:
        if len(key.path) >= run.config.max_depth:
            tree.mark_failed(key)
        elif not split_product(tree, run, key):
            node.actions = propose(run, node)
            node.final = run.config.proposal_rounds == 0
            tree.update_status(key)
        return
    if wants_more(node, run.config) or not eligible(tree, node, run.config):
        if not repropose(run, node) and not eligible(tree, node, run.config):
            tree.mark_failed(key)


def split_product(tree: SearchTree, run: Run, key: ProofState) -> bool:
    """Make a state of several independent goals a product node, when the prover can focus.

    Args:
      tree: the search tree.
      run: the running search.
      key: a state not yet expanded.

    Returns:
      True if ``key`` is now a product node (one linked subproblem per goal).
    """
    focus = getattr(run.parts.prover, "focus", None)
    if not run.config.product_nodes or focus is None or len(key.goals) < 2:
        return False
    parts = [run.in_prover(focus, key, i) for i in range(len(key.goals))]
    if any(p is None for p in parts):
        return False
    # A goal's value as if focusing were no step (it is bookkeeping, not a tactic): the
    # product's goals are worth what they would be worth side by side.
    values = [tree.node(p).value if p in tree else
              run.parts.evaluator(dataclasses.replace(p, path=key.path)) for p in parts]
    tree.add_product(key, parts, values)
    run.products += 1
    if tree.status(tree.root) is Status.PROVED and _refused(tree, run) is not None:
        tree.mark_failed(key)  # its goals were all proved elsewhere, by a path refused here
    return True


def _refused(tree: SearchTree, run: Run) -> str | None:
    """The acceptance rule's verdict on the proof the tree now holds (root proved): None and
    the proof kept as the accepted one, or why it is refused."""
    if run.parts.accept is None:
        return None
    proof = tree.script()
    assert proof is not None
    reason = run.in_prover(run.parts.accept, proof)  # the kernel's check
    if reason is None:
        run.accepted = proof
    else:
        run.rejected += 1
    return reason


def _stands(tree: SearchTree, run: Run, key: ProofState, action: Action) -> bool:
    """Whether the step ``action`` just linked at ``key`` stands: it does unless it made the
    root proved by a path the acceptance rule refuses, and is then undone (a failure)."""
    if tree.status(tree.root) is not Status.PROVED:
        return True
    reason = _refused(tree, run)
    if reason is None:
        return True
    tree.revoke_solved(key, action, f"refused: {reason}")
    return False


def repropose(run: Run, node: Node) -> bool:
    """Ask the source again for a state whose candidates ran out (a wider premise pool).

    Args:
      run: the running search.
      node: an ordinary node with every candidate tried (no open child left, or visits that
        earned more: walk.wants_more).

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


def propose(run: Run, node: Node, round_: int = 0) -> list[Action]:
    """Ask the tactic source for candidates and pass each through the gate.

    Args:
      run: the running search (source, gate, refusal counts).
      node: the node to propose for.
      round_: how often this node's candidates ran out before (the pool widens each time).

    Returns:
      Allowed candidates as untried actions, highest prior first (ties in source order).
    """
    retrieve = getattr(run.parts.prover, "premises", None)
    state = node.state
    pool = run.config.premises * (1 + round_) + 2 * len(state.path) if run.config.premises else 0
    request = ProposalRequest(
        state=state,
        k=run.config.candidates * (1 + round_),
        language=run.context.language,
        file_text=run.context.file_text,
        theorem=run.context.theorem,
        failures=tuple(node.failures),
        round=round_,
        avoid=frozenset(run.config.avoid),
        premises=((lambda: run.in_prover(retrieve, state, pool))
                  if retrieve is not None and pool > 0 else None),
        deadline=time.monotonic() + max(0.0, run.budget - run.elapsed()),
    )
    allowed = []
    for candidate in normalise(run.parts.source.propose(request)):
        reason = run.parts.gate(candidate.tactic)
        if reason is not None:
            run.refused[reason] += 1
            continue
        allowed.append(candidate)
    ranked = sorted(enumerate(allowed), key=lambda ic: (-ic[1].prior, ic[0]))
    actions = [Action(c.tactic, c.prior, timeout=c.timeout) for _, c in ranked[: request.k]]
    _promote(actions, run.history)
    return actions


def reinforce(tree: SearchTree, run: Run, key: ProofState) -> None:
    """The history heuristic (Schaeffer 1989, from game-tree search): once a goal is proved,
    the tactics of its proof come first wherever else they are still untried in this search.
    Sibling goals of a product are often alike (the same bound for the activations and the
    weights), and one's proof is then most of the other's.

    Args:
      tree: the search tree, with ``key`` just proved.
      run: the running search (its history grows).
      key: the state a closing tactic just proved.
    """
    top = key
    while True:  # up to the goal the proof belongs to: below a product node, or the root
        parents = [p for p in tree.graph.predecessors(top)
                   if not tree.node(p).product and tree.status(p) is Status.PROVED]
        if not parents:
            break
        top = parents[0]
    proof = tree.proof(top) or ()
    if len(proof) < 2:
        # A one-step proof (`apply H`) was ranked where it fits already; promoted everywhere it
        # took the first tries at every state of the search (the widening takes them in
        # order). A plan of several steps is what a sibling goal can reuse.
        return
    fresh = set(proof) - run.history
    if not fresh:
        return
    run.history |= fresh
    for state in tree.graph.nodes:
        if state is not SOLVED:
            node = tree.node(state)
            if node.actions and not node.product:
                _promote(node.actions, run.history)


def _promote(actions: list[Action], history: set[str]) -> None:
    """Raise the untried ``actions`` whose tactic is in ``history`` to the best prior among
    them, and put them first among the untried (the widening takes untried ones in order)."""
    if not history or not actions:
        return
    best = max(a.prior for a in actions)
    promoted = False
    for a in actions:
        if not a.tried and a.tactic in history and a.prior < best:
            a.prior = best
            promoted = True
    if promoted:
        actions.sort(key=lambda a: (-a.prior, a.tactic not in history))


TYPICAL_MULTIPLE = 20  # a first try may take this many times the search's mean successful step
TYPICAL_AFTER = 20  # successful steps seen before their mean sets first tries' limit


def first_limit(run: Run, tactic: str) -> float:
    """How long a tactic's first try at a state may run (below the search's tactic limit).

    Decision: a step that runs far longer than the steps this search has seen succeed is
    usually one whose unification or decision procedure runs away (`apply H1.` against a
    neighbouring goal: 5 s at each of four states of one search), so its first try is brief; a
    timeout queues it again at the whole limit as its state's last resort (walk.py
    ``eligible``). The bound follows the search's own steps, so a prover whose every step is
    slow (a Lean goal under Mathlib) keeps the whole limit; a tactic that already timed out
    at another state is brief from the start."""
    if tactic in run.timed_out:
        return run.config.first_timeout
    if run.successes < TYPICAL_AFTER:
        return run.config.tactic_timeout
    typical = run.success_seconds / run.successes
    return max(run.config.first_timeout, TYPICAL_MULTIPLE * typical)


def expand(tree: SearchTree, run: Run, key: ProofState, action: Action) -> float:
    """Try ``action`` on the state ``key`` with the prover and grow the tree by its outcome.

    Args:
      tree: the search tree.
      run: the running search.
      key: the state the action belongs to.
      action: the untried action.

    Returns:
      The value to back up: 1 for a solved state, the evaluator's estimate for a new state, a
      share of the state's own value for a failure (``_fail``), 0 for a path the acceptance
      rule refused.
    """
    node = tree.node(key)
    remaining = run.budget - run.elapsed()
    limit = run.config.tactic_timeout
    if action.timeout is not None:
        # A heavy action's own limit, bounded by a share of the whole budget: one call never
        # eats the search.
        limit = min(action.timeout, max(limit, run.config.heavy_share * run.config.budget_seconds))
    elif action.retries == 0:
        limit = min(limit, first_limit(run, action.tactic))
    timeout = max(0.5, min(limit, remaining))
    t0 = time.monotonic()
    outcome = run.parts.prover.apply(key, action.tactic, timeout)
    seconds = time.monotonic() - t0
    run.prover_seconds += seconds
    run.expansions += 1

    def record(kind: TrialOutcome) -> None:
        run.tried.append(Trial(key, action.tactic, kind, seconds))

    if isinstance(outcome, (Solved, Progress)):
        run.successes += 1
        run.success_seconds += seconds
        said = outcome.path if isinstance(outcome, Solved) else outcome.state.path
        refused = _restated(run, action, said[-1] if said else action.tactic)
        if refused is not None:
            record(TrialOutcome.ERROR)
            return _fail(tree, run, key, node, action, refused)
    if isinstance(outcome, Solved):
        tree.add_solved(key, action)
        reinforce(tree, run, key)
        if not _stands(tree, run, key, action):
            record(TrialOutcome.REJECTED)
            return 0.0
        record(TrialOutcome.SOLVED)
        return 1.0
    if isinstance(outcome, Progress):
        child = outcome.state
        if child == key:
            record(TrialOutcome.ERROR)
            return _fail(tree, run, key, node, action, "no progress")
        value = tree.node(child).value if child in tree else run.parts.evaluator(child)
        if not tree.add_child(key, action, child, value):
            record(TrialOutcome.ERROR)
            return _fail(tree, run, key, node, action, "cycle")
        tree.update_status(key)
        # A state proved elsewhere (a transposition) may prove the root through this step.
        if not _stands(tree, run, key, action):
            record(TrialOutcome.REJECTED)
            return 0.0
        record(TrialOutcome.PROGRESS)
        return value
    if isinstance(outcome, TacticTimeout):
        run.timeouts += 1
        run.timed_out.add(action.tactic)
        record(TrialOutcome.TIMEOUT)
        cap = max(run.config.tactic_timeout, run.config.heavy_share * run.config.budget_seconds)
        longer = min(max(2 * outcome.seconds, run.config.tactic_timeout), cap)
        if action.retries < run.config.timeout_retries and outcome.seconds < longer:
            # Tried again after the others, with twice the limit: slow is not wrong (and a
            # search continued later has the time a go that ran out had not).
            assert node.actions is not None
            node.actions.append(Action(action.tactic, action.prior / 2,
                                       timeout=longer, retries=action.retries + 1))
            run.retried += 1
        return _fail(tree, run, key, node, action, f"timeout after {outcome.seconds:g}s")
    assert isinstance(outcome, TacticError)
    run.errors += 1
    record(TrialOutcome.ERROR)
    return _fail(tree, run, key, node, action, outcome.message)


def _restated(run: Run, action: Action, said: str) -> str | None:
    """Record the prover's restatement of ``action`` (what to write instead); it passes the
    gate like any tactic. Returns why it is refused, or None."""
    if " ".join(said.split()) == " ".join(action.tactic.split()):
        return None
    reason = run.parts.gate(said)
    if reason is not None:
        run.refused[reason] += 1
        return f"restatement refused ({reason}): {said}"
    action.written = said
    return None


def _fail(tree: SearchTree, run: Run, key: ProofState, node: Node, action: Action,
          why: str) -> float:
    """Record a rejected tactic on its parent (never as a node). Worth a share of its state's
    value (``failure_share``).

    Decision: a rejection backed up 0, so an edge's mean value was mostly the share of tactics
    Coq accepted below it: a decomposition under which almost everything is accepted and nothing
    closes (``apply Rabs_le`` on a sum's bound) kept 1,500 of 2,400 visits, the lemma that fits
    (whose goals reject most candidates but close) 120. Backing up nothing instead let the
    first candidates a node accepts keep it whatever their rank (two disproofs lost); the state's
    whole value made a state of many rejections look as good as one of none. Half of it (an
    A/B on the project's long goals, ARCHITECTURE.md) keeps the order of both."""
    action.failure = why
    node.failures.append((action.tactic, why))
    tree.update_status(key)
    return run.config.failure_share * node.value


