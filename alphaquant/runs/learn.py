"""`alphaquant learn`: record the finished proofs of libraries and projects into the corpus.

What is recorded, for each PATH:
  - a ``.v`` file or a directory: its ``.v`` files (the project's own proofs), and the sources
    of every library module they ``Require``, transitively (found on the load path: the
    project's -Q/-R, ``coqc -where``, ``user-contrib``);
  - a logical directory of the load path (``Reals``, ``Coq.ZArith``, ``Flocq``): every ``.v``
    under it;
  - a run directory of ``alphaquant batch``: the proofs it found, each file's spliced into its
    text as the run read it (whether or not they were written back), recorded from that text.
Files already recorded with the same contents are skipped (a killed run resumes where it was; a
changed file is recorded again); those matching ``exclude`` are not recorded. Files are
replayed in parallel (``workers`` processes, each its own coqtop); each is written whole when
it is done. At the end the nearest-state index is rebuilt for the searches.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import AlphaquantError, InputError
from alphaquant.goals import locate
from alphaquant.proof import combine
from alphaquant.provers.coq.project import build_dependencies, find_project
from alphaquant.provers.coq.record import (
    FileRecording,
    coq_version,
    library_files,
    load_path,
    record_file,
    required_modules,
)
from alphaquant.runs.store import RunStore
from alphaquant.sanitize import check_tactic
from alphaquant.tactics.learned.corpus import Corpus, corpus_path, digest, excluded, file_key
from alphaquant.tactics.learned.index import build_index, index_current

log = logging.getLogger(__name__)


# One file to record: where it is, its corpus key, the flags its coqtop needs; ``text``, when
# set, is what to record instead of the file's contents (a run's proofs spliced in).
@dataclass(frozen=True)
class Target:
    path: Path
    key: str
    flags: tuple[str, ...]
    digest: str
    text: str | None = None


# What `learn` tells its caller as it goes.
@dataclass(frozen=True)
class LearnEvent:
    kind: str  # "plan" | "file" | "failed" | "index"
    done: int = 0
    total: int = 0
    key: str = ""
    steps: int = 0
    seconds: float = 0.0
    detail: str = ""


# What a `learn` did.
@dataclass(frozen=True)
class LearnSummary:
    files: int  # files asked for
    skipped: int  # already recorded with the same contents
    recorded: int
    failed: int
    steps: int  # steps written by this run
    corpus_steps: int  # steps in the whole corpus
    corpus_bytes: int
    seconds: float
    index_seconds: float | None  # None: the index was up to date
    path: Path


def targets(paths: list[str], exclude: tuple[str, ...] = ()) -> list[Target]:
    """The files ``paths`` stand for (see the module's docstring), excluded ones left out.

    Raises:
      InputError: a path that is neither a file, a directory, nor a logical directory of the
        load path; a Lean file (recorded from the REPL's output only, not by this command).
    """
    roots = load_path()
    found: dict[Path, tuple[str, ...]] = {}
    runs: list[Target] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir() and RunStore.is_run(p):
            runs += run_targets(p)
            continue
        if p.exists():
            files = sorted(p.rglob("*.v")) if p.is_dir() else [p]
            if p.is_file() and p.suffix != ".v":
                raise InputError(f"{raw}: only Coq .v files are recorded by `learn`")
            requires: list[str] = []
            for f in files:
                project = find_project(f)
                found.setdefault(f.resolve(), project.flags)
                requires += required_modules(f.read_text(encoding="utf-8", errors="replace"))
                proots = tuple(project.mappings) + roots
                for dep in library_files(requires, proots):
                    found.setdefault(dep.resolve(), find_project(dep).flags
                                     if not _under(dep, roots) else ())
            continue
        logical = raw.strip(".")
        hit = [(root, prefix) for root, prefix in roots
               if logical == prefix or logical.startswith(prefix + ".")
               or (prefix == "Coq" and (root / logical.replace(".", "/")).is_dir())]
        dirs = []
        for root, prefix in hit:
            rest = logical[len(prefix):].strip(".") if logical.startswith(prefix) else logical
            d = root / rest.replace(".", "/") if rest else root
            if d.is_dir():
                dirs.append(d)
        if not dirs:
            raise InputError(f"{raw}: no such file or directory, nor a library directory "
                             "on Coq's load path (try a name such as Reals or Coq.ZArith)")
        for d in dirs:
            for f in sorted(d.rglob("*.v")):
                found.setdefault(f.resolve(), ())
    out = []
    all_roots = roots
    for path, flags in found.items():
        key = file_key(path, all_roots)
        if excluded(key, exclude) or excluded(str(path), exclude):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        out.append(Target(path, key, flags, digest(text)))
    return out + [t for t in runs if not excluded(t.key, exclude)
                  and not excluded(str(t.path), exclude)]


def run_targets(run_dir: Path) -> list[Target]:
    """One target per Coq file of a batch run with proofs: the file's text as the run read it,
    every proof the run found spliced in (keyed ``run:<run directory>/<file>``)."""
    store = RunStore.open(run_dir, readonly=True)
    try:
        project = store.info().project
        texts = store.files()
        proofs: dict[str, dict[int, list[str]]] = {}
        latest = store.latest()
        for goal in store.goals():
            row = latest.get(goal.id)
            if row is None or row.status != "proved" or not row.item.get("proof"):
                continue
            proofs.setdefault(goal.file, {})[goal.ordinal] = list(row.item["proof"])
    finally:
        store.close()
    out = []
    for file, found in proofs.items():
        path = project / file
        if path.suffix != ".v" or file not in texts:
            continue
        sites = locate(texts[file], path)
        spliced, _ = combine(texts[file], [(sites[i], tuple(t)) for i, t in found.items()
                                            if i < len(sites)])
        out.append(Target(path, f"run:{run_dir.resolve()}/{file}", find_project(path).flags,
                          digest(spliced), spliced))
    return out


def _under(path: Path, roots: tuple[tuple[Path, str], ...]) -> bool:
    return any(path.resolve().is_relative_to(r.resolve()) for r, _ in roots)


def _record(path: str, flags: tuple[str, ...], text: str | None) -> FileRecording:
    """One file in a worker process (``text``: recorded from a scratch copy beside nothing)."""
    if text is None:
        return record_file(Path(path), flags)
    with tempfile.TemporaryDirectory(prefix="alphaquant-learn-") as tmp:
        copy = Path(tmp) / Path(path).name
        copy.write_text(text, encoding="utf-8")
        return record_file(copy, flags)


def learn(paths: list[str], *, workers: int = 1, exclude: tuple[str, ...] = (),
          corpus_file: Path | None = None,
          on_event: Callable[[LearnEvent], None] | None = None) -> LearnSummary:
    """Record ``paths`` into the corpus, then rebuild its index (module docstring).

    Args:
      paths: files, directories, or logical directories of Coq's load path.
      workers: files replayed at once (one coqtop each).
      exclude: patterns of files not to record (corpus.excluded).
      corpus_file: the corpus (default: the user cache's, per Coq version).
      on_event: told of the plan, each file done, and the index.
    """
    started = time.monotonic()
    emit = on_event or (lambda e: None)
    if workers < 1:
        raise InputError("--workers must be at least 1")
    plan = targets(paths, exclude)
    corpus = Corpus(corpus_file or corpus_path("coq", coq_version()))
    todo = [t for t in plan if not corpus.recorded(t.key, t.digest)]
    emit(LearnEvent("plan", 0, len(todo), detail=f"{len(plan) - len(todo)} already recorded"))
    built: set[Path] = set()
    for t in todo:
        if t.flags and t.path not in built:
            try:
                build_dependencies(find_project(t.path), t.path)
            except AlphaquantError as e:
                log.warning("%s: its dependencies do not build: %s", t.key, e)
            built.add(t.path)
    recorded = failed = steps = 0
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: dict[Future[FileRecording], Target] = {}
        queue = list(reversed(todo))
        try:
            while queue or pending:
                while queue and len(pending) < workers:
                    t = queue.pop()
                    pending[pool.submit(_record, str(t.path), t.flags, t.text)] = t
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    t = pending.pop(future)
                    try:
                        rec = future.result()
                    except Exception as e:  # a worker's coqtop died: the file is left out
                        failed += 1
                        emit(LearnEvent("failed", recorded + failed, len(todo), t.key,
                                        detail=str(e)[:200]))
                        continue
                    kept = [s for s in rec.steps if check_tactic(s.tactic, "coq") is None]
                    steps += corpus.put(t.key, t.digest, kept, rec.proofs, rec.failures,
                                        rec.seconds)
                    recorded += 1
                    emit(LearnEvent("file", recorded + failed, len(todo), t.key, len(kept),
                                    rec.seconds))
        except BaseException:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    t0 = time.monotonic()
    index_seconds: float | None = None
    if not index_current(corpus):
        build_index(corpus)
        index_seconds = time.monotonic() - t0
    emit(LearnEvent("index", seconds=index_seconds or 0.0))
    total = sum(r.steps for r in corpus.files().values())
    return LearnSummary(len(plan), len(plan) - len(todo), recorded, failed, steps, total,
                        corpus.size_bytes(), time.monotonic() - started, index_seconds,
                        corpus.path)
