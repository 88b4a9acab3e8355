"""`alphaquant batch`: every open goal of a project, in parallel, resumable, with a deadline.

A work item is one goal in one pass. Every attempt works on the file's ORIGINAL text (kept in the
run store), so goals of one file are independent and may run on different workers at once; the
proofs of a file are combined only at the end (runs/write_back.py). This module opens or resumes
the run (checking everything before anything is written) and hands it to the driver
(runs/driver.py), whose docstring states the policies: retries, second pass, deadline, resume.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from alphaquant.config import Settings
from alphaquant.errors import InputError
from alphaquant.provers.registry import ensure_ready
from alphaquant.runs.driver import BatchSink, BatchSummary, Counts, Driver, RunLog
from alphaquant.runs.options import BatchOptions, options_json, resolve_options, settings_for
from alphaquant.runs.sources import discover
from alphaquant.runs.store import (
    RunStore,
    config_hash,
    writer_lock,
)
from alphaquant.sites.site import language_of
from alphaquant.tactics.factory import build_source

log = logging.getLogger(__name__)



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
        settings, text = settings_for(options, None)
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
    settings, text = settings_for(options, None if explicit_config else info.settings)
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


def source_notices(settings: Settings, languages: set[str]) -> list[str]:
    """Build each language's tactic source once, as workers will: a broken configuration fails
    here, before anything is written; returns the notices (e.g. no API key: heuristics only)."""
    notices = []
    for language in sorted(languages):
        _, notice = build_source(settings, language)
        if notice:
            notices.append(notice)
    return notices


def provers_ready(settings: Settings, paths: list[Path]) -> None:
    """Check the prover of each language once, before any worker starts: a missing prover (or
    one that cannot run) is the machine's fault, one line (ProverUnavailable), and no goal's
    result."""
    first: dict[str, Path] = {}
    for path in paths:
        first.setdefault(language_of(path), path)
    for path in first.values():
        ensure_ready(path, settings.prover)


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
        project = options.project if store is None else store.info().project
        assert project is not None
        provers_ready(settings, [project / f for f in files])
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
                                    options_json(options), discovered)
        elif config_hash(settings) != store.info().config_hash:
            store.replace_settings(settings, config_text)
        runlog = RunLog(run_dir / "run.log")
        try:
            driver = Driver(store, settings, options, runlog, on_event)
            return driver.run(started, notices)
        finally:
            runlog.close()
            store.close()


