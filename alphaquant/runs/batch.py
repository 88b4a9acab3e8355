"""`alphaquant batch`: every open goal of a project, in parallel, resumable, with a deadline.

A work item is one goal in one pass. Every attempt works on the file's ORIGINAL text (kept in the
run store), so goals of one file are independent and may run on different workers at once; the
proofs of a file are combined only at the end (`write_back`).

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
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing as mp
import os
import queue
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from alphaquant import proof
from alphaquant.config import CONFIG_DIR, Settings, apply_overrides, load_settings
from alphaquant.errors import AlphaquantError, InputError
from alphaquant.goals import GoalSite, locate
from alphaquant.provers.registry import LANGUAGES, language_of, make_prover
from alphaquant.runs.attempt import GoalResult, attempt_goal
from alphaquant.runs.single import SKIP_DIRS, imported_context
from alphaquant.runs.store import (
    GoalRow,
    GoalSpec,
    RunStore,
    config_hash,
    settings_from_json,
    settings_json,
    writer_lock,
)
from alphaquant.tactics.factory import build_source, open_run_memory

log = logging.getLogger(__name__)

MAX_TRIES = 3  # attempts of one goal in one pass that may end in error before it is given up
WORKER_CRASH_LIMIT = 3  # errors in a row after which a worker process restarts itself
KEEP_PROVERS = 2  # prover sessions a worker keeps open (least recently used closed first)
MIN_BUDGET = 2.0  # seconds: no goal starts with less than this before the deadline
BATCH_SKIP = SKIP_DIRS | {"_build"}


# What `alphaquant batch` was asked to do.
@dataclass(frozen=True)
class BatchOptions:
    project: Path | None = None  # None only with resume
    config: Path | None = None  # None: configs/overnight.toml (a resume: the run's own)
    run_dir: Path | None = None  # None: runs/<timestamp> under runs_root
    resume: Path | None = None
    budget_per_goal: float | None = None
    write: bool = False
    offline: bool = False
    force: bool = False  # continue a run directory made with another config
    runs_root: Path = Path("runs")
    # None for these five: as the run's first session had them (on a resume), else the default.
    workers: int | None = None  # default: os.cpu_count() (Ray: the cluster's CPUs)
    hours: float | None = None  # a deadline for each session
    executor: str | None = None  # local (default) | ray
    ray_address: str | None = None
    second_pass: float | None = None  # budget factor of the second pass (default 3; 0: off)


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


# One goal in one pass, as a worker receives it (picklable; carries the original text).
@dataclass(frozen=True)
class WorkItem:
    attempt_id: int
    goal_id: int
    path: str  # absolute
    file: str  # relative to the project (the name results carry)
    text: str  # the file's original text
    ordinal: int
    theorem: str
    pass_no: int
    budget: float


# A worker's answer: the result (item + trees), or why there is none.
@dataclass(frozen=True)
class Finished:
    slot: int
    attempt_id: int
    output: dict[str, Any] | None  # {"item": GoalResult.to_json(), "trees": {...}}
    failure: str = ""


class Executor(Protocol):
    """Runs work items on ``slots`` workers; the driver submits to idle slots and polls."""

    slots: int

    def worker(self, slot: int) -> tuple[str, int | None]:
        """(name, pid) of the slot's worker, for the attempts table."""
        ...

    def submit(self, slot: int, item: WorkItem) -> None: ...

    def poll(self, timeout: float) -> list[Finished]:
        """Finished items (a dead worker's item with ``failure``; the worker is replaced)."""
        ...

    def kill(self, slot: int) -> None:
        """End a hung worker; the next poll reports its item failed."""
        ...

    def close(self) -> None: ...


# -- the project -------------------------------------------------------------------------------


def project_files(project: Path) -> list[Path]:
    """Every .v and .lean file below ``project`` (skipping .lake, _build, runs, hidden dirs)."""
    if not project.is_dir():
        raise InputError(f"not a directory: {project}")
    found = []
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(d for d in dirs if d not in BATCH_SKIP and not d.startswith("."))
        found += [Path(root, f) for f in sorted(files) if Path(f).suffix in LANGUAGES]
    if not found:
        raise InputError(f"no Coq (.v) or Lean (.lean) files under {project}")
    return found


def _imports(text: str, language: str) -> set[str]:
    """Last components of the modules a file imports."""
    if language == "coq":
        found = re.findall(r"Require\s+(?:Import\s+|Export\s+)?([\w.\s]+?)\.(?:\s|$)", text)
        return {name.split(".")[-1] for group in found for name in group.split()}
    return {m.split(".")[-1] for m in re.findall(r"^import\s+([\w.]+)", text, re.MULTILINE)}


def dependency_order(files: list[Path], texts: dict[Path, str]) -> list[Path]:
    """The files, each after the project files it imports (ties keep path order)."""
    by_stem = {(f.stem, f.suffix): f for f in files}
    deps = {
        f: {by_stem[(m, f.suffix)] for m in _imports(texts[f], language_of(f))
            if (m, f.suffix) in by_stem and by_stem[(m, f.suffix)] != f}
        for f in files
    }
    ordered: list[Path] = []
    visiting: set[Path] = set()

    def visit(f: Path) -> None:
        if f in ordered or f in visiting:
            return  # an import cycle: the prover will say so
        visiting.add(f)
        for d in sorted(deps[f]):
            visit(d)
        ordered.append(f)

    for f in files:
        visit(f)
    return ordered


def discover(project: Path) -> list[tuple[str, str, list[GoalSpec]]]:
    """(relative path, text, goals) of every file, in dependency order; goals as (ordinal,
    theorem, index, line, kind)."""
    files = project_files(project)
    texts = {}
    for f in files:
        try:
            texts[f] = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{f} is not UTF-8 text; save it as UTF-8") from None
    out = []
    for f in dependency_order(files, texts):
        sites = locate(texts[f], f)
        goals = [(i, s.theorem, s.index, s.line, s.kind) for i, s in enumerate(sites)]
        out.append((f.relative_to(project).as_posix(), texts[f], goals))
    return out


# -- the worker side ---------------------------------------------------------------------------


class Abandoned(BaseException):  # a BaseException: no `except Exception` may swallow it
    """Raised inside a search when the driver is gone; ends the worker."""


class GoalRunner:
    """Runs work items in one process: a prover session per file (the last KEEP_PROVERS kept
    warm), a tactic source and learned-priors record per language."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.provers: dict[str, Any] = {}  # path -> prover, least recently used first
        self.sources: dict[str, Any] = {}
        self.memories: dict[str, Any] = {}

    def _prover(self, path: Path) -> Any:
        key = str(path)
        prover = self.provers.pop(key, None) or make_prover(path, self.settings.prover)
        self.provers[key] = prover
        while len(self.provers) > KEEP_PROVERS:
            self._drop(next(iter(self.provers)))
        return prover

    def _drop(self, key: str) -> None:
        prover = self.provers.pop(key, None)
        if prover is not None:
            try:
                prover.close()
            except Exception:  # a broken session is being thrown away
                log.debug("closing a prover failed", exc_info=True)

    def _source(self, language: str) -> tuple[Any, Any]:
        if language not in self.sources:
            memory = open_run_memory(self.settings, language)
            self.memories[language] = memory
            self.sources[language], _ = build_source(self.settings, language, memory=memory)
        return self.sources[language], self.memories[language]

    def run(self, item: WorkItem, stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Attempt the item's goal on its file's original text.

        Args:
          item: the goal, its pass and budget.
          stop: polled during the search (at most once a second); True abandons the item.

        Returns:
          {"item": the GoalResult item (file relative to the project), "trees": phase → tree}.
        """
        path = Path(item.path)
        base = GoalResult(item.file, item.theorem, 0, "", "error")
        try:
            sites = locate(item.text, path)
            site = sites[item.ordinal] if item.ordinal < len(sites) else None
            if site is None or site.theorem != item.theorem:
                raise InputError(f"goal {item.ordinal} of {item.file} is not {item.theorem}")
            base = dataclasses.replace(base, line=site.line, kind=site.kind)
            settings = dataclasses.replace(
                self.settings,
                search=dataclasses.replace(self.settings.search, budget_seconds=item.budget),
            )
            source, memory = self._source(site.language)
            result, _ = attempt_goal(
                self._prover(path), source, path, item.text, site, settings,
                context=imported_context(path, item.text), memory=memory,
                on_event=_stop_checker(stop),
            )
        except Exception as e:  # one goal must not end the run, whatever went wrong
            log.warning("goal %s of %s failed", item.theorem, item.file, exc_info=True)
            result = dataclasses.replace(base, message=f"{type(e).__name__}: {e}")
        if result.status == "error":
            self._drop(str(path))  # a fresh prover next time
        result = dataclasses.replace(result, file=item.file)
        return {"item": result.to_json(), "trees": result.trees}

    def close(self) -> None:
        for key in list(self.provers):
            self._drop(key)


def _stop_checker(stop: Callable[[], bool] | None) -> Callable[[Any], None] | None:
    if stop is None:
        return None
    last = [time.monotonic()]

    def check(_event: Any) -> None:
        if time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            if stop():
                raise Abandoned
    return check


def _worker_main(
    slot: int, settings_data: dict[str, Any], inbox: Any, outbox: Any, log_path: str
) -> None:
    """A local worker process: items from ``inbox``, answers to ``outbox``, until told to stop,
    the driver dies, or its prover keeps crashing (the driver then starts a new one)."""
    logging.basicConfig(filename=log_path, level=logging.WARNING,
                        format=f"%(asctime)s worker {slot} %(name)s: %(message)s")
    parent = mp.parent_process()

    def orphaned() -> bool:
        return parent is not None and not parent.is_alive()

    runner = GoalRunner(settings_from_json(settings_data))
    errors_in_a_row = 0
    try:
        while errors_in_a_row < WORKER_CRASH_LIMIT:
            try:
                item = inbox.get(timeout=1.0)
            except queue.Empty:
                if orphaned():
                    return
                continue
            if item is None:
                return
            output = runner.run(item, stop=orphaned)
            outbox.put((slot, item.attempt_id, output))
            errors_in_a_row = errors_in_a_row + 1 if output["item"]["status"] == "error" else 0
    except (Abandoned, KeyboardInterrupt):
        return
    finally:
        runner.close()


class LocalExecutor:
    """Worker processes on this machine (multiprocessing, 'spawn' context), one inbox each."""

    def __init__(self, slots: int, settings: Settings, log_path: Path) -> None:
        self.slots = slots
        self.ctx = mp.get_context("spawn")
        self.settings_data = settings_json(settings)
        self.log_path = str(log_path)
        self.outbox = self.ctx.Queue()
        self.procs: list[Any] = [None] * slots
        self.inboxes: list[Any] = [None] * slots
        self.busy: dict[int, WorkItem] = {}  # slot -> the item it is working on
        self.restarts = 0
        for slot in range(slots):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        inbox = self.ctx.Queue()
        proc = self.ctx.Process(
            target=_worker_main, name=f"alphaquant-worker-{slot}", daemon=True,
            args=(slot, self.settings_data, inbox, self.outbox, self.log_path),
        )
        proc.start()
        self.procs[slot], self.inboxes[slot] = proc, inbox

    def worker(self, slot: int) -> tuple[str, int | None]:
        if not self.procs[slot].is_alive():  # it quit while idle (crash limit)
            self._spawn(slot)
        return f"local-{slot}", self.procs[slot].pid

    def submit(self, slot: int, item: WorkItem) -> None:
        self.busy[slot] = item
        self.inboxes[slot].put(item)

    def _drain(self, timeout: float) -> list[Finished]:
        out = []
        try:
            while True:
                slot, attempt_id, output = self.outbox.get(timeout=timeout)
                timeout = 0.0
                if slot in self.busy and self.busy[slot].attempt_id == attempt_id:
                    del self.busy[slot]
                    out.append(Finished(slot, attempt_id, output))
        except queue.Empty:
            return out

    def poll(self, timeout: float) -> list[Finished]:
        out = self._drain(timeout)
        for slot in range(self.slots):
            proc = self.procs[slot]
            if proc.is_alive():
                continue
            out += self._drain(0.05)  # an answer sent just before the worker exited
            self.restarts += 1
            self._spawn(slot)
            item = self.busy.get(slot)
            if item is not None and proc.exitcode == 0:
                self.inboxes[slot].put(item)  # it quit (crash limit) before taking the item
            elif item is not None:
                del self.busy[slot]
                out.append(Finished(slot, item.attempt_id, None,
                                    f"worker process died (exit code {proc.exitcode})"))
        return out

    def kill(self, slot: int) -> None:
        self.procs[slot].kill()
        self.procs[slot].join(5)

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)


# -- the driver --------------------------------------------------------------------------------


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
    if item.get("status") != "open":
        return False
    tree = trees.get("prove") or {}
    root = next((n for n in tree.get("nodes", []) if n.get("root")), None)
    return root is not None and root.get("status") == "open"


def _settings_for(options: BatchOptions, stored: Settings | None) -> tuple[Settings, str]:
    """(settings, config text) the options ask for; a resume without --config keeps ``stored``."""
    if stored is not None and options.config is None:
        base, text = stored, ""
    else:
        path = options.config or CONFIG_DIR / "overnight.toml"
        base = load_settings(path)
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
    settings = apply_overrides(
        base, budget_seconds=options.budget_per_goal, offline=True if options.offline else None,
    )
    if settings.search.budget_seconds <= 0:
        raise InputError(f"budget per goal must be positive, got {settings.search.budget_seconds}")
    return settings, text


def _open_run(options: BatchOptions) -> tuple[RunStore | None, Path, Settings, str, list[Any]]:
    """(store of an existing run or None, run dir, settings, config text, discovered files).

    Checks everything before anything is written: a run directory made with another config is
    refused unless ``force``; a run of another project always is.
    """
    run_dir = options.resume or options.run_dir
    existing = run_dir is not None and RunStore.is_run(run_dir)
    if options.resume is not None and not existing:
        RunStore.open(options.resume)  # raises: not a run directory
    if not existing:
        if options.project is None:
            raise InputError("give a project directory, or --resume RUN_DIR")
        settings, text = _settings_for(options, None)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return None, run_dir or _fresh(options.runs_root / stamp), settings, text, \
            discover(options.project)
    assert run_dir is not None
    store = RunStore.open(run_dir)
    info = store.info()
    if options.project is not None and options.project.resolve() != info.project.resolve():
        store.close()
        raise InputError(f"{run_dir} is a run of {info.project}, not of {options.project}")
    explicit_config = options.config is not None or options.resume is None
    settings, text = _settings_for(options, None if explicit_config else info.settings)
    if config_hash(settings) != info.config_hash and not options.force:
        store.close()
        raise InputError(
            f"{run_dir} was made with another config (hash {info.config_hash}, now "
            f"{config_hash(settings)}); pass --force to continue it with the new one"
        )
    return store, run_dir, settings, text or info.config_text, []


def _fresh(path: Path) -> Path:
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _options_json(options: BatchOptions) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(options).items()}


def source_notices(settings: Settings, languages: set[str]) -> list[str]:
    """Build each language's tactic source once, as workers will: a broken configuration fails
    here, before anything is written; returns the notices (e.g. no API key: heuristics only)."""
    notices = []
    for language in sorted(languages):
        _, notice = build_source(settings, language)
        if notice:
            notices.append(notice)
    return notices


def _make_executor(options: BatchOptions, settings: Settings, run_dir: Path) -> Executor:
    if options.executor == "ray":
        from alphaquant.runs.ray_executor import RayExecutor

        return RayExecutor(options.ray_address, options.workers, settings)
    return LocalExecutor(options.workers or os.cpu_count() or 1, settings, run_dir / "worker.log")


def run_batch(options: BatchOptions, on_event: BatchSink | None = None) -> BatchSummary:
    """Run (or resume) a batch: every open goal of a project, results into the run store.

    Everything is checked (options, config, tactic sources, the Ray address) before anything is
    written, so bad input leaves an existing run as it was.

    Args:
      options: what to run and how (see BatchOptions).
      on_event: receives every event (the same ones run.log records).

    Returns:
      The run directory, the final counts and the write-back outcomes.
    """
    started = time.monotonic()
    store, run_dir, settings, config_text, discovered = _open_run(options)
    try:
        options = resolve_options(options, store.info().options if store is not None else {})
        if store is None and not any(goals for _f, _t, goals in discovered):
            return BatchSummary(None, Counts(), seconds=time.monotonic() - started)
        files = store.files() if store is not None else [f for f, _t, _g in discovered]
        notices = source_notices(settings, {language_of(Path(f)) for f in files})
        if options.executor == "ray":
            from alphaquant.runs.ray_executor import connect

            connect(options.ray_address, options.workers)
    except BaseException:
        if store is not None:
            store.close()
        raise
    with writer_lock(run_dir):
        if store is None:
            assert options.project is not None
            store = RunStore.create(run_dir, options.project.resolve(), settings, config_text,
                                    _options_json(options), discovered)
        elif config_hash(settings) != store.info().config_hash:
            store.replace_settings(settings, config_text)
        runlog = RunLog(run_dir / "run.log")
        try:
            driver = _Driver(store, settings, options, runlog, on_event)
            return driver.run(started, notices)
        finally:
            runlog.close()
            store.close()


INHERITED = ("workers", "hours", "executor", "ray_address", "second_pass")
DEFAULTS = {"executor": "local", "second_pass": 3.0}


def resolve_options(options: BatchOptions, stored: dict[str, Any]) -> BatchOptions:
    """``options`` with each unset run option (workers, hours, executor, Ray address, second
    pass) taken from the run's first session, else its default; checked."""
    values = {k: getattr(options, k) for k in INHERITED}
    for key, value in values.items():
        if value is None:
            values[key] = stored.get(key, DEFAULTS.get(key))
    options = dataclasses.replace(options, **values)
    if options.executor not in ("local", "ray"):
        raise InputError(f"--executor must be local or ray, got {options.executor!r}")
    if options.workers is not None and options.workers < 1:
        raise InputError(f"--workers must be at least 1, got {options.workers}")
    if options.hours is not None and options.hours <= 0:
        raise InputError(f"--hours must be positive, got {options.hours:g}")
    if options.second_pass is None or options.second_pass < 0:
        raise InputError(f"--second-pass must be 0 or more, got {options.second_pass}")
    return options


class _Driver:
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

    # -- events ----------------------------------------------------------------------------

    def counts(self) -> Counts:
        by = self.store.status_counts()
        second_pending = len(self.second) + sum(
            1 for item, _ in self.running.values() if item.pass_no == 2)
        return Counts(len(self.goals), by.get("proved", 0), by.get("disproved", 0),
                      by.get("open", 0) - second_pending, by.get("error", 0),
                      len(self.running), len(self.first) + len(self.second))

    def emit(self, kind: str, message: str, **extra: Any) -> None:
        self.runlog.line(f"{kind}: {message}")
        if self.on_event is not None:
            self.on_event(BatchEvent(kind, message, self.counts(), **extra))

    # -- the session -----------------------------------------------------------------------

    def run(self, started: float, notices: list[str]) -> BatchSummary:
        session = self.store.begin_session(_options_json(self.options))
        self._plan()
        c = self.counts()
        self.emit("run", f"session {session} of {self.store.run_dir}: {c.total} goals, "
                         f"{c.done} done, {len(self.first)} to try, "
                         f"{len(self.second)} for the second pass")
        for notice in notices:
            self.emit("note", notice)
        self._compile()
        if self.first or self.second:
            executor = _make_executor(self.options, self.settings, self.store.run_dir)
            try:
                self._loop(executor)
            finally:
                executor.close()
        writes = write_back(self.store, self.settings, self.emit) if self.options.write else []
        c = self.counts()
        self.emit("done", f"{c.done}/{c.total} done: {c.proved} proved, {c.disproved} "
                          f"disproved, {c.open} open, {c.error} error")
        return BatchSummary(self.store.run_dir, c, writes, time.monotonic() - started)

    def _plan(self) -> None:
        """Queue every goal pass without a result, first passes first."""
        results = {(r.goal_id, r.pass_no): r for r in self.store.results()}
        trees_needed = self.second_factor > 0
        for g in self.goals.values():
            first = results.get((g.id, 1))
            if first is None:
                self.first.append(g)
            elif trees_needed and (g.id, 2) not in results and first.status == "open" \
                    and budget_bound(first.item, self.store.trees(g.id)):
                self.second.append(g)

    def _compile(self) -> None:
        """Check each file with pending goals once, in dependency order (dependencies are
        compiled on the way), so workers never build the same dependency at the same time. A
        file that does not compile has its goals recorded as errors."""
        pending = {g.file for g in [*self.first, *self.second]}
        for file, text in self.texts.items():
            if file not in pending:
                continue
            path = self.project / file
            self.emit("compile", f"checking {file}")
            try:
                prover = make_prover(path, self.settings.prover)
                try:
                    check = prover.check_file(path, text)
                finally:
                    prover.close()
                reason = "" if check.ok else (
                    f"{file}{f':{check.line}' if check.line else ''} does not compile "
                    f"before search: {check.message}")
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
                item = GoalResult(g.file, g.theorem, g.line, g.kind, "error", message=reason)
                self.store.finish_attempt(attempt, item.to_json(), {})
                self.emit("finish", f"{g.label} error: {reason}", goal=g.label,
                          item=item.to_json())

    def _loop(self, executor: Executor) -> None:
        stopped = False
        while True:
            if not stopped:
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
        if output is None or output["item"]["status"] == "error":
            reason = finished.failure or output["item"]["message"] if output else finished.failure
            self._failed(finished.slot, item, goal, reason, output)
            return
        self.store.finish_attempt(item.attempt_id, output["item"], output["trees"])
        result = output["item"]
        if (item.pass_no == 1 and self.second_factor > 0
                and budget_bound(result, output["trees"])):
            self.second.append(goal)
        self.emit("finish", f"{goal.label} {result['status']} in {result['seconds']:.1f}s "
                            f"({result['expansions']} expansions, pass {item.pass_no})",
                  slot=finished.slot, goal=goal.label, item=result)

    def _failed(self, slot: int, item: WorkItem, goal: GoalRow, reason: str,
                output: dict[str, Any] | None) -> None:
        """An attempt ended in error: retry it, or give the goal's pass up after MAX_TRIES."""
        tries = self.store.failures(goal.id, item.pass_no) + 1
        if tries < MAX_TRIES:
            self.store.fail_attempt(item.attempt_id, reason)
            (self.first if item.pass_no == 1 else self.second).append(goal)
            self.emit("retry", f"{goal.label} failed ({reason}); retrying ({tries}/{MAX_TRIES})",
                      slot=slot, goal=goal.label)
            return
        base = output["item"] if output else GoalResult(
            goal.file, goal.theorem, goal.line, goal.kind, "error").to_json()
        final = {**base, "status": "error",
                 "message": f"gave up after {MAX_TRIES} failed attempts: {reason}"}
        self.store.finish_attempt(item.attempt_id, final, output["trees"] if output else {})
        self.emit("finish", f"{goal.label} error: {final['message']}", slot=slot,
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


# -- write-back --------------------------------------------------------------------------------


def combine(text: str, proofs: list[tuple[GoalSite, list[str]]]) -> str:
    """``text`` with every proof spliced in, last site first, so earlier offsets stay valid."""
    for site, tactics in sorted(proofs, key=lambda p: p[0].start, reverse=True):
        text = proof.splice(text, site, tuple(tactics))
    return text


def check_combined(prover: Any, path: Path, original: str, combined: str, count: int,
                   theorems: list[str]) -> proof.Verdict:
    """Whether the file with ``count`` proofs spliced in checks whole, with one hole fewer per
    proof and no theorem depending on an axiom the file did not have."""
    if len(locate(combined, path)) != len(locate(original, path)) - count:
        return proof.Verdict(False, "the combined proofs do not close exactly their goals")
    check = prover.check_file(path, combined)
    if not check.ok:
        where = f" (line {check.line})" if check.line else ""
        return proof.Verdict(False, f"the whole file does not check{where}: {check.message}")
    language = language_of(path)
    own, declared = proof.project_modules(path), proof.declared_axioms(original)
    still_open = {s.theorem for s in locate(combined, path)}
    for theorem in sorted(set(theorems) - still_open):
        bad = sorted(a for a in prover.axioms(path, combined, theorem) if not proof.axiom_allowed(
            a, language=language, own_modules=own, declared=declared))
        if bad:
            return proof.Verdict(False, f"{theorem} depends on new axioms: {', '.join(bad)}")
    return proof.Verdict(True)


def write_back(store: RunStore, settings: Settings,
               emit: Callable[..., None]) -> list[tuple[str, str, str]]:
    """Write every file's proofs back, combined and re-checked whole; a file whose combined
    check fails keeps its text, and the proof that broke it is named.

    Returns:
      (file, status, message) per file with proofs; status written | unchanged | kept | skipped.
    """
    project = store.info().project
    latest = store.latest()
    out = []
    for file, original in store.files().items():
        goals = [g for g in store.goals() if g.file == file]
        proved = [(g, latest[g.id].item["proof"]) for g in goals
                  if g.id in latest and latest[g.id].status == "proved"]
        if not proved:
            continue
        path = project / file
        sites = locate(original, path)
        proofs = [(sites[g.ordinal], tactics) for g, tactics in proved]
        emit("recheck", f"re-checking {file} with its {len(proofs)} "
                        f"proof{'s' if len(proofs) != 1 else ''} combined")
        status, message = _write_file(path, original, proofs, settings)
        store.record_write(file, status, message)
        emit("write", f"{file}: {status}{f' ({message})' if message else ''}")
        out.append((file, status, message))
    return out


def _write_file(path: Path, original: str, proofs: list[tuple[GoalSite, list[str]]],
                settings: Settings) -> tuple[str, str]:
    combined = combine(original, proofs)
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if current == combined:
        return "unchanged", "already holds these proofs"
    if current != original:
        return "skipped", "the file changed on disk since the run began"
    prover = make_prover(path, settings.prover)
    try:
        theorems = [s.theorem for s, _ in proofs]
        verdict = check_combined(prover, path, original, combined, len(proofs), theorems)
        if not verdict.ok:
            return "kept", _culprit(prover, path, original, proofs, verdict.reason)
    finally:
        prover.close()
    backup = proof.write_atomic(path, combined)
    return "written", f"{len(proofs)} proof{'s' if len(proofs) != 1 else ''}; backup {backup}"


def _culprit(prover: Any, path: Path, original: str,
             proofs: list[tuple[GoalSite, list[str]]], reason: str) -> str:
    """Which proof breaks the file: add them one by one, in file order, re-checking each time."""
    ordered = sorted(proofs, key=lambda p: p[0].start)
    for k in range(1, len(ordered) + 1):
        subset = ordered[:k]
        text = combine(original, subset)
        verdict = check_combined(prover, path, original, text, k, [s.theorem for s, _ in subset])
        if not verdict.ok:
            site = ordered[k - 1][0]
            return (f"original kept: the proof of {site.theorem} (line {site.line}) breaks the "
                    f"combined file: {verdict.reason}")
    return f"original kept: the combined file fails ({reason}) though each prefix checks"
