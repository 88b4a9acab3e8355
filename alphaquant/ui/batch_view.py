"""Rich views of batch runs: a live display on stderr and the closing summary."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from alphaquant.runs.driver import BatchEvent, BatchSummary, Counts
from alphaquant.ui.render import STATUS_STYLE, plain


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def counts_line(c: Counts, eta: float | None = None) -> Text:
    """``7/20 done · 5 proved · 1 disproved · 1 open · 0 error · 2 running · ETA 3m12s``."""
    parts: list[str | tuple[str, str]] = [
        (f"{c.done}/{c.total} done", "bold"), " · ",
        (f"{c.proved} proved", STATUS_STYLE["proved"]), " · ",
        (f"{c.disproved} disproved", STATUS_STYLE["disproved"]), " · ",
        (f"{c.open} open", STATUS_STYLE["open"]), " · ",
        (f"{c.error} error", STATUS_STYLE["error"]), " · ",
        f"{c.running} running",
    ]
    if eta is not None:
        parts += [" · ", f"ETA {_duration(eta)}"]
    return Text.assemble(*parts)


class BatchProgress:
    """The live batch display: counts, ETA and each worker's current goal; one printed line per
    finished goal and per notable event (with ``quiet``: nothing)."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.step: tuple[str, float] | None = None  # a long driver step: (what, since)
        self.started = time.monotonic()
        self.finished_here = 0
        self.counts = Counts()
        self.workers: dict[int, tuple[str, float]] = {}  # slot -> (goal, since)
        self.live = Live(Text(""), console=console, refresh_per_second=4, transient=True,
                         get_renderable=self._render)

    def __enter__(self) -> BatchProgress:
        if not self.quiet:
            self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.quiet:
            self.live.__exit__(kind, value, tb)

    def eta(self) -> float | None:
        """Seconds left at this session's pace (None before the first goal finishes)."""
        if not self.finished_here:
            return None
        pace = (time.monotonic() - self.started) / self.finished_here
        return pace * (self.counts.total - self.counts.done)

    def _render(self) -> Group:
        table = Table(box=None, show_header=bool(self.workers), pad_edge=False)
        table.add_column("worker", justify="right")
        table.add_column("goal")
        table.add_column("for", justify="right")
        now = time.monotonic()
        for slot, (goal, since) in sorted(self.workers.items()):
            table.add_row(str(slot), plain(goal), _duration(now - since))
        parts = [counts_line(self.counts, self.eta()), table]
        if self.step is not None:
            what, since = self.step
            parts.append(Text.assemble((what, "bold"), f" ({_duration(now - since)})"))
        return Group(*parts)

    def __call__(self, event: BatchEvent) -> None:
        self.counts = event.counts
        # compile and recheck are long driver steps: shown live until the next event
        self.step = ((event.message, time.monotonic())
                     if event.kind in ("compile", "recheck") else None)
        if self.quiet:
            return
        if event.kind == "start" and event.slot is not None:
            self.workers[event.slot] = (event.goal, time.monotonic())
            return
        if event.slot is not None and event.kind in ("finish", "retry"):
            self.workers.pop(event.slot, None)
        if event.kind == "finish" and event.item is not None:
            self.finished_here += 1
            status = event.item["status"]
            self.console.print(Text.assemble(
                (f"{status:>9} ", STATUS_STYLE.get(status, "")), plain(event.message)),
                soft_wrap=True)
        elif event.kind not in ("finish", "done", "halt", "interrupted"):  # the CLI ends those
            self.console.print(plain(f"alphaquant: {event.message}", "dim"), soft_wrap=True)
        self.live.refresh()


def batch_summary(summary: BatchSummary) -> Group:
    """The closing summary, as pytest ends a run: each goal left open or in error by file and
    line, each file's write-back, then one line of counts."""
    c = summary.counts
    lines: list[Text] = []
    for file, line, theorem, status in summary.unfinished:
        lines.append(Text.assemble((f"{status:<6}", STATUS_STYLE.get(status, "")),
                                   plain(f" {file}:{line} {theorem}")))
    for file, status, message in summary.writes:
        lines.append(plain(f"write  {file}: {status}{f' ({message})' if message else ''}"))
    if summary.left:
        lines.append(plain(f"left   {len(summary.left)} goal"
                           f"{'' if len(summary.left) == 1 else 's'} to try: "
                           f"{summary.resume_command}"))
    parts: list[str | tuple[str, str]] = [
        "== ", (f"{c.proved} proved", STATUS_STYLE["proved"]), ", ",
        (f"{c.disproved} disproved", STATUS_STYLE["disproved"]), ", ",
        (f"{c.open} open", STATUS_STYLE["open"]), ", ",
        (f"{c.error} error", STATUS_STYLE["error"]),
        f" of {c.total} goals in {_duration(summary.seconds)} ({summary.run_dir}) ==",
    ]
    lines.append(Text.assemble(*parts))
    return Group(*lines)
