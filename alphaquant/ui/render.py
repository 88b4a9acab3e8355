"""Rich views of goals, results, doctor checks, and a live progress line for searches."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from alphaquant.checks import Check
from alphaquant.goals import GoalSite
from alphaquant.runs.attempt import GoalEvent, GoalResult
from alphaquant.tactics.memory import Stat

STATUS_STYLE = {"proved": "green", "disproved": "magenta", "open": "yellow", "error": "red"}


def setup_logging(console: Console, verbose: bool) -> None:
    """Route the library's log records to stderr through rich (called by the CLI only)."""
    handler = RichHandler(console=console, show_path=False, show_time=False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler], force=True,
        format="%(message)s",
    )


def results_table(results: Iterable[GoalResult]) -> Table:
    """One row per goal: theorem, line, result, tactics, time, expansions."""
    table = Table(title="alphaquant results", title_justify="left")
    for name, justify in (("goal", "left"), ("line", "right"), ("result", "left"),
                          ("tactics", "left"), ("time", "right"), ("expansions", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in results:
        tactics = " ".join(r.proof) if r.proof else (r.message or "")
        style = STATUS_STYLE.get(r.status, "")
        table.add_row(
            r.theorem or "(anonymous)", str(r.line), Text(r.status, style=style),
            tactics, f"{r.seconds:.1f}s", str(r.expansions),
        )
    return table


def goals_table(sites: list[GoalSite], states: dict[int, str] | None = None) -> Table:
    """The open goals of a file; with goal states when the prover could give them."""
    table = Table(title="open goals", title_justify="left")
    for name in ("theorem", "line", "col", "kind"):
        table.add_column(name)
    if states is not None:
        table.add_column("goal state")
    for i, s in enumerate(sites):
        row = [s.theorem or "(anonymous)", str(s.line), str(s.col), s.kind]
        if states is not None:
            row.append(states.get(i, ""))
        table.add_row(*row)
    return table


def doctor_table(checks: list[Check]) -> Table:
    """Each prover and tool: found or not, version, the command that installs what is missing."""
    table = Table(title="alphaquant doctor", title_justify="left")
    for name in ("component", "status", "version", "fix"):
        table.add_column(name)
    for c in checks:
        status = Text("found", style="green") if c.found else Text("missing", style="red")
        table.add_row(c.name, status, c.version, c.fix)
    return table


def stats_table(best: dict[str, list[Stat]]) -> Table:
    """Per goal shape, the tactics with the best smoothed success rates."""
    table = Table(title="tactics that work, by goal shape", title_justify="left")
    for name in ("goal shape", "tactic", "tries", "on proof", "rate"):
        table.add_column(name)
    for shape, rows in best.items():
        for i, s in enumerate(rows):
            table.add_row(shape if i == 0 else "", s.tactic, str(s.tries), str(s.on_proof),
                          f"{s.rate():.2f}")
    return table


class SearchProgress:
    """A live line while searching: goal k of n, phase, expansions, nodes, time."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.live = Live(Text(""), console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> SearchProgress:
        self.live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.live.__exit__(kind, value, tb)

    def __call__(self, event: GoalEvent) -> None:
        name = event.site.theorem or "(anonymous)"
        if event.result is not None:
            self.done += 1
            r = event.result
            self.console.print(
                Text.assemble(
                    (f"{r.status:>9} ", STATUS_STYLE.get(r.status, "")),
                    f"{name} (line {r.line}) in {r.seconds:.1f}s, {r.expansions} expansions",
                )
            )
            return
        e = event.event
        detail = f"{e.expansions} expansions, {e.nodes} nodes, {e.elapsed:.1f}s" if e else ""
        line = Text.assemble(
            ("searching ", "bold"), f"goal {self.done + 1}/{self.total} ",
            (name, "cyan"), f" [{event.phase}] {detail}",
        )
        self.live.update(line)
