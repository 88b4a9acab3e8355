"""Monte Carlo tree search over tactics: select, grow or expand, evaluate, backpropagate.

The loop knows nothing of Lean or Coq: it speaks to a Prover (provers/base.py), a TacticSource
(tactics/base.py) and a Gate that every tactic passes before a prover sees it, all held in one
SearchParts. Two optional prover capabilities widen it: ``focus`` (independent goals become a
product node, each searched as its own subproblem) and ``premises`` (library lemmas the tactic
source may turn into candidates). The walk (search/walk.py) only reads the tree; every change to
it is search/grow.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    """Search for a tactic path that closes ``root``, for ``config.budget_seconds``.

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
    search = Search(parts, root, config, context, debug=debug)
    return search.go(config.budget_seconds, on_event=on_event, export_tree=export_tree)


class Search:
    """One search's tree and counters, which a later ``go`` continues where the last one
    stopped (a disproof probe and the disproof search after the proof search are one search)."""

    def __init__(self, parts: SearchParts, root: ProofState, config: SearchConfig,
                 context: GoalContext, *, debug: bool = False) -> None:
        self.run = Run(parts, context, config)
        self.tree = SearchTree(root, parts.evaluator(root))
        self.debug = debug
        self.counted = 0  # nodes reported by earlier goes

    def go(self, seconds: float, *, on_event: EventSink | None = None,
           export_tree: bool = False, until: Callable[[], bool] | None = None) -> SearchResult:
        """Search ``seconds`` more (or until the root is decided, the expansion limit, or
        ``until()`` says so between two steps: another way to the goal has ended it).

        Returns:
          The proof if one was found; the statistics of this go (nodes: those it added; the
          exported tree is the whole search's).
        """
        run, tree, config = self.run, self.tree, self.run.config
        before = _counts(run)
        emit = on_event or (lambda _event: None)
        stop = StopReason.EXHAUSTED
        run.start(seconds)
        try:
            while tree.node(tree.root).status is Status.OPEN:
                if run.elapsed() >= run.budget or (until is not None and until()):
                    stop = StopReason.TIME
                    break
                if run.expansions >= config.max_expansions:
                    stop = StopReason.EXPANSIONS
                    break
                path, leaf, action = select(tree, config, run.parts.rule)
                if action is None:
                    grow(tree, run, leaf)  # candidates for it, or its end as a dead end
                else:
                    value = expand(tree, run, leaf, action)
                    backpropagate(path, value)
                    emit(SearchEvent("expand", run.expansions, run.elapsed(), len(tree),
                                     action.tactic))
                if self.debug:
                    tree.check_invariants()
        finally:
            run.stop()
        script = tree.script()
        if script is not None and run.parts.accept is not None:
            script = run.accepted
        proof = None if script is None else script.tactics()
        if proof is not None:
            stop = StopReason.SOLVED
            emit(SearchEvent("solved", run.expansions, run.elapsed(), len(tree), " ".join(proof)))
        emit(SearchEvent("finished", run.expansions, run.elapsed(), len(tree), stop))
        now = _counts(run)
        refused = {k: v - before["refused"].get(k, 0) for k, v in now["refused"].items()
                   if v - before["refused"].get(k, 0)}
        return SearchResult(
            proved=proof is not None,
            proof=proof,
            expansions=now["expansions"] - before["expansions"],
            seconds=now["seconds"] - before["seconds"],
            prover_seconds=now["prover_seconds"] - before["prover_seconds"],
            nodes=self._new_nodes(),
            stop_reason=stop,
            stop_detail=_stop_detail(tree, run, stop),
            errors=now["errors"] - before["errors"],
            timeouts=now["timeouts"] - before["timeouts"],
            refused=refused,
            rejected=now["rejected"] - before["rejected"],
            tried=tuple(run.tried[before["tried"]:]),
            tree=tree_json(tree) if export_tree else None,
            retried=now["retried"] - before["retried"],
            products=now["products"] - before["products"],
            reproposals=now["reproposals"] - before["reproposals"],
            script=script,
        )


    def _new_nodes(self) -> int:
        added, self.counted = len(self.tree) - self.counted, len(self.tree)
        return added


def _counts(run: Run) -> dict[str, Any]:
    """The run's counters now, to tell one go's share from the whole."""
    return {"expansions": run.expansions, "seconds": run.elapsed(),
            "prover_seconds": run.prover_seconds, "errors": run.errors,
            "timeouts": run.timeouts, "refused": dict(run.refused), "rejected": run.rejected,
            "tried": len(run.tried), "retried": run.retried, "products": run.products,
            "reproposals": run.reproposals}


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
        return f"the search's {run.budget:.1f}s ran out with {untried} " \
               f"candidates untried, after {cost}"
    return f"the expansion limit of {run.config.max_expansions} was reached after {cost}"
