"""`alphaquant search FILE`: every open goal of one file, in order, proofs spliced as found."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaquant import proof, safe_write
from alphaquant.config import Settings
from alphaquant.errors import FileDoesNotCompile, InputError
from alphaquant.goals import locate
from alphaquant.provers.base import CheckingApart, Prover
from alphaquant.provers.coq.project import stale_dependencies
from alphaquant.provers.lean.build import rebuild
from alphaquant.provers.registry import make_prover
from alphaquant.runs.attempt import Goal, GoalEvent, GoalResult, GoalSink, attempt_goal
from alphaquant.runs.source_file import SourceFile, read_source_file
from alphaquant.runs.sources import SKIP_DIRS
from alphaquant.sites.site import GoalSite, language_of
from alphaquant.status import GoalStatus
from alphaquant.tactics.base import TacticSource
from alphaquant.tactics.learned.memory import TacticMemory


# The outcome of searching one file.
@dataclass(frozen=True)
class FileResult:
    path: Path
    goals: list[GoalResult]
    original: str
    final: str
    backup: Path | None = None  # set when --write wrote the file
    write_error: str | None = None  # why --write wrote nothing (the proofs are in the results)
    rebuild_error: str | None = None  # a written Lean module that `lake build` did not rebuild
    interrupted: bool = False  # Ctrl-C ended the search: ``goals`` are those finished before
    model: dict[str, int] | None = None  # a model source's counts (calls, answers, received)

    @property
    def diff(self) -> str:
        return proof.unified_diff(self.path, self.original, self.final)

    def suggestions(self) -> list[tuple[GoalResult, str | None]]:
        """Each goal with its proof on one line, as ``--format try-this`` prints it after
        ``Try this:`` (None: nothing to insert, the goal was not proved by tactics)."""
        language = language_of(self.path)
        out: list[tuple[GoalResult, str | None]] = []
        for goal in self.goals:
            script = goal.written() if goal.status == GoalStatus.PROVED else None
            text = proof.one_line(language, script) if script is not None else ""
            out.append((goal, text or None))
        return out

    def to_json(self) -> dict[str, Any]:
        """The document `search --json` prints."""
        return {
            "file": str(self.path),
            "goals": [g.to_json() for g in self.goals],
            "written": self.backup is not None,
            "backup": str(self.backup) if self.backup else None,
            "interrupted": self.interrupted,
            "write_error": self.write_error,
            "rebuild_error": self.rebuild_error,
            "model": self.model,
        }


def resolve_file(name: str, cwd: Path | None = None) -> Path:
    """The file ``name`` names: as given if it exists, else the one file of that name below cwd.

    A bare name that matches several files is an InputError listing them.
    """
    cwd = cwd or Path.cwd()
    given = Path(name)
    if given.is_file():
        return given
    if given.exists():
        raise InputError(f"not a file: {name}")
    if given.parent != Path("."):
        raise InputError(f"no such file: {name}")
    matches = []
    for root, dirs, files in os.walk(cwd):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        if name in files:
            matches.append(Path(root, name).relative_to(cwd))
    if not matches:
        raise InputError(f"no such file: {name} (not here, nor anywhere below {cwd})")
    if len(matches) > 1:
        listed = ", ".join(str(m) for m in sorted(matches))
        raise InputError(f"{name} matches {len(matches)} files: {listed}; give a path")
    return cwd / matches[0]


def close_given_up_proof(
    prover: Prover, path: Path, text: str, site: GoalSite, current: list[GoalSite],
    gave_up: set[str],
) -> tuple[GoalResult, str] | None:
    """The final ``Admitted.`` of a Coq proof that also had ``admit`` holes.

    While any of those holes is open there is nothing to search at ``Admitted.`` (the goals were
    given up, not left): it stays open. Once they are all proved, ``Qed.`` in its place closes the
    proof if the whole file checks. Returns None for every other hole.
    """
    if site.kind != "Admitted" or site.theorem not in gave_up:
        return None
    base = {"file": str(path), "theorem": site.theorem, "line": site.line, "kind": site.kind}
    if any(s.decl_start == site.decl_start and s.kind == "admit" for s in current):
        return GoalResult(**base, status=GoalStatus.OPEN,
                          message="waits for the admit holes of this proof"), text
    closed = proof.splice(text, site, ())
    verdict = proof.verify(prover, path, text, closed, (), site.decl_start)
    if verdict.ok:
        return GoalResult(**base, status=GoalStatus.PROVED, proof=[],
                          message="every admit of this proof was proved; Qed closes it"), closed
    return GoalResult(**base, status=GoalStatus.OPEN,
                      message=f"Qed rejected: {verdict.reason}"), text


def search_file(
    file: SourceFile,
    settings: Settings,
    source: TacticSource,
    *,
    theorem: str | None = None,
    line: int | None = None,
    write: bool = False,
    on_event: GoalSink | None = None,
    on_status: Callable[[str], None] | None = None,
    prover: Prover | None = None,
    memory: TacticMemory | None = None,
) -> FileResult:
    """Search every open goal of ``path`` (or of one theorem); write back only if asked.

    A KeyboardInterrupt ends the search early: the result holds the goals finished so far
    (``interrupted`` set), and ``write`` writes only the proofs already re-checked in the file.

    Args:
      file: the .v or .lean file, read and located (``read_source_file``); a write-back
        replaces it only if it still holds that text.
      settings: budgets and switches.
      source: the tactic source.
      theorem: only this declaration's goals.
      line: only the goal at or around this line (``SourceFile.goal_at``).
      write: replace the file (atomically, with a backup) when anything was proved.
      on_event: receives tagged search events; lines are those of the original file.
      on_status: told of long steps outside the search (building stale project files).
      prover: a prover session to use instead of a new one (the caller then closes it).
      memory: the learned-priors record, told every tactic tried.

    Returns:
      Each goal's result, and the original and final texts.
    """
    path, original = file.path, file.text
    sites = [file.goal_at(line)[0]] if line is not None else file.goals_of(theorem)
    status = on_status or (lambda _message: None)
    results: list[GoalResult] = []
    text, interrupted = original, False
    session = prover or make_prover(path, settings.prover, lean=settings.lean)
    try:
        stale = stale_dependencies(path)
        if stale:
            names = ", ".join(p.name for p in stale)
            status(f"building {names} (imported by {path.name}) before checking {path.name}")
        if isinstance(session, CheckingApart) and sites and not stale:
            # the first goal opens while the file is checked (stale files are built first,
            # by one of them only)
            check = session.check_file_opening(path, original, sites[0])
        else:
            check = session.check_file(path, original)
        if not check.ok:
            where = f":{check.line}" if check.line else ""
            raise FileDoesNotCompile(
                f"{path}{where} does not compile before search: {check.message}"
            )
        originals = file.sites
        pending = [(s.theorem, s.index) for s in originals]
        first_line = {ident: (s.line, s.decl_line)  # the hole's and the theorem's
                      for ident, s in zip(pending, originals, strict=True)}
        gave_up = {s.theorem for s in originals if s.kind == "admit"}
        wanted = {(s.theorem, s.index) for s in sites}
        for ident in list(pending):
            if ident not in wanted:
                continue
            current = locate(text, path)
            site = dict(zip(pending, current, strict=True))[ident]
            closed = close_given_up_proof(session, path, text, site, current, gave_up)
            if closed is not None:
                result, after = closed
            else:
                result, after = attempt_goal(
                    session, source, Goal(path, text, site, file.context), settings,
                    on_event=_in_original_lines(on_event, first_line[ident]), memory=memory,
                    keep_trees=False,
                )
            if result.status == GoalStatus.PROVED:
                pending.remove(ident)
            line, decl_line = first_line[ident]
            result = dataclasses.replace(result, line=line, decl_line=decl_line)
            results, text = [*results, result], after  # together: Ctrl-C lands before or after
            if on_event is not None:  # told only once recorded: a goal shown done is kept
                on_event(GoalEvent(dataclasses.replace(site, line=line, decl_line=decl_line),
                                   "done", result=result))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if prover is None:
            session.close()
    backup, write_error = None, None
    if write and text != original:
        try:
            backup = safe_write.write_file(path, text, expected=original)
        except safe_write.WriteRefused as e:
            proved = [(r.theorem, r.line, r.proof or []) for r in results
                      if r.status == GoalStatus.PROVED]
            side = safe_write.write_side_file(path, proved)
            kept = f"; the proofs are kept in {side}" if side else ""
            write_error = f"nothing written: {e}{kept}"
    rebuilt = rebuild(path) if backup is not None and path.suffix == ".lean" else None
    return FileResult(path, results, original, text, backup, write_error, rebuilt, interrupted,
                      model_counts(source))


def model_counts(source: TacticSource) -> dict[str, int] | None:
    """The counts of the model source inside ``source`` (a mixed source's parts included), or
    None when no model is asked."""
    counts = getattr(source, "counts", None)
    if callable(counts):
        return counts()
    for part, _ in getattr(source, "sources", ()):
        found = model_counts(part)
        if found is not None:
            return found
    return None


def _in_original_lines(sink: GoalSink | None, lines: tuple[int, int]) -> GoalSink | None:
    """``sink`` told the goal's line in the original file, not in the text with earlier proofs
    spliced in (the lines the results table and the user's file show), and not told the result
    (``search_file`` tells it once recorded)."""
    if sink is None:
        return None

    line, decl_line = lines

    def tell(event: GoalEvent) -> None:
        if event.result is None:  # the goal's result is told once search_file recorded it
            site = dataclasses.replace(event.site, line=line, decl_line=decl_line)
            sink(dataclasses.replace(event, site=site))

    return tell


# What `alphaquant search` was asked to do, as the command line gave it (None: the config's).
@dataclass(frozen=True)
class SearchOptions:
    file: str
    theorem: str | None = None
    line: int | None = None
    config: Path | None = None
    budget: float | None = None
    expansions: int | None = None
    tactic_timeout: float | None = None
    seed: int | None = None
    prover: str | None = None
    offline: bool = False
    llm: str | None = None
    base_url: str | None = None
    model: str | None = None
    cache: bool = True
    disproof: bool = True
    write: bool = False
    learn_exclude: tuple[str, ...] = ()  # files or modules not to learn from (adds to config)
    avoid: tuple[str, ...] = ()  # --avoid: added to the config's search.avoid
    new_imports: bool | None = None  # False: refuse proofs that need an import the file lacks


# A search ready to run: the file, the settings, the tactic source, and what to tell the user.
@dataclass(frozen=True)
class SearchPlan:
    file: SourceFile
    settings: Settings
    source: TacticSource
    memory: TacticMemory | None
    goals: int  # open goals the search will attempt
    notices: tuple[str, ...]  # e.g. why the model is not used
    theorem: str | None
    write: bool
    line: int | None = None


def plan_search(options: SearchOptions) -> SearchPlan:
    """Check the options, find the file, and build the settings and tactic source.

    Raises:
      InputError: a bad option value, an unknown file or theorem.
    """
    from alphaquant.config import load_settings
    from alphaquant.tactics.factory import build_source, open_run_memory
    from alphaquant.tactics.model.config import ModelChoice

    for name, value in (("--budget", options.budget), ("--expansions", options.expansions),
                        ("--tactic-timeout", options.tactic_timeout)):
        if value is not None and value <= 0:
            raise InputError(f"{name} must be positive, got {value:g}")
    if options.line is not None and options.theorem is not None:
        raise InputError("--line and --theorem cannot be combined")
    if options.llm not in (None, "gemini", "openai"):
        raise InputError(f"--llm must be gemini or openai, got {options.llm!r}")
    online = bool(options.llm or options.base_url)
    if options.offline and online:
        raise InputError("--offline cannot be combined with --llm or --base-url")
    path = resolve_file(options.file)
    settings = load_settings(
        options.config, budget_seconds=options.budget, seed=options.seed,
        prover=options.prover, max_expansions=options.expansions,
        tactic_timeout=options.tactic_timeout,
        offline=True if options.offline else (False if online else None),
    )
    if options.avoid:
        if any(not a.strip() or any(c.isspace() for c in a.strip()) for a in options.avoid):
            raise InputError("--avoid takes one name, e.g. --avoid classic")
        avoid = tuple(dict.fromkeys((*settings.search.avoid, *(a.strip() for a in options.avoid))))
        settings = dataclasses.replace(
            settings, search=dataclasses.replace(settings.search, avoid=avoid))
    if options.new_imports is not None:
        settings = dataclasses.replace(settings, new_imports=options.new_imports)
    if not options.disproof:
        settings = dataclasses.replace(
            settings, disproof=dataclasses.replace(settings.disproof, enabled=False))
    if options.learn_exclude:
        settings = dataclasses.replace(settings, learn=dataclasses.replace(
            settings.learn, exclude=(*settings.learn.exclude, *options.learn_exclude)))
    file = read_source_file(path)
    notices: list[str] = []
    if options.line is not None:
        _, note = file.goal_at(options.line)
        notices.extend([note] if note else [])
        goals = 1
    else:
        goals = len(file.goals_of(options.theorem))
    choice = ModelChoice(options.llm, options.base_url, options.model, options.cache)
    memory = open_run_memory(settings, file.language)
    source, notice = build_source(settings, file.language, choice, memory)
    notices.extend([notice] if notice else [])
    return SearchPlan(file, settings, source, memory, goals, tuple(notices),
                      options.theorem, options.write, options.line)


def run_plan(plan: SearchPlan, *, on_event: GoalSink | None = None,
             on_status: Callable[[str], None] | None = None) -> FileResult:
    """Run a planned search (see ``search_file``)."""
    return search_file(plan.file, plan.settings, plan.source, theorem=plan.theorem,
                       line=plan.line, write=plan.write, on_event=on_event, on_status=on_status,
                       memory=plan.memory)
