"""Hard budgets: how far past its budget a goal may run, and waiting on a call no longer than a
deadline (the call goes on in the background; its answer is dropped)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")

SLACK_SECONDS = 1.0  # a goal may run past its budget by max(this, SLACK_SHARE of it)...
SLACK_SHARE = 0.05


def slack(budget: float) -> float:
    """How far past ``budget`` seconds a goal may run: max(1 s, 5 %)."""
    return max(SLACK_SECONDS, SLACK_SHARE * budget)


FINISHING = 0.5  # seconds kept for what follows the last wait: the result, its trees, the record
# (0.1 s was too little on a loaded machine: three goals of a 60 s batch ended at 63.1 s)


def hard_limit(budget: float) -> float:
    """The seconds after its start at which a goal's waits give up: its budget and its slack,
    less what finishing takes."""
    return budget + slack(budget) - FINISHING


def run_until(deadline: float, call: Callable[[], T]) -> T | None:
    """``call()`` on a thread of its own, waited for until ``deadline`` (time.monotonic());
    None if it has not returned by then. Its exceptions are raised here."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as e:  # handed to the waiter
            future.set_exception(e)

    threading.Thread(target=run, name="alphaquant-wait", daemon=True).start()
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        return None
