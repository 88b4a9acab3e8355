"""Rich views of goals, results, doctor checks, and a live progress line for searches.

Text that comes from a prover, a file or a model is never read as rich markup: it goes into
`Text` objects (``plain``), so ``first [lra | lia]`` prints as written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.logging import RichHandler
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from alphaquant.checks import Check
from alphaquant.runs.attempt import GoalEvent, GoalResult
from alphaquant.sites.site import GoalSite
from alphaquant.tactics.learned.memory import Stat

STATUS_STYLE = {"proved": "green", "disproved": "magenta", "open": "yellow", "error": "red"}

# What each phase of a goal's attempt is doing, for the live line.
PHASES = {
    "probe": "probe: a short look for a counterexample first",
    "prove": "prove: searching for a proof",
    "disprove": "disprove: searching for a counterexample",
    "verify": "verify: re-checking the whole file with the proof in it",
}


def line_of(result: Any) -> int:
    """The line shown for a goal: its declaration's (the theorem), else its hole's."""
    return getattr(result, "decl_line", 0) or result.line


def plain(text: object, style: str = "") -> Text:
    """``text`` as literal text: brackets and backslashes are not rich markup."""
    return Text(str(text), style=style)


def setup_logging(console: Console, verbose: bool, quiet: bool = False) -> None:
    """Route the library's log records to stderr through rich (called by the CLI only)."""
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    logging.basicConfig(level=level, handlers=[handler], force=True, format="%(message)s")


def goal_name(r: GoalResult) -> str:
    return r.theorem or "(anonymous)"


def proof_text(r: GoalResult) -> str:
    """The proof as one line: the tactics joined by spaces, as `--json` lists them."""
    return " ".join(r.proof or ())


def counterexample_text(r: GoalResult) -> str:
    return ", ".join(f"{k} = {v}" for k, v in r.counterexample.items())


def status_text(r: GoalResult) -> str:
    """The status as people read it: ``proved (assuming ax, h)`` for a proof that rests on the
    file's own axioms, allowed ones or section hypotheses."""
    if r.status == "proved" and r.assumes:
        return f"proved (assuming {', '.join(r.assumes)})"
    return str(r.status)


def result_detail(r: GoalResult) -> str:
    """What the result column says beside the status: the proof, what a disproof disproves, or
    why the goal stays open."""
    if r.status == "disproved":
        lines = [f"disproves: {r.negation}" if r.negation else r.message]
        if r.counterexample:
            lines.append(f"counterexample: {counterexample_text(r)}")
        lines.append(f"by: {proof_text(r)}")
        return "\n".join(lines)
    if r.status == "proved":
        proof = proof_text(r) or r.message
        return f"assuming {', '.join(r.assumes)}\nby: {proof}" if r.assumes else proof
    return r.message


class ResultsTable:
    """One row per goal: name, line, result, time, expansions, and the proof or reason.

    Goal names are the table's key and are never cut: the proof column folds instead, and
    where the width left for it is under ``MIN_PROOF`` columns, each proof goes on its own row
    below its goal, across the name column.
    """

    MIN_PROOF = 30

    def __init__(self, results: Iterable[GoalResult]) -> None:
        self.results = list(results)

    def _table(self, stacked: bool) -> Table:
        widest = max((len(goal_name(r)) for r in self.results), default=4)
        table = Table(title="alphaquant results", title_justify="left", box=box.SIMPLE_HEAD,
                      pad_edge=False)
        table.add_column("goal", min_width=widest, overflow="fold", ratio=1 if stacked else None)
        for name in ("line", "result", "time", "exp."):
            table.add_column(name, justify="left" if name == "result" else "right", no_wrap=True)
        if not stacked:
            table.add_column("proof / reason", overflow="fold", ratio=1)
        for r in self.results:
            cells = [plain(goal_name(r)), str(line_of(r)),
                     plain(r.status, STATUS_STYLE.get(r.status, "")), f"{r.seconds:.1f}s",
                     str(r.expansions)]
            detail = plain(result_detail(r))
            if stacked:
                table.add_row(*cells)
                if detail:
                    table.add_row(Padding(detail, (0, 0, 0, 2)), "", "", "", "",
                                  end_section=True)
            else:
                table.add_row(*cells, detail)
        return table

    def fixed_width(self) -> int:
        """Columns taken by everything but the proof column (names whole)."""
        widest = max((len(goal_name(r)) for r in self.results), default=4)
        line = max((len(str(line_of(r))) for r in self.results), default=4)
        seconds = max((len(f"{r.seconds:.1f}s") for r in self.results), default=4)
        expansions = max((len(str(r.expansions)) for r in self.results), default=4)
        return widest + max(line, 4) + 9 + max(seconds, 4) + max(expansions, 4) + 2 * 5

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._table(options.max_width - self.fixed_width() < self.MIN_PROOF)


def results_table(results: Iterable[GoalResult]) -> ResultsTable:
    """The results table (see ResultsTable)."""
    return ResultsTable(results)


def proof_listing(results: Iterable[GoalResult]) -> list[Text]:
    """Each proved or disproved goal's proof on one line, whole, to copy from the screen (the
    table may fold it): the same text as the tactics of `--json` joined by spaces."""
    out: list[Text] = []
    for r in results:
        if r.status == "proved" and r.proof:
            out.append(plain(f"proof of {goal_name(r)} (line {line_of(r)}):", "green"))
            out.append(plain(f"  {proof_text(r)}"))
            if r.adds_import:
                out.append(plain(f"  adds to the file's imports: {r.adds_import}", "yellow"))
        elif r.status == "disproved":
            out.append(plain(f"disproof of {goal_name(r)} (line {line_of(r)}): {r.message}",
                             "magenta"))
            if r.negation:
                out.append(plain(f"  statement proved: {r.negation}"))
            if r.counterexample:
                out.append(plain(f"  counterexample: {counterexample_text(r)}"))
            out.append(plain(f"  {proof_text(r)}"))
            if r.adds_import:  # checked with it after the claim; the file is not changed
                out.append(plain(f"  checked with, after the claim: {r.adds_import}", "yellow"))
    return out


def goals_table(sites: list[GoalSite], states: dict[int, str] | None = None,
                root: Path | None = None) -> Table:
    """The open goals of a file (or, with ``root``, of a project: each file's name on a row of
    its own above its goals, never broken); with goal states when the prover could give them."""
    table = Table(title="open goals", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    names = [s.theorem or "(anonymous)" for s in sites]
    files = [_relative(s.file, root) for s in sites] if root is not None else []
    widest = max([len(n) + (2 if root is not None else 0) for n in names] +
                 [len(f) for f in files], default=7)
    table.add_column("file: theorem" if root is not None else "theorem", no_wrap=True,
                     min_width=widest)
    for name in ("line", "col", "kind"):
        table.add_column(name, no_wrap=True, min_width=max(
            [len(name), *(len(str(getattr(s, name))) for s in sites)]))
    if states is not None:
        table.add_column("goal state", overflow="fold", ratio=1)
    shown_file = None
    for i, s in enumerate(sites):
        if root is not None and files[i] != shown_file:
            shown_file = files[i]
            table.add_row(plain(shown_file, "bold"), *[""] * (len(table.columns) - 1))
        name = ("  " if root is not None else "") + names[i]
        row: list[Text] = [plain(name), plain(s.line), plain(s.col), plain(s.kind)]
        if states is not None:
            row.append(plain(states.get(i, "")))
        table.add_row(*row)
    return table


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def doctor_table(checks: list[Check]) -> Table:
    """Each prover and tool: found or not, version (the fixes follow: ``doctor_fixes``)."""
    table = Table(title="alphaquant doctor", title_justify="left")
    table.add_column("component", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("version", overflow="fold")
    for c in checks:
        status = Text("found", style="green") if c.found else Text("missing", style="red")
        table.add_row(plain(c.name), status, plain(c.version))
    return table


def doctor_fixes(checks: list[Check]) -> list[Text]:
    """The command that installs each missing part, a line each (printed with soft wrap: a
    command is never cut, whatever the width, so it can be copied whole)."""
    fixes = [Text.assemble((f"{c.name}: ", "bold"), plain(c.fix)) for c in checks if c.fix]
    return [Text("to fix:", style="bold"), *fixes] if fixes else []


def run_stats_lines(data: dict[str, Any], top: int = 10) -> list[Text]:
    """A run store's statistics (runs/report.py ``run_stats``) as lines."""
    lines = [
        plain(f"run {data['run']} of {data['project']}", "bold"),
        plain(f"{data['goals']} goals: {data['proved']} proved, {data['disproved']} disproved, "
              f"{data['open']} open, {data['error']} error, {data['unfinished']} without a "
              "result"),
        plain(f"{data['search_seconds']:.1f}s of search ({data['prover_seconds']:.1f}s waiting "
              f"on the prover), {data['expansions']} expansions, {data['attempts']} attempts"),
    ]
    used = list(data["proof_tactics"].items())
    if used:
        lines.append(plain("tactics in the proofs found (uses):", "bold"))
        lines += [plain(f"  {count:>4}  {tactic}") for tactic, count in used[:top]]
        if len(used) > top:
            lines.append(plain(f"  ({len(used) - top} more; --json lists all)"))
    else:
        lines.append(plain("no proof found yet in this run"))
    return lines


def stats_table(best: dict[str, list[Stat]], hidden: int = 0) -> Table:
    """Per goal shape, the tactics with the best smoothed success rates; ``hidden`` shapes left
    out are counted in the caption."""
    caption = (f"{hidden} more goal shape{'s' if hidden != 1 else ''} not shown "
               "(--shapes 0 shows all)") if hidden else None
    table = Table(title="tactics that work, by goal shape", title_justify="left",
                  caption=caption, caption_justify="left")
    for name in ("goal shape", "tactic", "tries", "on proof", "rate"):
        table.add_column(name)
    for shape, rows in best.items():
        for i, s in enumerate(rows):
            table.add_row(plain(shape if i == 0 else ""), plain(s.tactic), str(s.tries),
                          str(s.on_proof), f"{s.rate():.2f}")
    return table


def phase_text(phase: str) -> str:
    """``[prove: searching for a proof]``: the phase, explained."""
    return f"[{PHASES.get(phase, phase)}]"


class SearchProgress:
    """A live line while searching (goal k of n, phase explained, expansions, nodes, time), a
    printed line per finished goal and per long step; with ``verbose`` a line per tactic tried;
    with ``quiet`` nothing."""

    def __init__(self, console: Console, total: int, *, verbose: bool = False,
                 quiet: bool = False, notices: Iterable[str] = ()) -> None:
        self.console = console
        # Printed once the search really starts: an error before it stays the only line.
        self.notices = list(notices)
        self.total = total
        self.done = 0
        self.verbose = verbose and not quiet
        self.quiet = quiet
        self.step = ""
        self.step_started = time.monotonic()
        self.current: Text | None = None
        self.live = Live(Text(""), console=console, refresh_per_second=8, transient=True,
                         get_renderable=self._render)

    def __enter__(self) -> SearchProgress:
        if not self.quiet:
            self.live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.quiet:
            self.live.__exit__(kind, value, tb)

    def _render(self) -> Text:
        if self.current is not None:
            return self.current
        if self.step:
            return Text.assemble((self.step, "bold"),
                                 f" ({time.monotonic() - self.step_started:.0f}s)")
        return Text("")

    def _flush_notices(self) -> None:
        notices, self.notices = self.notices, []
        for message in notices:
            self._print(plain(f"alphaquant: {message}"))

    def _print(self, text: Text) -> None:
        if not self.quiet:
            self.console.print(text, soft_wrap=True)

    def status(self, message: str, printed: bool = True) -> None:
        """A long step outside any goal's search (building the file's dependencies): printed
        (unless not ``printed``), then shown live with its elapsed time until the search
        starts."""
        self.step, self.step_started, self.current = message, time.monotonic(), None
        if printed:
            self._flush_notices()
            self._print(plain(f"alphaquant: {message}", "dim"))

    def __call__(self, event: GoalEvent) -> None:
        name = event.site.theorem or "(anonymous)"
        if event.result is not None:
            self.done += 1
            r = event.result
            self.current = None
            self.step = ""
            self._print(Text.assemble(
                (f"{status_text(r):>9} ", STATUS_STYLE.get(r.status, "")),
                plain(f"{name} (line {line_of(r)}) in {r.seconds:.1f}s, "
                      f"{r.expansions} expansions"),
            ))
            return
        self._flush_notices()
        e = event.event
        if self.verbose and e is not None and e.kind in ("expand", "solved"):
            what = "tried" if e.kind == "expand" else "solved by"
            self._print(plain(f"  [{event.phase}] #{e.expansions} {what} {e.detail} "
                              f"({e.nodes} nodes, {e.elapsed:.1f}s)", "dim"))
        detail = f" {e.expansions} expansions, {e.nodes} nodes, {e.elapsed:.1f}s" if e else ""
        self.current = Text.assemble(
            ("searching ", "bold"), f"goal {self.done + 1}/{self.total} ",
            plain(name, "cyan"), f" {phase_text(event.phase)}{detail}",
        )
