"""Monte Carlo tree search over tactics: select, grow or expand, evaluate, backpropagate.

The loop knows nothing of Lean or Coq: it speaks to a Prover (provers/base.py), a TacticSource
(tactics/base.py) and a Gate that every tactic passes before a prover sees it, all held in one
SearchParts. Two optional prover capabilities widen it: ``focus`` (independent goals become a
product node, each searched as its own subproblem) and ``premises`` (library lemmas the tactic
source may turn into candidates). The walk (search/walk.py) only reads the tree; every change to
it is search/grow.py's.
"""

from __future__ import annotations

from alphaquant.provers.base import ProofState
from alphaquant.search.base import (
    EventSink,
    GoalContext,
    SearchConfig,
    SearchEvent,
    SearchParts,
    SearchResult,
    StopReason,
)
from alphaquant.search.export import tree_json
from alphaquant.search.grow import expand, grow
from alphaquant.search.running import Run
from alphaquant.search.tree import SOLVED, SearchTree, Status
from alphaquant.search.walk import backpropagate, select


def run_search(
    parts: SearchParts,
    root: ProofState,
    config: SearchConfig,
    context: GoalContext,
    *,
    on_event: EventSink | None = None,
    export_tree: bool = False,
    debug: bool = False,
) -> SearchResult:
    """Search for a tactic path that closes ``root``.

    Args:
      parts: the prover, the tactic source, the gate, the acceptance rule (a refused complete
        path is a failed edge, and the proof returned is then the accepted path itself), the
        evaluator and the selection rule.
      root: the state to prove.
      config: budgets and constants.
      context: the language, file and theorem, as the tactic source's context.
      on_event: receives progress events.
      export_tree: put the tree in the result as plain data (for run stores and exports).
      debug: check the tree's invariants after every step.

    Returns:
      The proof if one was found, with the search's statistics.
    """
    run = Run(parts, context, config)
    tree = SearchTree(root, parts.evaluator(root))
    emit = on_event or (lambda _event: None)
    stop = StopReason.EXHAUSTED
    while tree.node(root).status is Status.OPEN:
        if run.elapsed() >= config.budget_seconds:
            stop = StopReason.TIME
            break
        if run.expansions >= config.max_expansions:
            stop = StopReason.EXPANSIONS
            break
        path, leaf, action = select(tree, config, parts.rule)
        if action is None:
            grow(tree, run, leaf)  # candidates for it, or its end as a dead end
        else:
            value = expand(tree, run, leaf, action)
            backpropagate(path, value)
            emit(SearchEvent("expand", run.expansions, run.elapsed(), len(tree), action.tactic))
        if debug:
            tree.check_invariants()
    proof = tree.proof()
    if proof is not None and parts.accept is not None:
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


def _stop_detail(tree: SearchTree, run: Run, stop: StopReason) -> str:
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
