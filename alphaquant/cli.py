"""The command line: options become config values, library errors become exit codes."""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from alphaquant import __version__
from alphaquant.config import load_settings
from alphaquant.errors import AlphaquantError, InputError
from alphaquant.status import GoalStatus

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import ClickException, NoArgsIsHelpError  # type: ignore[no-redef]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="alphaquant: AlphaProof-style tree search that closes open goals of Coq and Lean files.",
)
# Text from provers, files and models is never rich markup (ui.render.plain); the consoles do
# not read markup either, so a plain string that slips through prints as written.
out = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)
LOGGING = {"verbose": False, "quiet": False}  # the global -v/-q, before the subcommand


def _positive(value: float | None) -> float | None:
    """A number option's check: finite and above 0 (``nan``, ``inf``, 0 and less refused)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value:g}: allowed: a finite number > 0")
    return value


def _not_negative(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise typer.BadParameter(f"{value:g}: allowed: a finite number >= 0")
    return value


def _default_budget() -> str:
    try:
        return f"{load_settings(None).search.budget_seconds:g}"
    except AlphaquantError:
        return "see configs/default.toml"


Verbose = Annotated[bool, typer.Option("--verbose", "-v",
                                       help="Debug detail: log records and every tactic tried.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q",
                                     help="No progress lines or notices; results and errors only.")]


def logging_options(verbose: bool = False, quiet: bool = False) -> tuple[bool, bool]:
    """-v/-q given after the subcommand, or before it: (verbose, quiet), logging set up so."""
    from alphaquant.ui.render import setup_logging

    verbose, quiet = verbose or LOGGING["verbose"], quiet or LOGGING["quiet"]
    if verbose and quiet:
        raise fail(InputError("--verbose and --quiet cannot be combined"))
    setup_logging(err, verbose, quiet)
    return verbose, quiet


def notice(message: str, quiet: bool) -> None:
    if not quiet:
        err.print(f"alphaquant: {message}", markup=False, highlight=False, soft_wrap=True)


def fail(error: AlphaquantError) -> typer.Exit:
    """Print the error's one line on stderr; exit code 2."""
    err.print(f"alphaquant: error: {error}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _print_version(value: bool) -> None:
    if value:
        out.print(f"alphaquant {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_callback(
    verbose: Verbose = False,
    quiet: Quiet = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.",
    )] = False,
) -> None:
    """Set up logging before any command runs."""
    LOGGING.update(verbose=verbose, quiet=quiet)
    logging_options()


@app.command()
def search(
    file: Annotated[str, typer.Argument(help="A .v or .lean file (a bare name is looked up).")],
    theorem: Annotated[str | None, typer.Option(help="Only this theorem's goals.")] = None,
    line: Annotated[int | None, typer.Option(
        help="Only the goal at or around this line: a hole of the declaration holding it, "
             "else the nearest goal below or above (for editors).")] = None,
    budget: Annotated[float | None, typer.Option(
        help=f"Seconds per goal (default: {_default_budget()}, from configs/default.toml).",
        callback=_positive)] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Heuristic tactics only; no network.")] = False,
    prover: Annotated[str | None, typer.Option(help="auto, coq, lean or lean-dojo.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed of the search.")] = None,
    write: Annotated[bool, typer.Option(
        "--write", help="Write proofs back (atomic, .orig.bak).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    output_format: Annotated[str, typer.Option(
        "--format", help="text (the table, proofs and diff), json (as --json), or try-this: "
                         "only 'Try this: <proof>' lines on stdout, one per proved goal.")
    ] = "text",
    config: Annotated[Path | None, typer.Option(help="A TOML config file.")] = None,
    expansions: Annotated[int | None, typer.Option(
        help="Tactic applications per goal.", callback=_positive)] = None,
    tactic_timeout: Annotated[float | None, typer.Option(
        help="Seconds per tactic.", callback=_positive)] = None,
    llm: Annotated[str | None, typer.Option(help="Model provider: gemini or openai.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Endpoint of the model server.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Bypass the model answer cache.")] = False,
    no_disproof: Annotated[bool, typer.Option(
        "--no-disproof", help="Do not try to disprove.")] = False,
    learn_exclude: Annotated[list[str] | None, typer.Option(
        "--learn-exclude", help="Files or modules whose recorded proofs are never suggested "
                                "(glob, path suffix or module name; repeatable).")] = None,
    avoid: Annotated[list[str] | None, typer.Option(
        "--avoid", help="A lemma or axiom no proof may use (repeatable; search.avoid).")] = None,
    no_new_imports: Annotated[bool, typer.Option(
        "--no-new-imports", help="Refuse proofs that need an import line the file lacks "
        "(CoqHammer's, Interval's, Gappa's tactics); config key new_imports.")] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Search for proofs of the open goals of FILE; print a diff, or --write it back.

    Ctrl-C stops the search and prints the goals finished so far (exit code 130); with --write,
    their proofs, each already re-checked in the whole file, are written.
    """
    from alphaquant.runs.single import SearchOptions, plan_search, run_plan
    from alphaquant.ui.render import SearchProgress
    from alphaquant.ui.search_view import print_search_result, print_try_this

    verbose, quiet = logging_options(verbose, quiet)
    if output_format not in ("text", "json", "try-this"):
        raise fail(InputError(f"--format must be text, json or try-this, got {output_format!r}"))
    if as_json and output_format == "try-this":
        raise fail(InputError("--json and --format try-this cannot be combined"))
    as_json = as_json or output_format == "json"
    try:
        plan = plan_search(SearchOptions(
            file, theorem=theorem, line=line, config=config, budget=budget,
            expansions=expansions,
            tactic_timeout=tactic_timeout, seed=seed, prover=prover, offline=offline, llm=llm,
            base_url=base_url, model=model, cache=not no_cache, disproof=not no_disproof,
            write=write, learn_exclude=tuple(learn_exclude or ()), avoid=tuple(avoid or ()),
            new_imports=False if no_new_imports else None,
        ))
        total = plan.goals
        with SearchProgress(err, total, verbose=verbose, quiet=quiet,
                            notices=list(plan.notices)) as progress:
            progress.status(f"checking {plan.file.path.name} with the prover", printed=False)
            result = run_plan(plan, on_event=progress, on_status=progress.status)
    except AlphaquantError as e:
        raise fail(e) from None
    if output_format == "try-this":
        print_try_this(err, result, quiet=quiet)
    else:
        print_search_result(out, err, result, as_json=as_json, total=total)
    if result.write_error is not None:
        err.print(f"alphaquant: {result.write_error}", markup=False, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(2)
    if result.interrupted:
        raise typer.Exit(130)
    closed = all(GoalStatus(g.status).closed for g in result.goals)
    raise typer.Exit(0 if closed else 1)


@app.command()
def goals(
    file: Annotated[str, typer.Argument(
        help="A .v or .lean file (a bare name is looked up), or a project directory.")],
    states: Annotated[bool, typer.Option(help="Ask the prover for goal states.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print goals as JSON.")] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """List the open goals of FILE, or of every file of a project directory (with goal states
    where the prover is installed)."""
    from alphaquant.runs.goal_states import goal_states, goals_json, project_goal_states
    from alphaquant.runs.single import resolve_file
    from alphaquant.ui.render import goals_table

    _, quiet = logging_options(verbose, quiet)
    try:
        root: Path | None = None
        if Path(file).is_dir():
            root = Path(file)
            sites, shown, notices = project_goal_states(root, with_states=states)
        else:
            path = resolve_file(file)
            sites, shown, one = goal_states(path, with_states=states)
            notices = [one] if one else []
    except AlphaquantError as e:
        raise fail(e) from None
    for message in notices:
        notice(message, quiet)
    if as_json:
        sys.stdout.write(json.dumps(goals_json(sites, shown), indent=2) + "\n")
        return
    if not sites:
        out.print(f"{file}: no open goals")
        return
    out.print(goals_table(sites, shown, root))


@app.command()
def doctor(
    config: Annotated[Path | None, typer.Option(help="A TOML config file.")] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Check each prover and tool: found or not, version, and the command that installs it."""
    from alphaquant.doctor import doctor_checks
    from alphaquant.ui.render import doctor_fixes, doctor_table

    logging_options(verbose, quiet)
    try:
        settings = load_settings(config)
    except AlphaquantError as e:
        raise fail(e) from None
    checks = doctor_checks(settings)
    out.print(doctor_table(checks))
    for line in doctor_fixes(checks):
        out.print(line, soft_wrap=True)


@app.command()
def stats(
    run_dir: Annotated[Path | None, typer.Argument(
        help="A batch run directory: its statistics instead of the learned record's.")] = None,
    language: Annotated[str, typer.Option(help="coq or lean.")] = "coq",
    limit: Annotated[int, typer.Option(help="Tactics shown per goal shape.")] = 5,
    shapes: Annotated[int, typer.Option(
        help="Goal shapes shown, the most tried first (0: all).")] = 10,
    config: Annotated[Path | None, typer.Option(
        help="A TOML config (where the learned record is, whether it is kept).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Show what a run store holds (given RUN_DIR), or the tactics that worked best per goal
    shape in the learned-priors record; when that is empty, why."""
    from alphaquant.runs.report import run_stats
    from alphaquant.tactics.learned.memory import open_memory
    from alphaquant.ui.render import run_stats_lines, stats_table

    logging_options(verbose, quiet)
    if language not in ("coq", "lean"):
        raise fail(InputError(f"--language must be coq or lean, got {language!r}"))
    if limit <= 0 or shapes < 0:
        raise fail(InputError("--limit must be positive and --shapes at least 0"))
    try:
        if run_dir is not None:
            data = run_stats(run_dir)
            if as_json:
                sys.stdout.write(json.dumps(data, indent=2) + "\n")
                return
            for line in run_stats_lines(data):
                out.print(line, soft_wrap=True)
            return
        settings = load_settings(config)
    except AlphaquantError as e:
        raise fail(e) from None
    best = open_memory(settings.tactics.memory_path, language).best(limit)
    hidden = max(0, len(best) - shapes) if shapes else 0
    if hidden:
        best = dict(list(best.items())[:shapes])
    if as_json:
        payload = {shape: [stat.to_json() for stat in rows] for shape, rows in best.items()}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    if not best:
        where = settings.source_file or "the default config"
        if not settings.tactics.learned_priors:
            out.print(f"the learned record holds no {language} tactics: learned priors are off "
                      f"([tactics] learned_priors = false in {where}), so searches record "
                      "nothing; set it to true to keep a record, or see what a batch run holds "
                      "with `alphaquant stats RUN_DIR`", soft_wrap=True)
        else:
            out.print(f"the learned record holds no {language} tactics yet: each search with "
                      f"learned priors on (as in {where}) adds the tactics it tries",
                      soft_wrap=True)
        return
    out.print(stats_table(best, hidden))


@app.command()
def learn(
    paths: Annotated[list[str], typer.Argument(
        help="Coq files or directories (their proofs and the libraries they Require), or "
             "library directories of Coq's load path (Reals, Coq.ZArith, Flocq).")],
    workers: Annotated[int, typer.Option(help="Files replayed at once.")] = 1,
    learn_exclude: Annotated[list[str] | None, typer.Option(
        "--learn-exclude", help="Files or modules not to learn from (glob, path suffix or "
                                "module name; repeatable). Adds to learn.exclude.")] = None,
    config: Annotated[Path | None, typer.Option(help="A TOML config file.")] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Record the finished proofs of PATHS (state before each tactic, and the tactic) into the
    corpus the searches learn from. Resumable and incremental: run it again after a kill or an
    edit, and only what is missing or changed is recorded."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from alphaquant.runs.learn import LearnEvent
    from alphaquant.runs.learn import learn as run_learn

    _, quiet = logging_options(verbose, quiet)
    try:
        settings = load_settings(config)
    except AlphaquantError as e:
        raise fail(e) from None
    exclude = (*settings.learn.exclude, *(learn_exclude or ()))
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, disable=quiet, transient=False)
    task = progress.add_task("recording", total=None)

    def on_event(e: LearnEvent) -> None:
        if e.kind == "plan":  # the paths are known good: the bar starts only now
            notice(f"{e.total} files to record ({e.detail})", quiet)
            progress.update(task, total=e.total)
            progress.start()
        elif e.kind in ("file", "failed"):
            progress.update(task, completed=e.done, description=f"recording {e.key[-40:]}")
            if e.kind == "failed":
                notice(f"{e.key}: not recorded: {e.detail}", quiet)
        elif e.kind == "index":
            progress.update(task, description="recorded")

    try:
        summary = run_learn(paths, workers=workers, exclude=exclude,
                            corpus_file=settings.learn.corpus, on_event=on_event)
    except AlphaquantError as e:
        raise fail(e) from None
    finally:
        if progress.live.is_started:
            progress.stop()
    out.print(f"{summary.recorded} files recorded ({summary.steps} steps), "
              f"{summary.skipped} already recorded, {summary.failed} failed, "
              f"in {summary.seconds:.0f}s; corpus: {summary.corpus_steps} steps, "
              f"{summary.corpus_bytes / 1e6:.1f} MB; " + (
                  "index up to date" if summary.index_seconds is None
                  else f"index built in {summary.index_seconds:.1f}s"))


@app.command()
def batch(
    project: Annotated[Path | None, typer.Argument(help="The project directory.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this directory.")] = None,
    config: Annotated[Path | None, typer.Option(
        help="A TOML config (default configs/overnight.toml; a resume keeps the run's own)."
    )] = None,
    run_dir: Annotated[Path | None, typer.Option(
        help="The run directory (default runs/<timestamp>).")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: the CPU count).", callback=_positive)] = None,
    budget_per_goal: Annotated[float | None, typer.Option(
        help="Seconds per goal.", callback=_positive)] = None,
    hours: Annotated[float | None, typer.Option(
        help="Start no goal after this many hours (of this session).",
        callback=_positive)] = None,
    executor: Annotated[str | None, typer.Option(help="local (default) or ray.")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="HOST:PORT of a Ray cluster's head (default: a Ray instance on this machine)."
    )] = None,
    write: Annotated[bool, typer.Option(
        "--write", help="Write each file's proofs back at the end, re-checked together.")] = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Heuristic tactics only; no network.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Continue a run directory made with another config.")] = False,
    second_pass: Annotated[float | None, typer.Option(
        help="Budget factor of a second pass over goals that ran out of time (default 3; 0: "
        "none).", callback=_not_negative,
    )] = None,
    learn_exclude: Annotated[list[str] | None, typer.Option(
        "--learn-exclude", help="Files or modules whose recorded proofs are never suggested "
                                "(glob, path suffix or module name; repeatable).")] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Search every open goal of a project in parallel; results go to a resumable run store.

    A resume keeps the run's config and, unless given again, its workers, hours, executor,
    Ray address and second pass.
    """
    from alphaquant.runs.batch import run_batch
    from alphaquant.runs.options import BatchOptions
    from alphaquant.ui.batch_view import BatchProgress, batch_summary

    _, quiet = logging_options(verbose, quiet)
    options = BatchOptions(
        project=project, config=config, run_dir=run_dir, resume=resume, workers=workers,
        budget_per_goal=budget_per_goal, hours=hours, executor=executor,
        ray_address=ray_address, write=write, offline=offline, force=force,
        second_pass=second_pass, learn_exclude=tuple(learn_exclude or ()),
    )
    try:
        with BatchProgress(err, quiet=quiet) as progress:
            summary = run_batch(options, on_event=progress)
    except AlphaquantError as e:
        raise fail(e) from None
    if summary.run_dir is None:
        out.print(f"{project}: no open goals")
        return
    out.print(batch_summary(summary), soft_wrap=True)  # lines to grep and copy, never wrapped
    c, left = summary.counts, len(summary.left)
    if summary.halted:
        err.print(f"alphaquant: error: {summary.halted}; {left} goals left to try; once fixed, "
                  f"resume with: {summary.resume_command}", soft_wrap=True)
        raise typer.Exit(2)
    if summary.interrupted:
        err.print(f"alphaquant: interrupted: {c.done} of {c.total} goals finished, {left} left;"
                  f" resume with: {summary.resume_command}", soft_wrap=True)
        raise typer.Exit(130)
    raise typer.Exit(0 if c.proved + c.disproved == c.total else 1)


def _write_text(text: str, output: Path | None, what: str, quiet: bool = False) -> None:
    """``text`` to ``output`` (confirmed on stderr: what, where, how big), or to stdout."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise fail(InputError(f"cannot write {output}: {e.strerror or e}")) from None
    notice(f"wrote {what} to {output} ({len(text.encode('utf-8')):,} bytes)", quiet)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A batch run directory.")],
    fmt: Annotated[str, typer.Option("--format", help="md, html, json or latex.")] = "md",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Report a batch run: per file and goal the status, proof, time, expansions."""
    from alphaquant.runs.report import render_report

    _, quiet = logging_options(verbose, quiet)
    try:
        text = render_report(run_dir, fmt)
    except AlphaquantError as e:
        raise fail(e) from None
    _write_text(text, output, f"the {fmt} report of {run_dir}", quiet)


@app.command()
def tree(
    run_dir: Annotated[Path, typer.Argument(help="A batch run directory.")],
    goal: Annotated[str, typer.Argument(help="THEOREM or FILE:THEOREM (#INDEX for a 2nd hole).")],
    fmt: Annotated[str, typer.Option("--format", help="graphml, dot or json.")] = "graphml",
    phase: Annotated[str | None, typer.Option(
        help="probe, prove or disprove (default: the phase that decided the goal).")] = None,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Export a goal's stored search tree from a batch run."""
    from alphaquant.runs.report import export_tree

    _, quiet = logging_options(verbose, quiet)
    try:
        text = export_tree(run_dir, goal, fmt, phase)
    except AlphaquantError as e:
        raise fail(e) from None
    _write_text(text, output, f"the {fmt} tree of {goal}", quiet)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: provers close, temporary folders are removed."""
    raise KeyboardInterrupt


def main() -> None:
    """Entry point of the `alphaquant` script: a usage error is one line on stderr, exit 2; a
    damaged run store too; SIGTERM ends a run as Ctrl-C does."""
    import sqlite3

    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = app(standalone_mode=False)
    except sqlite3.DatabaseError as e:
        err.print(f"alphaquant: error: run store is damaged: {e}", markup=False,
                  highlight=False, soft_wrap=True)
        code = 2
    except NoArgsIsHelpError as e:
        e.show()
        code = 2
    except ClickException as e:
        hint = f" (see: {e.ctx.command_path} --help)" if getattr(e, "ctx", None) else ""
        message = " ".join(e.format_message().split())
        err.print(f"alphaquant: error: {message}{hint}", markup=False, highlight=False,
                  soft_wrap=True)
        code = e.exit_code
    except typer.Abort:
        err.print("alphaquant: interrupted", markup=False, highlight=False)
        code = 130
    except BrokenPipeError:  # `alphaquant … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
