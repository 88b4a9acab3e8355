"""Heavy automation beside the proof search: CoqHammer (``sauto``, then ``hammer``: premise
selection, external provers, reconstruction) runs at the root in a second prover session that
loads it, in a thread, for the time the goal has left, while the search goes on in the first.

Decision: beside, not inside. Inside the search a heavy tactic gets at most ``heavy_share`` of
the budget (one call never eats the search), which is too little for ``hammer`` at 30 s a goal,
and a whole budget for it leaves the search nothing; its external provers are processes of their
own, so the two share the machine's cores. And not in the search's own session: loading
CoqHammer there (after the file's imports) slowed a coq_project disproof search tenfold (226
tactics in 97 s against 1,864 in 60 s: every `Search` and every automation call sees its
libraries). Only where the prover offers a second session (``companion``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from alphaquant.provers.base import Prover, Solved
from alphaquant.sites.site import GoalSite

log = logging.getLogger(__name__)


# What ran beside the search, and what it found.
@dataclass
class Beside:
    tactics: tuple[str, ...]
    limits: tuple[float | None, ...] = ()  # each tactic's own limit (None: the time left)
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


def start_beside(prover: Prover, site: GoalSite, text: str,
                 tactics: tuple[tuple[str, float | None], ...], deadline: float
                 ) -> Beside | None:
    """Run ``tactics`` at the root of ``site`` in a companion session until ``deadline``
    (time.monotonic()), the first that closes the goal ending it; None when the prover has no
    companion or there is nothing to run."""
    make = getattr(prover, "companion", None)
    if make is None or not tactics:
        return None
    session = make()
    beside = Beside(tuple(t for t, _ in tactics), tuple(s for _, s in tactics), prover=session)

    def work() -> None:
        try:
            root = session.open(site, text)
            for tactic, limit in tactics:
                left = deadline - time.monotonic()
                if left < 1.0:
                    break
                outcome = session.apply(root, tactic, min(limit or left, left))
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
