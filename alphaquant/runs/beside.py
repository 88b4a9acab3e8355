"""Heavy automation beside the proof search: the root's slowest candidates (CoqHammer's
``hammer``: premise selection, external provers, reconstruction) run in a second prover session,
in a thread, for the time the goal has left, while the search goes on in the first.

Decision: beside, not inside. Inside the search a heavy tactic gets at most ``heavy_share`` of
the budget (one call never eats the search), which is too little for ``hammer`` at 30 s a goal,
and a whole budget for it leaves the search nothing; its external provers are processes of their
own, so the two share the machine's cores. Only where the prover offers a second session
(``companion``) and the source a candidate whose own limit is at least ``min_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from alphaquant.provers.base import Prover, Solved
from alphaquant.sites.site import GoalSite
from alphaquant.tactics.base import ProposalRequest, TacticSource

log = logging.getLogger(__name__)


# What ran beside the search, and what it found.
@dataclass
class Beside:
    tactics: tuple[str, ...]
    proof: tuple[str, ...] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    prover: Prover | None = None
    thread: threading.Thread | None = None

    def stop(self) -> None:
        """End the second session now (its coqtop and the external provers it started)."""
        abort = getattr(self.prover, "abort", None)
        if abort is not None and not self.done.is_set():
            abort()
        if self.thread is not None:
            self.thread.join(timeout=15)
        close = getattr(self.prover, "close", None)
        if close is not None:
            close()


def heavy_tactics(source: TacticSource, request: ProposalRequest, min_seconds: float
                  ) -> tuple[str, ...]:
    """The root's candidates whose own limit is at least ``min_seconds``, heaviest first."""
    found = [c for c in source.propose(request) if c.timeout is not None
             and c.timeout >= min_seconds and c.prior > 0]
    found.sort(key=lambda c: -(c.timeout or 0.0))
    return tuple(dict.fromkeys(c.tactic for c in found))


def start_beside(prover: Prover, site: GoalSite, text: str, tactics: tuple[str, ...],
                 deadline: float) -> Beside | None:
    """Run ``tactics`` at the root of ``site`` in a companion session until ``deadline``
    (time.monotonic()), the first that closes the goal ending it; None when the prover has no
    companion or there is nothing to run."""
    make = getattr(prover, "companion", None)
    if make is None or not tactics:
        return None
    session = make()
    beside = Beside(tactics, prover=session)

    def work() -> None:
        try:
            root = session.open(site, text)
            for tactic in tactics:
                left = deadline - time.monotonic()
                if left < 1.0:
                    break
                outcome = session.apply(root, tactic, left)
                if isinstance(outcome, Solved):
                    beside.proof = outcome.path
                    break
        except Exception as e:  # noqa: BLE001 - a broken companion never breaks the search
            log.info("automation beside the search ended: %s", e)
        finally:
            beside.done.set()

    beside.thread = threading.Thread(target=work, name="beside-search", daemon=True)
    beside.thread.start()
    return beside
