"""One goal: search for a proof; failing that, for a disproof; verify whatever was found.

The result item is the same shape in `search --json`, batch reports and the run store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphaquant import proof
from alphaquant.config import Settings
from alphaquant.errors import AlphaquantError
from alphaquant.provers.base import Prover
from alphaquant.runs.counterexample import describe_disproof
from alphaquant.search.base import SearchEvent, SearchResult
from alphaquant.search.mcts import run_search
from alphaquant.sites.site import GoalSite
from alphaquant.status import GoalStatus
from alphaquant.tactics.base import TacticSource
from alphaquant.tactics.memory import TacticMemory
from alphaquant.tactics.sanitize import check_tactic


# A search event tagged with the goal and phase it belongs to.
@dataclass(frozen=True)
class GoalEvent:
    site: GoalSite
    phase: str  # "prove" | "disprove" | "verify" | "done"
    event: SearchEvent | None = None
    result: GoalResult | None = None


GoalSink = Callable[[GoalEvent], None]


# What became of one goal.
@dataclass(frozen=True)
class GoalResult:
    file: str
    theorem: str
    line: int
    kind: str
    status: GoalStatus
    proof: list[str] | None = None  # tactics (for disproved: the proof of the negation)
    seconds: float = 0.0
    expansions: int = 0
    message: str = ""  # why open or error; what a disproof proves
    prover_seconds: float = 0.0
    nodes: int = 0
    errors: int = 0
    timeouts: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    rejected: int = 0  # complete paths the acceptance rule refused
    tactics_tried: int = 0
    negation: str = ""  # disproved: the statement its proof proves, ~ (forall …)
    counterexample: dict[str, str] = field(default_factory=dict)  # disproved: binder -> value
    trees: dict[str, Any] = field(default_factory=dict, repr=False)  # phase -> tree data

    def to_json(self) -> dict[str, Any]:
        """The item shape shared by `search --json`, batch reports and the run store."""
        item = dataclasses.asdict(self)
        del item["trees"]
        return item


def _merge(results: list[SearchResult]) -> dict[str, Any]:
    refused: dict[str, int] = {}
    for r in results:
        for k, v in r.refused.items():
            refused[k] = refused.get(k, 0) + v
    return {
        "expansions": sum(r.expansions for r in results),
        "prover_seconds": round(sum(r.prover_seconds for r in results), 3),
        "nodes": sum(r.nodes for r in results),
        "errors": sum(r.errors for r in results),
        "timeouts": sum(r.timeouts for r in results),
        "refused": refused,
        "rejected": sum(r.rejected for r in results),
        "tactics_tried": sum(len(r.tried) for r in results),
    }


def attempt_goal(
    prover: Prover,
    source: TacticSource,
    path: Path,
    text: str,
    site: GoalSite,
    settings: Settings,
    *,
    context: str = "",
    on_event: GoalSink | None = None,
    memory: TacticMemory | None = None,
    keep_trees: bool = True,
) -> tuple[GoalResult, str]:
    """Prove (or disprove) the goal at ``site`` of ``text``.

    Args:
      prover: the prover session for the file.
      source: the tactic source.
      path: the file's path.
      text: the file's current text (earlier proofs of this run already spliced in).
      site: the goal, located in ``text``.
      settings: budgets and switches.
      context: text the tactic source may read besides the file (the project's imported files).
      on_event: receives tagged search events.
      memory: the learned-priors record, told every tactic tried.
      keep_trees: keep each phase's search tree in the result (the run store and `tree` want
        them; a single-file search does not).

    Returns:
      The goal's result, and the file text after it (with the proof spliced in when proved).
    """
    emit = on_event or (lambda _e: None)
    started = time.monotonic()
    budget = settings.search.budget_seconds
    language = site.language
    phases: list[tuple[str, SearchResult]] = []
    base = {"file": str(path), "theorem": site.theorem, "line": site.line, "kind": site.kind}

    verdicts: dict[tuple[str, tuple[str, ...]], proof.Verdict] = {}

    def judged(kind: str, tactics: tuple[str, ...]) -> tuple[proof.Verdict, str]:
        """The acceptance rule's verdict on a complete path, and the text it would leave."""
        if kind == "prove":
            spliced = proof.splice(text, site, tactics)
            holes = 1
        else:
            inserted = proof.insert_disproof(text, site, tactics)
            if inserted is None:
                return proof.Verdict(False, "the negation cannot be stated"), text
            spliced, holes = inserted[1], 0
        key = (kind, tactics)
        if key not in verdicts:
            emit(GoalEvent(site, "verify"))
            verdicts[key] = proof.verify(prover, path, text, spliced, tactics,
                                         site.decl_start, holes_closed=holes)
        return verdicts[key], spliced

    def search(root: Any, seconds: float, phase: str) -> SearchResult:
        config = dataclasses.replace(settings.search, budget_seconds=max(seconds, 0.5))
        kind = "prove" if phase == "prove" else "disprove"

        def accept(tactics: tuple[str, ...]) -> str | None:
            verdict, _ = judged(kind, tactics)
            return None if verdict.ok else verdict.reason

        result = run_search(
            prover, source, root, config,
            gate=lambda t: check_tactic(t, language),
            language=language, file_text=context + text, theorem=site.theorem,
            on_event=lambda e: emit(GoalEvent(site, phase, e)), accept=accept,
            export_tree=keep_trees,
        )
        phases.append((phase, result))
        if memory is not None:
            memory.record(result.tried, result.proof or ())
        return result

    def finish(status: GoalStatus, tactics: list[str] | None, message: str,
               **extra: Any) -> GoalResult:
        result = GoalResult(
            **base, status=status, proof=tactics, message=message, **extra,
            seconds=round(time.monotonic() - started, 3), **_merge([r for _, r in phases]),
            trees={p: r.tree for p, r in phases if r.tree is not None},
        )
        emit(GoalEvent(site, "done", result=result))
        return result

    def disproved(counter: SearchResult) -> tuple[GoalResult, str] | None:
        """The accepted disproof, or None when the search found none."""
        if not counter.proved or counter.proof is None:
            return None
        verdict, _ = judged("disprove", counter.proof)
        if not verdict.ok:  # cannot happen: the search returns accepted paths only
            return finish(GoalStatus.OPEN, None, f"disproof rejected: {verdict.reason}"), text
        name = f"aq_disproof_{site.theorem or 'goal'}"
        return finish(GoalStatus.DISPROVED, list(counter.proof), f"{name} proves the negation",
                      **describe_disproof(site, counter.proof)), text

    def refusals() -> str:
        """What the acceptance rule refused, for the message of a goal left open."""
        refused = [v.reason for v in verdicts.values() if not v.ok]
        if not refused:
            return ""
        paths = "path" if len(refused) == 1 else "paths"
        return f"; {len(refused)} complete {paths} refused, last: {refused[-1]}"

    def elapsed() -> float:
        return time.monotonic() - started

    try:
        root = prover.open(site, text)
        negation = prover.open_negation(site, text) if settings.disproof.enabled else None
        if negation is not None and settings.disproof.probe > 0:
            # A short look for a counterexample first: false claims fall fast this way.
            verdict = disproved(search(negation, budget * settings.disproof.probe, "probe"))
            if verdict is not None:
                return verdict
        share = settings.disproof.share if negation is not None else 0.0
        found = search(root, budget * (1 - share) - elapsed(), "prove")
        if found.proved and found.proof is not None:
            verdict_, spliced = judged("prove", found.proof)
            if verdict_.ok:
                return finish(GoalStatus.PROVED, list(found.proof), ""), spliced
            why = f"proof found but rejected: {verdict_.reason}"
            return finish(GoalStatus.OPEN, None, why), text
        if negation is None:
            return finish(GoalStatus.OPEN, None, f"no proof found ({found.stop_reason}: "
                                        f"{found.stop_detail}){refusals()}"), text
        verdict = disproved(search(negation, budget - elapsed(), "disprove"))
        if verdict is not None:
            return verdict
        return finish(GoalStatus.OPEN, None, f"no proof or disproof found ({found.stop_reason}: "
                                    f"{found.stop_detail}){refusals()}"), text
    except AlphaquantError as e:
        return finish(GoalStatus.ERROR, None, str(e)), text
