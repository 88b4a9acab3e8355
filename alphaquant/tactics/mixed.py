"""Several tactic sources as one prior distribution; a remote source (a model) waited for only
its share of the search's time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from alphaquant.errors import InputError
from alphaquant.tactics.base import Candidate, ProposalRequest, TacticSource, normalise

log = logging.getLogger(__name__)

WAIT_SHARE = 0.25  # of a search's remaining time, what one remote call may be waited for


class MixedSource:
    """Several sources as one prior distribution.

    Each source's priors are normalised to sum 1, scaled by its weight, summed over sources for
    the same (whitespace-normalised) tactic, and scaled to sum 1 again: a text two sources
    propose (a learned suggestion and a hand rule) is one candidate, with both shares and the
    longest own time limit either gave. A source with weight 0
    is never asked. A source with no candidates leaves the others' shares as they are, so when a
    model is down the heuristics alone make the distribution.

    A source with ``remote = True`` (a model behind a network) is asked on a thread of its own
    and waited for at most ``wait_share`` of the time the search has left (the request's
    deadline); while one of its calls is still running, it is not asked again, unless a state
    asks again because its other candidates ran out: then the call still out is waited for its
    share of the time left once more. A model that
    does not answer thus costs its own share, never the rest of the search's budget: its late
    answer still reaches the answer cache, and its retries run in the background.
    """

    def __init__(self, sources: Sequence[tuple[TacticSource, float]], *,
                 wait_share: float = WAIT_SHARE) -> None:
        if any(w < 0 for _, w in sources) or not any(w > 0 for _, w in sources):
            raise InputError("source weights must be non-negative and not all zero")
        self.sources = tuple(sources)
        self.wait_share = wait_share
        self._pending: dict[int, Future[list[Candidate]]] = {}  # a remote call still running
        self.late = 0  # remote calls not waited for to their end

    def _ask(self, index: int, source: TacticSource, request: ProposalRequest) -> list[Candidate]:
        if not getattr(source, "remote", False):
            return source.propose(request)
        wait = (None if request.deadline is None
                else max(0.0, self.wait_share * (request.deadline - time.monotonic())))
        pending = self._pending.get(index)
        if pending is not None and not pending.done():
            if request.round == 0:
                return []  # an earlier call is still out: the search does not wait twice
            # the state's other candidates ran out: the answer still out is worth its share
            # of the time left (its late answer fills the source's cache, then it is asked)
            try:
                pending.result(timeout=wait)
            except FutureTimeout:
                self.late += 1
                return []
            except BaseException:  # noqa: BLE001 - the source's own failure: ask it anew
                pass
        future: Future[list[Candidate]] = Future()

        def call() -> None:
            try:
                future.set_result(source.propose(request))
            except BaseException as e:  # handed to the waiter, if it still waits
                future.set_exception(e)

        self._pending[index] = future
        threading.Thread(target=call, name="alphaquant-model", daemon=True).start()
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            self.late += 1
            log.info("the model gave no candidates within %.1fs (its share of the time left); "
                     "going on without them", wait or 0.0)
            return []

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        """The merged candidates, highest prior first (ties in source order)."""
        mass: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        limit: dict[str, float | None] = {}  # the longest own time limit a source gave
        for index, (source, weight) in enumerate(self.sources):
            if weight <= 0:
                continue
            for c in normalise(self._ask(index, source, request)):
                share = c.prior * weight
                mass[c.tactic] = mass.get(c.tactic, 0.0) + share
                if c.tactic not in best or share > best[c.tactic][0]:
                    best[c.tactic] = (share, c.source)
                old = limit.get(c.tactic)
                if c.timeout is not None and (old is None or c.timeout > old):
                    limit[c.tactic] = c.timeout
                else:
                    limit.setdefault(c.tactic, old)
        total = sum(mass.values())
        if total <= 0:
            return []
        merged = [Candidate(t, m / total, best[t][1], limit.get(t)) for t, m in mass.items()]
        return sorted(merged, key=lambda c: -c.prior)
