"""The command line: options become config values, library errors become exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from alphaquant.config import load_settings
from alphaquant.errors import AlphaquantError, InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="alphaquant: AlphaProof-style tree search that closes open goals of Coq and Lean files.",
)
out = Console()
err = Console(stderr=True)


def fail(error: AlphaquantError) -> typer.Exit:
    """Print the error's one line on stderr; exit code 2."""
    err.print(f"alphaquant: error: {error}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


@app.callback()
def main_callback(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    """Set up logging before any command runs."""
    from alphaquant.ui.render import setup_logging

    setup_logging(err, verbose)


@app.command()
def search(
    file: Annotated[str, typer.Argument(help="A .v or .lean file (a bare name is looked up).")],
    theorem: Annotated[str | None, typer.Option(help="Only this theorem's goals.")] = None,
    budget: Annotated[float | None, typer.Option(help="Seconds per goal.")] = None,
    offline: Annotated[bool, typer.Option(help="Heuristic tactics only; no network.")] = False,
    prover: Annotated[str | None, typer.Option(help="auto, coq, lean or lean-dojo.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed of the search.")] = None,
    write: Annotated[bool, typer.Option(help="Write proofs back (atomic, .orig.bak).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    config: Annotated[Path | None, typer.Option(help="A TOML config file.")] = None,
    expansions: Annotated[int | None, typer.Option(help="Tactic applications per goal.")] = None,
    tactic_timeout: Annotated[float | None, typer.Option(help="Seconds per tactic.")] = None,
    llm: Annotated[str | None, typer.Option(help="Model provider: gemini or openai.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Endpoint of the model server.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name.")] = None,
    no_cache: Annotated[bool, typer.Option(help="Bypass the model answer cache.")] = False,
    no_disproof: Annotated[bool, typer.Option(help="Do not try to disprove.")] = False,
) -> None:
    """Search for proofs of the open goals of FILE; print a diff, or --write it back."""
    from alphaquant.runs.single import resolve_file, search_file
    from alphaquant.tactics.factory import build_source, open_run_memory
    from alphaquant.tactics.llm_config import ModelChoice

    try:
        if budget is not None and budget <= 0:
            raise InputError(f"--budget must be positive, got {budget:g}")
        if expansions is not None and expansions <= 0:
            raise InputError(f"--expansions must be positive, got {expansions}")
        if tactic_timeout is not None and tactic_timeout <= 0:
            raise InputError(f"--tactic-timeout must be positive, got {tactic_timeout:g}")
        if llm not in (None, "gemini", "openai"):
            raise InputError(f"--llm must be gemini or openai, got {llm!r}")
        if offline and (llm or base_url):
            raise InputError("--offline cannot be combined with --llm or --base-url")
        path = resolve_file(file)
        settings = load_settings(
            config, budget_seconds=budget, seed=seed, prover=prover,
            max_expansions=expansions, tactic_timeout=tactic_timeout,
            offline=True if offline else (False if llm or base_url else None),
        )
        if no_disproof:
            import dataclasses

            settings = dataclasses.replace(
                settings, disproof=dataclasses.replace(settings.disproof, enabled=False)
            )
        from alphaquant.goals import language_of

        choice = ModelChoice(llm, base_url, model, not no_cache)
        memory = open_run_memory(settings, language_of(path))
        source, notice = build_source(settings, language_of(path), choice, memory)
        if notice:
            err.print(f"alphaquant: {notice}", markup=False, highlight=False)
        from alphaquant.runs.single import select_goals
        from alphaquant.ui.render import SearchProgress, results_table

        total = len(select_goals(path, path.read_text(encoding="utf-8"), theorem))
        with SearchProgress(err, total) as progress:
            result = search_file(
                path, settings, source, theorem=theorem, write=write, on_event=progress,
                memory=memory,
            )
    except AlphaquantError as e:
        raise fail(e) from None
    if as_json:
        payload = {
            "file": str(path),
            "goals": [g.to_json() for g in result.goals],
            "written": result.backup is not None,
            "backup": str(result.backup) if result.backup else None,
            "write_error": result.write_error,
            "rebuild_error": result.rebuild_error,
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        if not result.goals:
            out.print(f"{path}: no open goals")
        else:
            out.print(results_table(result.goals))
            if result.backup is not None:
                out.print(f"wrote {path} (backup: {result.backup})")
            if result.rebuild_error:
                err.print(f"alphaquant: {result.rebuild_error}", markup=False, highlight=False)
            elif result.diff:
                sys.stdout.write(result.diff)
    if result.write_error is not None:
        err.print(f"alphaquant: {result.write_error}", markup=False, highlight=False)
        raise typer.Exit(2)
    closed = all(g.status in ("proved", "disproved") for g in result.goals)
    raise typer.Exit(0 if closed else 1)


@app.command()
def goals(
    file: Annotated[str, typer.Argument(help="A .v or .lean file (a bare name is looked up).")],
    states: Annotated[bool, typer.Option(help="Ask the prover for goal states.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print goals as JSON.")] = False,
) -> None:
    """List the open goals of FILE (with goal states where the prover is installed)."""
    from alphaquant.runs.goal_states import goal_states
    from alphaquant.runs.single import resolve_file
    from alphaquant.ui.render import goals_table

    try:
        path = resolve_file(file)
        sites, shown, notice = goal_states(path, with_states=states)
    except AlphaquantError as e:
        raise fail(e) from None
    if notice:
        err.print(f"alphaquant: {notice}", markup=False, highlight=False)
    if as_json:
        items = [
            {"file": str(path), "theorem": s.theorem, "line": s.line, "col": s.col,
             "kind": s.kind, "statement": s.statement, "state": (shown or {}).get(i)}
            for i, s in enumerate(sites)
        ]
        sys.stdout.write(json.dumps({"goals": items}, indent=2) + "\n")
        return
    out.print(goals_table(sites, shown))


@app.command()
def doctor(
    config: Annotated[Path | None, typer.Option(help="A TOML config file.")] = None,
) -> None:
    """Check each prover and tool: found or not, version, and the command that installs it."""
    from alphaquant.doctor import doctor_checks
    from alphaquant.ui.render import doctor_table

    try:
        settings = load_settings(config)
    except AlphaquantError as e:
        raise fail(e) from None
    out.print(doctor_table(doctor_checks(settings)))


@app.command()
def stats(
    language: Annotated[str, typer.Option(help="coq or lean.")] = "coq",
    limit: Annotated[int, typer.Option(help="Tactics shown per goal shape.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the tactics that worked best per goal shape, from the learned-priors record."""
    from alphaquant.tactics.memory import open_memory
    from alphaquant.ui.render import stats_table

    if language not in ("coq", "lean"):
        raise fail(InputError(f"--language must be coq or lean, got {language!r}"))
    best = open_memory(None, language).best(limit)
    if as_json:
        payload = {
            shape: [{"tactic": s.tactic, "tries": s.tries, "on_proof": s.on_proof,
                     "rate": round(s.rate(), 4)} for s in rows]
            for shape, rows in best.items()
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    if not best:
        out.print(f"no {language} tactics recorded yet: run a search first")
        return
    out.print(stats_table(best))


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
        help="Worker processes (default: the CPU count).")] = None,
    budget_per_goal: Annotated[float | None, typer.Option(help="Seconds per goal.")] = None,
    hours: Annotated[float | None, typer.Option(
        help="Start no goal after this many hours (of this session).")] = None,
    executor: Annotated[str | None, typer.Option(help="local (default) or ray.")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="HOST:PORT of a Ray cluster's head (default: a Ray instance on this machine)."
    )] = None,
    write: Annotated[bool, typer.Option(
        help="Write each file's proofs back at the end, re-checked together.")] = False,
    offline: Annotated[bool, typer.Option(help="Heuristic tactics only; no network.")] = False,
    force: Annotated[bool, typer.Option(
        help="Continue a run directory made with another config.")] = False,
    second_pass: Annotated[float | None, typer.Option(
        help="Budget factor of a second pass over goals that ran out of time (default 3; 0: "
        "none)."
    )] = None,
) -> None:
    """Search every open goal of a project in parallel; results go to a resumable run store.

    A resume keeps the run's config and, unless given again, its workers, hours, executor,
    Ray address and second pass.
    """
    from alphaquant.runs.batch import run_batch
    from alphaquant.runs.options import BatchOptions
    from alphaquant.ui.batch_view import BatchProgress, batch_summary

    options = BatchOptions(
        project=project, config=config, run_dir=run_dir, resume=resume, workers=workers,
        budget_per_goal=budget_per_goal, hours=hours, executor=executor,
        ray_address=ray_address, write=write, offline=offline, force=force,
        second_pass=second_pass,
    )
    try:
        with BatchProgress(err) as progress:
            summary = run_batch(options, on_event=progress)
    except AlphaquantError as e:
        raise fail(e) from None
    if summary.run_dir is None:
        out.print(f"{project}: no open goals")
        return
    out.print(batch_summary(summary))
    c = summary.counts
    raise typer.Exit(0 if c.proved + c.disproved == c.total else 1)


def _write_text(text: str, output: Path | None) -> None:
    """``text`` to ``output``, or to stdout."""
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A batch run directory.")],
    fmt: Annotated[str, typer.Option("--format", help="md, html, json or latex.")] = "md",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Report a batch run: per file and goal the status, proof, time, expansions."""
    from alphaquant.runs.report import render_report

    try:
        text = render_report(run_dir, fmt)
    except AlphaquantError as e:
        raise fail(e) from None
    _write_text(text, output)


@app.command()
def tree(
    run_dir: Annotated[Path, typer.Argument(help="A batch run directory.")],
    goal: Annotated[str, typer.Argument(help="THEOREM or FILE:THEOREM (#INDEX for a 2nd hole).")],
    fmt: Annotated[str, typer.Option("--format", help="graphml, dot or json.")] = "graphml",
    phase: Annotated[str, typer.Option(help="probe, prove or disprove.")] = "prove",
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Export a goal's stored search tree from a batch run."""
    from alphaquant.runs.report import export_tree

    try:
        text = export_tree(run_dir, goal, fmt, phase)
    except AlphaquantError as e:
        raise fail(e) from None
    _write_text(text, output)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C: provers close, temporary folders are removed."""
    raise KeyboardInterrupt


def main() -> None:
    """Entry point of the `alphaquant` script."""
    import signal
    import sqlite3

    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except sqlite3.DatabaseError as e:
        err.print(f"alphaquant: error: run store is damaged: {e}", markup=False,
                  highlight=False, soft_wrap=True)
        sys.exit(2)
