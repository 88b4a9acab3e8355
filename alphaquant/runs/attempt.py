"""One goal: search for a proof; failing that, for a disproof; verify whatever was found.

The result item is the same shape in `search --json`, batch reports and the run store.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphaquant import proof
from alphaquant.config import Settings
from alphaquant.errors import AlphaquantError, ProverUnavailable
from alphaquant.provers.base import Judging, ProofState, Prover, Solved
from alphaquant.provers.negation import has_constants
from alphaquant.runs.beside import Beside, start_beside
from alphaquant.runs.counterexample import describe_disproof
from alphaquant.runs.hard_budget import hard_limit, run_until
from alphaquant.sanitize import check_tactic
from alphaquant.script import Script
from alphaquant.search.base import (
    Evaluator,
    GoalContext,
    SearchEvent,
    SearchParts,
    SearchResult,
)
from alphaquant.search.mcts import Search
from alphaquant.search.value import goal_size_value, scaled
from alphaquant.sites.site import GoalSite
from alphaquant.status import GoalStatus
from alphaquant.tactics.base import TacticSource
from alphaquant.tactics.learned.memory import TacticMemory
from alphaquant.tactics.rules import goal_value
from alphaquant.tactics.rules.automation import beside_tactics

log = logging.getLogger(__name__)

# The verdict on a proof whose re-check was still running when the goal's time ran out.
LATE = proof.Verdict(False, "the re-check did not finish within the goal's budget",
                     proof.Refusal.LATE)

LEFTOVER_SECONDS = 1.0  # less than this left after the proof search: no disproof search


def evaluator(language: str, file_text: str) -> Evaluator:
    """The value estimate of a search in ``file_text``: the goals' size, scaled by the share of
    goals within reach of what the file proves (tactics/rules/goal_value.py). Every search of the
    tool, and the benchmarks that measure it, take it from here."""
    return scaled(goal_size_value, goal_value.reach(language, file_text))


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
    proof: list[str] | None = None  # tactics (for disproved: the proof of the negation), flat
    seconds: float = 0.0
    expansions: int = 0
    message: str = ""  # why open or error; what a disproof proves
    prover_seconds: float = 0.0
    nodes: int = 0
    errors: int = 0
    timeouts: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    rejected: int = 0  # complete paths the acceptance rule refused
    tactics_tried: int = 0  # distinct tactic texts sent to the prover (expansions: every send)
    decl_line: int = 0  # the line of the declaration (``line`` is the hole's)
    negation: str = ""  # disproved: the statement its proof proves, ~ (forall …)
    counterexample: dict[str, str] = field(default_factory=dict)  # disproved: binder -> value
    assumes: list[str] = field(default_factory=list)  # proved: axioms and section hypotheses it
    # rests on besides the standard library's (the file's own axioms, allowed ones)
    adds_import: str = ""  # the import line(s) the proof adds after the file's own imports
    # (a disproof: those its check loaded after the claim; nothing is written)
    trees: dict[str, Any] = field(default_factory=dict, repr=False)  # phase -> tree data
    script: Script | None = None  # the proof as written: one script per goal a step left

    def to_json(self) -> dict[str, Any]:
        """The item shape shared by `search --json`, batch reports and the run store."""
        item = dataclasses.asdict(self)
        del item["trees"]
        item["script"] = self.script.to_json() if self.script is not None else None
        return item

    def written(self) -> Script | None:
        """The proof as it is written: its script, else its tactics flat."""
        if self.script is not None:
            return self.script
        return None if self.proof is None else Script(tuple(self.proof))


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
        "tactics_tried": len({t.tactic for r in results for t in r.tried}),
    }


# One goal to attempt: where it is, in which text, with what around it.
@dataclass(frozen=True)
class Goal:
    path: Path
    text: str  # the file's current text (earlier proofs of this run already spliced in)
    site: GoalSite  # the goal, located in ``text``
    context: str = ""  # text the tactic source may read besides the file (imported files)


def attempt_goal(
    prover: Prover,
    source: TacticSource,
    goal: Goal,
    settings: Settings,
    *,
    on_event: GoalSink | None = None,
    memory: TacticMemory | None = None,
    keep_trees: bool = True,
) -> tuple[GoalResult, str]:
    """Prove (or disprove) ``goal``: a short probe for a counterexample, the proof search, then
    the search for a disproof, each with its share of the budget.

    Args:
      prover: the prover session for the file.
      source: the tactic source.
      goal: the goal, its file's current text and context.
      settings: budgets and switches.
      on_event: receives tagged search events.
      memory: the learned-priors record, told every tactic tried.
      keep_trees: keep each phase's search tree in the result (the run store and `tree` want
        them; a single-file search does not).

    Returns:
      The goal's result, and the file text after it (with the proof spliced in when proved).
    """
    attempt = _Attempt(prover, source, goal, settings, on_event or (lambda _e: None), memory,
                       keep_trees)
    try:
        return attempt.run()
    except ProverUnavailable:  # the machine's fault: no result for the goal (runs/driver.py)
        raise
    except AlphaquantError as e:
        return attempt.finish(GoalStatus.ERROR, None, str(e)), goal.text


# One goal's attempt as it goes: its phases so far and the acceptance rule's verdicts.
@dataclass
class _Attempt:
    prover: Prover
    source: TacticSource
    goal: Goal
    settings: Settings
    emit: GoalSink
    memory: TacticMemory | None
    keep_trees: bool
    started: float = field(default_factory=time.monotonic)
    phases: list[tuple[str, SearchResult]] = field(default_factory=list)
    verdicts: dict[tuple[str, Script], tuple[proof.Verdict, Script]] = field(
        default_factory=dict)
    quick_tried: int = 0  # tactics the first pass tried

    def run(self) -> tuple[GoalResult, str]:
        site, text, budget = self.goal.site, self.goal.text, self.settings.search.budget_seconds
        disproof = self.settings.disproof
        root = self.prover.open(site, text)
        quick = self.first_pass(root)
        if quick is not None:
            return quick
        # The negation's time follows the evidence (has_constants): a statement with numeric
        # constants (sizes, bounds, precision) gets the probe and a reserved share; one of laws
        # alone gets neither, only what the proof search leaves if it stops early.
        evidence = disproof.enabled and has_constants(site.statement)
        counter: Search | None = None
        if evidence:
            negation = self.prover.open_negation(site, text)
            counter = self.searcher(negation, "disprove") if negation is not None else None
        if counter is not None and disproof.probe > 0:
            # A short look for a counterexample first: false claims fall fast this way. The
            # disproof search after the proof search continues this one's tree.
            found = self.disproved(self.go(counter, budget * disproof.probe, "probe"))
            if found is not None:
                return found, text
        share = disproof.share if counter is not None else 0.0
        seconds = budget * (1 - share) - self.elapsed()
        # Heavy automation beside the search where the negation gets no time (laws, not
        # quantities: first-order provers' ground); the negation's search has those cores
        # otherwise.
        beside = self.beside(root, seconds) if counter is None else None
        try:
            search = self.searcher(root, "prove", beside.tactics if beside else ())
            proved = self.go(search, seconds, "prove",
                             until=(lambda: beside.proof is not None) if beside else None)
            if beside is not None and not proved.proved:
                # The search stopped early (nothing left to try): the automation beside it
                # may still close the goal within the proof's time.
                beside.done.wait(max(0.0, self.started + budget * (1 - share)
                                     - time.monotonic()))
                if beside.proof is not None:
                    verdict, spliced, script = self.judged("prove", Script.of(beside.proof))
                    if verdict.ok:
                        return self.finish(GoalStatus.PROVED, script, "",
                                           assumes=list(verdict.assumes)), spliced
        finally:
            if beside is not None:  # hard budget: its session's closing is not waited for past it
                run_until(self.started + hard_limit(budget), beside.stop)
        if proved.proved and proved.script is not None:
            verdict, spliced, script = self.judged("prove", proved.script)
            if verdict.ok:
                return self.finish(GoalStatus.PROVED, script, "",
                                   assumes=list(verdict.assumes)), spliced
            why = f"proof found but rejected: {verdict.reason}"
            return self.finish(GoalStatus.OPEN, None, why), text
        how = f"({proved.stop_reason}: {proved.stop_detail}){self.refusals()}"
        if counter is None and disproof.enabled and not evidence and (
                budget - self.elapsed() > LEFTOVER_SECONDS):
            negation = self.prover.open_negation(site, text)  # the time the proof search left
            counter = self.searcher(negation, "disprove") if negation is not None else None
        given = f"the goal's {budget:g}s"  # the budget the user gave, not a phase's share
        if counter is None:
            return self.finish(GoalStatus.OPEN, None, f"no proof found in {given} {how}"), text
        found = self.disproved(self.go(counter, budget - self.elapsed(), "disprove"))
        if found is not None:
            return found, text
        return self.finish(GoalStatus.OPEN, None,
                           f"no proof or disproof found in {given} {how}"), text

    def first_pass(self, root: ProofState) -> tuple[GoalResult, str] | None:
        """The closers that settle easy goals, at the root, each under a short limit, within a
        share of the budget; the proved result when one closes the goal and is accepted."""
        config = self.settings.first_pass
        if not config.enabled or not root.goals:
            return None
        tactics = config.coq if self.goal.site.language == "coq" else config.lean
        until = self.started + config.share * self.settings.search.budget_seconds
        for tactic in tactics:
            if time.monotonic() >= until:
                break
            if check_tactic(tactic, self.goal.site.language) is not None:
                continue
            outcome = self.prover.apply(root, tactic, config.seconds)
            self.quick_tried += 1
            if not isinstance(outcome, Solved):
                continue
            verdict, spliced, script = self.judged("prove", Script.of(outcome.path))
            if verdict.ok:
                return self.finish(GoalStatus.PROVED, script, "",
                                   assumes=list(verdict.assumes)), spliced
        return None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def judged(self, kind: str, script: Script) -> tuple[proof.Verdict, str, Script]:
        """The acceptance rule's verdict on a complete proof, the text it would leave, and the
        script that text holds.

        The text checked is the structured one (bullets per goal). Should the kernel refuse it
        where the same tactics flat pass (a layout the goal counts got wrong), the flat text is
        what stands, and the script says so: the search's proof is never lost to its layout.
        """
        site, text = self.goal.site, self.goal.text
        key = (kind, script)
        if kind == "disprove" and key not in self.verdicts and isinstance(self.prover, Judging):
            # a prover that states the negation itself: from the kernel type, after the sections;
            # waited for only until the goal's budget and its slack run out, as a proof's is
            self.emit(GoalEvent(site, "verify"))
            answer = run_until(
                self.started + hard_limit(self.settings.search.budget_seconds),
                lambda: (proof.verify_disproof(self.prover, self.goal.path, text, site,
                                               script.tactics(), avoid=self.avoid),))
            judged = LATE if answer is None else answer[0]
            if judged is not None:
                self.verdicts[key] = (judged, script)
        if key not in self.verdicts:
            self.emit(GoalEvent(site, "verify"))
            verdict, used = self._verify(kind, script), script
            if (not verdict.ok and script.goals
                    and verdict.refusal is proof.Refusal.DOES_NOT_CHECK):
                flat = Script(script.tactics(), flat=f"the structured text was refused "
                                                     f"({verdict.reason}): written flat")
                again = self._verify(kind, flat)
                if again.ok:
                    log.warning("%s: %s", site.theorem, flat.flat)
                    verdict, used = again, flat
            self.verdicts[key] = (verdict, used)
        verdict, used = self.verdicts[key]
        if kind == "disprove":  # a disproof is never written: the text stays as it was
            return verdict, text, used
        return verdict, self._spliced(kind, used) or text, used

    @property
    def avoid(self) -> frozenset[str]:
        return frozenset(self.settings.search.avoid)

    def _spliced(self, kind: str, script: Script) -> str | None:
        """The file text with ``script`` in (a proof) or before the claim (a disproof lemma),
        and the import lines it needs after the file's own; None when the negation cannot be
        stated."""
        site, text = self.goal.site, self.goal.text
        if kind == "prove":
            spliced = proof.splice(text, site, script)
        else:
            inserted = proof.insert_disproof(text, site, script)
            if inserted is None:
                return None
            spliced = inserted[1]
        return proof.add_imports(spliced, self.imports(script.tactics()))[0]

    def imports(self, tactics: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
        """The import lines ``tactics`` need that the file lacks (provers/coq/requires.py)."""
        if not tactics:
            return ()
        return proof.needed_imports(self.goal.text, tactics, self.goal.site.language)

    def _verify(self, kind: str, script: Script) -> proof.Verdict:
        text = self.goal.text
        adds = self.imports(script.tactics())
        if adds and not self.settings.new_imports:
            return proof.Verdict(False, f"it needs `{' '.join(adds)}`, and new imports are "
                                        "refused (--no-new-imports)", proof.Refusal.IMPORTS)
        spliced = self._spliced(kind, script)
        if spliced is None:
            return proof.Verdict(False, "the negation cannot be stated", proof.Refusal.UNSTATED)
        unimported, start = self._unimported(kind, script)
        shift = len(spliced) - len(unimported)
        # Hard budget: the re-check is waited for only until the goal's budget and its slack
        # run out; a late one refuses the path (the goal's time is over anyway).
        verdict = run_until(
            self.started + hard_limit(self.settings.search.budget_seconds),
            lambda: proof.verify(self.prover, self.goal.path, text, spliced, script.tactics(),
                                 start + shift, holes_closed=1 if kind == "prove" else 0,
                                 avoid=self.avoid))
        return LATE if verdict is None else verdict

    def _unimported(self, kind: str, script: Script) -> tuple[str, int]:
        """The text with ``script`` in, before imports are added, and the offset there of the
        declaration to judge (the goal's own, or the disproof lemma)."""
        site, text = self.goal.site, self.goal.text
        if kind == "prove":
            return proof.splice(text, site, script), site.decl_start
        inserted = proof.insert_disproof(text, site, script)
        return (text, site.decl_start) if inserted is None else (inserted[1], inserted[2])

    def beside(self, root: ProofState, seconds: float) -> Beside | None:
        """The root's heavy automation started in a second session (runs/beside.py), to run
        for the proof search's ``seconds``; None when there is none or it is switched off."""
        config = self.settings.beside
        site = self.goal.site
        if not config.enabled or seconds < config.min_seconds or site.language != "coq":
            return None
        tactics = beside_tactics(self.goal.context + self.goal.text, self.settings.new_imports)
        return start_beside(self.prover, site, self.goal.text, tactics,
                            time.monotonic() + seconds)

    def searcher(self, root: ProofState, kind: str, beside: tuple[str, ...] = ()) -> Search:
        """A search from ``root`` for a proof (``kind`` "prove") or a disproof ("disprove"),
        whose complete paths the acceptance rule judges as that kind; ``beside``: tactics
        another session runs at the root already, which this search does not."""
        site, language = self.goal.site, self.goal.site.language
        running = {" ".join(t.split()) for t in beside}

        def gate(tactic: str) -> str | None:
            if " ".join(tactic.split()) in running:
                return "runs beside the search"
            return check_tactic(tactic, language)

        def accept(script: Script) -> str | None:
            verdict, _, _ = self.judged(kind, script)
            return None if verdict.ok else verdict.reason

        context = GoalContext(language, self.goal.context + self.goal.text, site.theorem)
        parts = SearchParts(self.prover, self.source, gate=gate,
                            accept=accept, evaluator=evaluator(language, context.file_text))
        return Search(parts, root, self.settings.search, context)

    def go(self, search: Search, seconds: float, phase: str,
           until: Callable[[], bool] | None = None) -> SearchResult:
        """One phase: ``search`` for ``seconds`` more (or until ``until()``)."""
        site = self.goal.site
        result = search.go(max(seconds, 0.5),
                           on_event=lambda e: self.emit(GoalEvent(site, phase, e)),
                           export_tree=self.keep_trees, until=until)
        self.phases.append((phase, result))
        if self.memory is not None:
            self.memory.record(result.tried, result.proof or ())
        return result

    def finish(self, status: GoalStatus, script: Script | None, message: str,
               **extra: Any) -> GoalResult:
        site = self.goal.site
        tactics = None if script is None else list(script.tactics())
        counts = _merge([r for _, r in self.phases])
        counts["expansions"] += self.quick_tried
        counts["tactics_tried"] += self.quick_tried
        result = GoalResult(
            str(self.goal.path), site.theorem, site.line, site.kind, status, tactics,
            message=message, **extra, seconds=round(self.elapsed(), 3), decl_line=site.decl_line,
            adds_import="\n".join(self.imports(tactics)), **counts,
            trees={p: r.tree for p, r in self.phases if r.tree is not None},
            script=script,
        )
        self.emit(GoalEvent(site, "done", result=result))
        return result

    def disproved(self, counter: SearchResult) -> GoalResult | None:
        """The accepted disproof, or None when the search found none."""
        if not counter.proved or counter.script is None:
            return None
        verdict, _, script = self.judged("disprove", counter.script)
        if not verdict.ok:  # cannot happen: the search returns accepted paths only
            return self.finish(GoalStatus.OPEN, None, f"disproof rejected: {verdict.reason}")
        site = self.goal.site
        name = f"aq_disproof_{site.theorem or 'goal'}"
        return self.finish(GoalStatus.DISPROVED, script, f"{name} proves the negation",
                           **describe_disproof(site, script.tactics()))

    def refusals(self) -> str:
        """What the acceptance rule refused, for the message of a goal left open."""
        refused = [v.reason for v, _ in self.verdicts.values() if not v.ok]
        if not refused:
            return ""
        paths = "path" if len(refused) == 1 else "paths"
        return f"; {len(refused)} complete {paths} refused, last: {refused[-1]}"
