"""Worker processes on this machine (multiprocessing, 'spawn'), one inbox each; SIGTERM unwinds a
worker like Ctrl-C (its provers close, its temporary folders go).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import signal
import time
from pathlib import Path
from typing import Any

from alphaquant.config import Settings
from alphaquant.runs.store import (
    settings_from_json,
    settings_json,
)
from alphaquant.runs.work import Abandoned, Finished, GoalRunner, WorkItem
from alphaquant.status import GoalStatus

log = logging.getLogger(__name__)

WORKER_CRASH_LIMIT = 3  # errors in a row after which a worker process restarts itself


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C: provers close and temporary folders are removed."""
    raise KeyboardInterrupt


def _worker_main(
    slot: int, settings_data: dict[str, Any], inbox: Any, outbox: Any, log_path: str
) -> None:
    """A local worker process: items from ``inbox``, answers to ``outbox``, until told to stop,
    the driver dies, or its prover keeps crashing (the driver then starts a new one)."""
    logging.basicConfig(filename=log_path, level=logging.WARNING,
                        format=f"%(asctime)s worker {slot} %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
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
            failed = output.item["status"] == GoalStatus.ERROR
            errors_in_a_row = errors_in_a_row + 1 if failed else 0
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
        """Ask every worker to stop; one still busy gets SIGTERM (it closes its provers and
        removes its temporary folders), and SIGKILL only if that does not end it."""
        for inbox in self.inboxes:
            inbox.put(None)
        deadline = time.monotonic() + 2
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
