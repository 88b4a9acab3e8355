"""The dispatch loop of one batch session: queues, workers, retries, deadline, events.

The driver (this process) owns the run store and is the only writer. It compiles the project's
files once, in dependency order, before any worker starts (so no two workers build the same
dependency), then hands each idle worker the next goal, preferring the file that worker last had
open (its prover for that file is warm), else a file no worker is on.

Policies, each in one place below:
  * Retries: an attempt that ends in ``error`` (the prover crashed beyond its own recovery, or the
    worker died or hung) is retried on a fresh prover; after MAX_TRIES such ends the goal's pass
    is recorded as ``error`` with the last reason, and the run goes on. A worker that reports
    WORKER_CRASH_LIMIT errors in a row exits and is restarted.
  * Second pass: a goal left ``open`` because its proof search ran out of budget — the prove
    tree's root still open, i.e. stop reason "time" or "expansions" — is tried again after the
    first pass with ``second_pass`` times the budget. A goal whose search was *exhausted* (every
    candidate failed; the root is failed) is not: the same tactic source would give the same
    tree, so more time buys nothing, however fast it failed.
  * Deadline (``hours``): no goal starts after it, and no budget reaches past it.
  * Resume: goals whose pass has a result are never attempted again; attempts in flight when the
    run was killed are marked ``interrupted`` and their goals are retried.
  * The machine's fault is no result: a prover missing or unable to start (ProverUnavailable)
    halts the session (no goal starts after it); the goal it hit stays to try, and so does a
    goal an older version recorded as an error for that reason (``environment_error``).
  * Ctrl-C or SIGTERM: the attempts in flight are marked ``interrupted``, and run.log and the
    summary say what finished, what is left and the command that resumes.
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alphaquant.config import Settings
from alphaquant.errors import AlphaquantError, ProverUnavailable
from alphaquant.provers.coq.coqc import COQ_MISSING
from alphaquant.provers.lean.lake import LAKE_MISSING
from alphaquant.provers.registry import make_prover
from alphaquant.runs.attempt import GoalResult
from alphaquant.runs.local_executor import LocalExecutor
from alphaquant.runs.options import BatchOptions, options_json
from alphaquant.runs.store import (
    GoalRow,
    RunStore,
)
from alphaquant.runs.work import Executor, Finished, WorkItem, WorkOutput
from alphaquant.runs.write_back import write_back
from alphaquant.status import GoalStatus

log = logging.getLogger(__name__)

MAX_TRIES = 3  # attempts of one goal in one pass that may end in error before it is given up
MIN_BUDGET = 2.0  # seconds: no goal starts with less than this before the deadline


# Goal counts of the run, for progress and the summary.
@dataclass(frozen=True)
class Counts:
    total: int = 0
    proved: int = 0
    disproved: int = 0
    open: int = 0
    error: int = 0
    running: int = 0
    queued: int = 0  # work items waiting (both passes)

    @property
    def done(self) -> int:
        return self.proved + self.disproved + self.open + self.error


# One thing that happened in a batch run; the CLI renders it, run.log keeps it as a line.
@dataclass(frozen=True)
class BatchEvent:
    kind: str  # run | compile | note | start | finish | retry | restart | deadline | write | done
    message: str
    counts: Counts
    slot: int | None = None
    goal: str = ""
    item: dict[str, Any] | None = None


BatchSink = Callable[[BatchEvent], None]


# What a batch run did.
@dataclass(frozen=True)
class BatchSummary:
    run_dir: Path | None  # None: nothing to do (no goals), no run directory made
    counts: Counts
    writes: list[tuple[str, str, str]] = field(default_factory=list)  # (file, status, message)
    seconds: float = 0.0
    halted: str = ""  # the machine's fault that stopped the session (a prover missing)
    interrupted: bool = False  # Ctrl-C or SIGTERM
    left: list[str] = field(default_factory=list)  # goals still to try (labels), when stopped
    unfinished: list[tuple[str, int, str, str]] = field(default_factory=list)
    # (file, line, theorem, status) of each goal whose latest result is open or error

    @property
    def resume_command(self) -> str:
        return f"alphaquant batch --resume {shlex.quote(str(self.run_dir))}"


# What an older version recorded as a goal's error though the machine was at fault.
ENVIRONMENT_MESSAGES = (COQ_MISSING, LAKE_MISSING, "Coq is not installed (",
                        "Lean is not installed (", "could not start coqtop",
                        "could not run the Lean REPL", "Error: could not run ")


def environment_error(message: str) -> bool:
    """Whether a stored error result's ``message`` blames the machine, not the goal."""
    return any(m in message for m in ENVIRONMENT_MESSAGES)


def make_executor(options: BatchOptions, settings: Settings, run_dir: Path) -> Executor:
    if options.executor == "ray":
        from alphaquant.runs.ray_executor import RayExecutor

        return RayExecutor(options.ray_address, options.workers, settings)
    return LocalExecutor(options.workers or os.cpu_count() or 1, settings, run_dir / "worker.log")


class RunLog:
    """run.log: one timestamped line per event, flushed at once (for unattended runs)."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a", encoding="utf-8")

    def line(self, message: str) -> None:
        stamp = datetime.now().isoformat(timespec="seconds")
        self.file.write(f"{stamp} {message}\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def budget_bound(item: dict[str, Any], trees: dict[str, Any]) -> bool:
    """Whether an open result stopped on its budget (the prove tree's root still open)."""
    if item.get("status") != GoalStatus.OPEN:
        return False
    tree = trees.get("prove") or {}
    root = next((n for n in tree.get("nodes", []) if n.get("root")), None)
    return root is not None and root.get("status") == "open"


class Driver:
    """The dispatch loop of one session: queue, workers, retries, deadline, events."""

    def __init__(self, store: RunStore, settings: Settings, options: BatchOptions,
                 runlog: RunLog, on_event: BatchSink | None) -> None:
        self.store, self.settings, self.options = store, settings, options
        self.runlog, self.on_event = runlog, on_event
        self.project = store.info().project
        self.texts = store.files()
        self.goals = {g.id: g for g in store.goals()}
        self.first: deque[GoalRow] = deque()
        self.second: deque[GoalRow] = deque()
        self.running: dict[int, tuple[WorkItem, float]] = {}  # slot -> (item, started)
        self.last_file: dict[int, str] = {}
        self.deadline = (time.monotonic() + options.hours * 3600) if options.hours else None
        self.second_factor = options.second_pass or 0.0
        self.halted = ""  # the machine's fault that stopped dispatching

    # -- events ----------------------------------------------------------------------------

    def counts(self) -> Counts:
        by = self.store.status_counts()
        second_pending = len(self.second) + sum(
            1 for item, _ in self.running.values() if item.pass_no == 2)
        return Counts(len(self.goals), by.get(GoalStatus.PROVED, 0),
                      by.get(GoalStatus.DISPROVED, 0),
                      by.get(GoalStatus.OPEN, 0) - second_pending, by.get(GoalStatus.ERROR, 0),
                      len(self.running), len(self.first) + len(self.second))

    def emit(self, kind: str, message: str, **extra: Any) -> None:
        item = extra.get("item")
        status = f"{item['status']} " if item else ""  # a finished goal's line leads with it
        self.runlog.line(f"{kind}: {status}{message}")
        if self.on_event is not None:
            self.on_event(BatchEvent(kind, message, self.counts(), **extra))

    # -- the session -----------------------------------------------------------------------

    def run(self, started: float, notices: list[str]) -> BatchSummary:
        session = self.store.begin_session(options_json(self.options))
        self._plan()
        c = self.counts()
        self.emit("run", f"session {session} of {self.store.run_dir}: {c.total} goals, "
                         f"{c.done} done, {len(self.first)} to try, "
                         f"{len(self.second)} for the second pass")
        for notice in notices:
            self.emit("note", notice)
        try:
            self._compile()
            if (self.first or self.second) and not self.halted:
                executor = make_executor(self.options, self.settings, self.store.run_dir)
                try:
                    self._loop(executor)
                finally:
                    executor.close()
        except KeyboardInterrupt:
            return self._interrupted(started)
        writes = (write_back(self.store, self.settings, self.emit)
                  if self.options.write and not self.halted else [])
        c = self.counts()
        self.emit("done", f"{c.proved} proved, {c.disproved} disproved, {c.open} open, "
                          f"{c.error} error ({c.done} of {c.total} goals)")
        return BatchSummary(self.store.run_dir, c, writes, time.monotonic() - started,
                            halted=self.halted, left=self.left(),
                            unfinished=self.unfinished())

    def left(self) -> list[str]:
        """The goals with no result for their first pass, or a second pass still owed."""
        results = {(r.goal_id, r.pass_no) for r in self.store.results()}
        owed = {g.id for g in self.second} | {
            i.goal_id for i, _ in self.running.values() if i.pass_no == 2}
        return [g.label for g in self.goals.values()
                if (g.id, 1) not in results or g.id in owed]

    def unfinished(self) -> list[tuple[str, int, str, str]]:
        """(file, line, theorem, status) of every goal whose latest result is open or error."""
        rows = []
        for goal_id, row in self.store.latest().items():
            if row.status in (GoalStatus.OPEN, GoalStatus.ERROR):
                g = self.goals[goal_id]
                line = row.item.get("decl_line") or g.line  # the theorem's line, not the hole's
                rows.append((g.file, line, g.label.split(":", 1)[1], row.status))
        return rows

    def _interrupted(self, started: float) -> BatchSummary:
        """Ctrl-C or SIGTERM: in-flight attempts marked, run.log told what is left."""
        self.store.interrupt_running()
        self.running.clear()
        c = self.counts()
        summary = BatchSummary(self.store.run_dir, c, [], time.monotonic() - started,
                               interrupted=True, left=self.left(), unfinished=self.unfinished())
        self.emit("interrupted", f"{c.done} of {c.total} goals finished, {len(summary.left)} "
                                 f"left; resume with: {summary.resume_command}")
        return summary

    def _halt(self, reason: str) -> None:
        """The machine is at fault: dispatch nothing more; what is queued stays to try."""
        if not self.halted:
            self.halted = reason
            self.first.clear()
            self.second.clear()
            self.emit("halt", f"stopped: {reason}")

    def _plan(self) -> None:
        """Queue every goal pass without a result, first passes first."""
        for r in self.store.results():
            if r.status == GoalStatus.ERROR and environment_error(r.item.get("message", "")):
                self.store.reopen(r.goal_id, r.pass_no)  # the machine's fault: try again
        results = {(r.goal_id, r.pass_no): r for r in self.store.results()}
        trees_needed = self.second_factor > 0
        for g in self.goals.values():
            first = results.get((g.id, 1))
            if first is None:
                self.first.append(g)
            elif trees_needed and (g.id, 2) not in results and first.status == GoalStatus.OPEN \
                    and budget_bound(first.item, self.store.trees(g.id)):
                self.second.append(g)

    def _compile(self) -> None:
        """Check each file with pending goals once, in dependency order (dependencies are
        compiled on the way), so workers never build the same dependency at the same time. A
        file that does not compile has its goals recorded as errors."""
        pending = {g.file for g in [*self.first, *self.second]}
        for file, text in self.texts.items():
            if file not in pending or self.halted:
                continue
            path = self.project / file
            self.emit("compile", f"checking {file}")
            try:
                prover = make_prover(path, self.settings.prover, lean=self.settings.lean)
                try:
                    check = prover.check_file(path, text)
                finally:
                    prover.close()
                reason = "" if check.ok else (
                    f"{file}{f':{check.line}' if check.line else ''} does not compile "
                    f"before search: {check.message}")
            except ProverUnavailable as e:
                self._halt(str(e))
                return
            except AlphaquantError as e:
                reason = str(e)
            if reason:
                self._give_up_file(file, reason)

    def _give_up_file(self, file: str, reason: str) -> None:
        for queue_ in (self.first, self.second):
            for g in [g for g in queue_ if g.file == file]:
                queue_.remove(g)
                pass_no = 1 if queue_ is self.first else 2
                attempt = self.store.start_attempt(g.id, pass_no, "driver", os.getpid(), 0.0)
                item = GoalResult(g.file, g.theorem, g.line, g.kind, GoalStatus.ERROR,
                                  message=reason)
                self.store.finish_attempt(attempt, item.to_json(), {})
                self.emit("finish", f"{g.label}: {reason}", goal=g.label,
                          item=item.to_json())

    def _loop(self, executor: Executor) -> None:
        stopped = False
        while True:
            if not stopped and not self.halted:
                stopped = self._dispatch(executor)
            if not self.running:
                return
            for finished in executor.poll(0.5):
                self._finished(finished)
            self._watchdog(executor)

    def _dispatch(self, executor: Executor) -> bool:
        """Give every idle slot a goal; True once the deadline stops all dispatching."""
        for slot in range(executor.slots):
            if slot in self.running or not (self.first or self.second):
                continue
            budget = self.settings.search.budget_seconds
            queue_, pass_no = (self.first, 1) if self.first else (self.second, 2)
            if pass_no == 2:
                budget *= self.second_factor
            if self.deadline is not None:
                remaining = self.deadline - time.monotonic()
                if remaining < MIN_BUDGET:
                    self.emit("deadline", f"deadline reached; {len(self.first)} first-pass and "
                                          f"{len(self.second)} second-pass items left untried")
                    self.first.clear()
                    self.second.clear()
                    return True
                budget = min(budget, remaining)
            goal = _pick(queue_, self.last_file.get(slot), {i.file for i, _ in
                                                             self.running.values()})
            name, pid = executor.worker(slot)
            attempt = self.store.start_attempt(goal.id, pass_no, name, pid, budget)
            item = WorkItem(attempt, goal.id, str(self.project / goal.file), goal.file,
                            self.texts[goal.file], goal.ordinal, goal.theorem, pass_no, budget)
            executor.submit(slot, item)
            self.running[slot] = (item, time.monotonic())
            self.last_file[slot] = goal.file
            self.emit("start", f"{goal.label} (pass {pass_no}, {budget:.0f}s) on {name}",
                      slot=slot, goal=goal.label)
        return False

    def _finished(self, finished: Finished) -> None:
        item, _ = self.running.pop(finished.slot)
        goal = self.goals[item.goal_id]
        output = finished.output
        if output is not None and output.unavailable:
            self.store.leave_attempt(item.attempt_id, output.unavailable)
            self._halt(output.unavailable)
            return
        if output is None or output.item["status"] == GoalStatus.ERROR:
            reason = finished.failure or output.item["message"] if output else finished.failure
            self._failed(finished.slot, item, goal, reason, output)
            return
        self.store.finish_attempt(item.attempt_id, output.item, output.trees)
        result = output.item
        if (item.pass_no == 1 and self.second_factor > 0
                and budget_bound(result, output.trees)):
            self.second.append(goal)
        self.emit("finish", f"{goal.label} in {result['seconds']:.1f}s "
                            f"({result['expansions']} expansions, pass {item.pass_no})",
                  slot=finished.slot, goal=goal.label, item=result)

    def _failed(self, slot: int, item: WorkItem, goal: GoalRow, reason: str,
                output: WorkOutput | None) -> None:
        """An attempt ended in error: retry it, or give the goal's pass up after MAX_TRIES."""
        tries = self.store.failures(goal.id, item.pass_no) + 1
        if tries < MAX_TRIES:
            self.store.fail_attempt(item.attempt_id, reason)
            (self.first if item.pass_no == 1 else self.second).append(goal)
            self.emit("retry", f"{goal.label} failed ({reason}); retrying ({tries}/{MAX_TRIES})",
                      slot=slot, goal=goal.label)
            return
        base = output.item if output else GoalResult(
            goal.file, goal.theorem, goal.line, goal.kind, GoalStatus.ERROR).to_json()
        final = {**base, "status": GoalStatus.ERROR,
                 "message": f"gave up after {MAX_TRIES} failed attempts: {reason}"}
        self.store.finish_attempt(item.attempt_id, final, output.trees if output else {})
        self.emit("finish", f"{goal.label}: {final['message']}", slot=slot,
                  goal=goal.label, item=final)

    def _watchdog(self, executor: Executor) -> None:
        """Kill a worker whose item runs far past its budget (its prover hung)."""
        now = time.monotonic()
        for slot, (item, started) in list(self.running.items()):
            if now - started > 2 * item.budget + 120:
                self.emit("restart", f"worker {slot} hung on {item.theorem}; killing it",
                          slot=slot)
                executor.kill(slot)


def _pick(queue_: deque[GoalRow], last_file: str | None, busy: set[str]) -> GoalRow:
    """The next goal for a worker: of the file it last had open, else of a file nobody is on."""
    goal = next((g for g in queue_ if g.file == last_file), None)
    if goal is None:
        goal = next((g for g in queue_ if g.file not in busy), queue_[0])
    queue_.remove(goal)
    return goal
