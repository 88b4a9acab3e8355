"""The worker side of a batch: a work item, the answer for it, the executor contract, and the
GoalRunner that turns one item into a GoalResult in any process (local worker or Ray task).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from alphaquant.config import Settings
from alphaquant.errors import InputError, ProverUnavailable
from alphaquant.provers.lean.pool import SessionPool
from alphaquant.provers.registry import make_prover
from alphaquant.runs.attempt import Goal, GoalResult, attempt_goal
from alphaquant.runs.source_file import located
from alphaquant.status import GoalStatus
from alphaquant.tactics.factory import build_source, open_run_memory

log = logging.getLogger(__name__)

KEEP_PROVERS = 2  # prover sessions a worker keeps open (least recently used closed first)


# One goal in one pass, as a worker receives it (picklable; carries the original text).
@dataclass(frozen=True)
class WorkItem:
    attempt_id: int
    goal_id: int
    path: str  # absolute
    file: str  # relative to the project (the name results carry)
    text: str  # the file's original text
    ordinal: int
    theorem: str
    pass_no: int
    budget: float


# What a worker made of one item: the result's JSON item and its search trees.
@dataclass(frozen=True)
class WorkOutput:
    item: dict[str, Any]  # GoalResult.to_json(), file relative to the project
    trees: dict[str, Any]  # phase -> tree data
    unavailable: str = ""  # the prover is missing or cannot run: no result, the goal stays to try


# A worker's answer: the result, or why there is none.
@dataclass(frozen=True)
class Finished:
    slot: int
    attempt_id: int
    output: WorkOutput | None
    failure: str = ""


class Executor(Protocol):
    """Runs work items on ``slots`` workers; the driver submits to idle slots and polls."""

    slots: int

    def worker(self, slot: int) -> tuple[str, int | None]:
        """(name, pid) of the slot's worker, for the attempts table."""
        ...

    def submit(self, slot: int, item: WorkItem) -> None: ...

    def poll(self, timeout: float) -> list[Finished]:
        """Finished items (a dead worker's item with ``failure``; the worker is replaced)."""
        ...

    def kill(self, slot: int) -> None:
        """End a hung worker; the next poll reports its item failed."""
        ...

    def close(self) -> None: ...


class Abandoned(BaseException):  # a BaseException: no `except Exception` may swallow it
    """Raised inside a search when the driver is gone; ends the worker."""


class GoalRunner:
    """Runs work items in one process: a prover session per file (the last KEEP_PROVERS kept
    warm), a tactic source and learned-priors record per language."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.provers: dict[str, Any] = {}  # path -> prover, least recently used first
        self.sources: dict[str, Any] = {}
        self.memories: dict[str, Any] = {}
        # one Lean REPL per project, shared by every file of the worker, none closed early
        self.lean_pool = SessionPool(settings.lean)

    def _prover(self, path: Path) -> Any:
        key = str(path)
        prover = self.provers.pop(key, None) or make_prover(
            path, self.settings.prover, pool=self.lean_pool)
        self.provers[key] = prover
        while len(self.provers) > KEEP_PROVERS:
            self._drop(next(iter(self.provers)))
        return prover

    def _drop(self, key: str) -> None:
        prover = self.provers.pop(key, None)
        if prover is not None:
            try:
                prover.close()
            except Exception:  # a broken session is being thrown away
                log.debug("closing a prover failed", exc_info=True)

    def _source(self, language: str) -> tuple[Any, Any]:
        if language not in self.sources:
            memory = open_run_memory(self.settings, language)
            self.memories[language] = memory
            self.sources[language], _ = build_source(self.settings, language, memory=memory)
        return self.sources[language], self.memories[language]

    def run(self, item: WorkItem, stop: Callable[[], bool] | None = None) -> WorkOutput:
        """Attempt the item's goal on its file's original text.

        Args:
          item: the goal, its pass and budget.
          stop: polled during the search (at most once a second); True abandons the item.

        Returns:
          The GoalResult item (file relative to the project) and its trees.
        """
        path = Path(item.path)
        base = GoalResult(item.file, item.theorem, 0, "", GoalStatus.ERROR)
        try:
            file = located(path, item.text)
            sites = file.sites
            site = sites[item.ordinal] if item.ordinal < len(sites) else None
            if site is None or site.theorem != item.theorem:
                raise InputError(f"goal {item.ordinal} of {item.file} is not {item.theorem}")
            base = dataclasses.replace(base, line=site.line, kind=site.kind)
            settings = dataclasses.replace(
                self.settings,
                search=dataclasses.replace(self.settings.search, budget_seconds=item.budget),
            )
            source, memory = self._source(site.language)
            result, _ = attempt_goal(
                self._prover(path), source, Goal(path, item.text, site, file.context), settings,
                memory=memory, on_event=_stop_checker(stop),
            )
        except ProverUnavailable as e:  # the machine's fault, not the goal's
            self._drop(str(path))
            return WorkOutput(base.to_json(), {}, unavailable=str(e))
        except Exception as e:  # one goal must not end the run, whatever went wrong
            log.warning("goal %s of %s failed", item.theorem, item.file, exc_info=True)
            result = dataclasses.replace(base, message=f"{type(e).__name__}: {e}")
        if result.status == GoalStatus.ERROR:
            self._drop(str(path))  # a fresh prover next time
        result = dataclasses.replace(result, file=item.file)
        return WorkOutput(result.to_json(), result.trees)

    def close(self) -> None:
        for key in list(self.provers):
            self._drop(key)
        self.lean_pool.close()


def _stop_checker(stop: Callable[[], bool] | None) -> Callable[[Any], None] | None:
    if stop is None:
        return None
    last = [time.monotonic()]

    def check(_event: Any) -> None:
        if time.monotonic() - last[0] >= 1.0:
            last[0] = time.monotonic()
            if stop():
                raise Abandoned
    return check
