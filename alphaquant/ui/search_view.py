"""What `alphaquant search` prints: the results table, every proof whole, and the diff (or what
was written); or the JSON."""

from __future__ import annotations

import json
import sys

from rich.console import Console

from alphaquant.runs.single import FileResult
from alphaquant.ui.render import proof_listing, results_table


def print_search_result(out: Console, err: Console, result: FileResult, *, as_json: bool,
                        total: int) -> None:
    """Print ``result`` to ``out`` (a failed rebuild to ``err``).

    Args:
      out: standard output's console.
      err: standard error's console.
      result: the file's search.
      as_json: the JSON document instead of the table, the proofs and the diff.
      total: the goals the search set out to attempt (said when interrupted).
    """
    path = result.path
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        sys.stdout.flush()
        return
    if not result.goals and not result.interrupted:
        out.print(f"{path}: no open goals")
        return
    if result.goals:
        out.print(results_table(result.goals))
        for line in proof_listing(result.goals):
            out.print(line, soft_wrap=True)
    if result.interrupted:
        out.print(f"interrupted: {len(result.goals)} of {total} goals finished")
    if result.backup is not None:
        out.print(f"wrote {path} (backup: {result.backup})", soft_wrap=True)
        if result.rebuild_error:
            err.print(f"alphaquant: {result.rebuild_error}", markup=False, highlight=False)
    elif result.diff:
        out.file.flush()
        sys.stdout.write(result.diff)
        sys.stdout.flush()


def print_try_this(err: Console, result: FileResult, *, quiet: bool = False) -> None:
    """``Try this: <proof>`` on stdout for each proved goal, the proof on one line, and nothing
    else there (editors and scripts insert it); a goal not proved by tactics gets one line on
    ``err`` saying what became of it (unless ``quiet``), as does a write that failed."""
    for goal, text in result.suggestions():
        if text is not None:
            sys.stdout.write(f"Try this: {text}\n")
        elif not quiet:
            what = goal.message or "no proof to insert"
            err.print(f"alphaquant: {goal.theorem or 'example'} (line {goal.line}): "
                      f"{goal.status}: {what}", markup=False, highlight=False, soft_wrap=True)
    sys.stdout.flush()
    if result.interrupted and not quiet:
        err.print("alphaquant: interrupted", markup=False, highlight=False)
