"""The batch's work items as Ray tasks on a Ray cluster (the ``cluster`` extra; ray is imported
lazily). The driver still writes the run store: actors only return GoalResult items.

A cluster, for example on two machines sharing the project at the same path (a shared file
system or the same checkout, with alphaquant and the provers installed on each):

    machine A$ ray start --head --port=6379
    machine B$ ray start --address=A:6379
    machine A$ RAY_AUTH_MODE=token alphaquant batch coq_project --executor ray --ray-address A:6379

Ray 2.59 and later protect a cluster with a token (``ray get-auth-token``, kept in
~/.ray/auth_token): every node and the driver need the same token, and a driver joining by
address needs RAY_AUTH_MODE=token in its environment (tried with Ray 2.60 on one machine).

Without --ray-address the batch starts (or joins, when the caller already called ray.init) a
Ray instance on this machine. Each slot is one actor holding its own prover sessions, like a
local worker process; an actor that dies is replaced and its item reported failed.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from alphaquant.config import Settings
from alphaquant.errors import InputError
from alphaquant.runs.store import settings_from_json, settings_json
from alphaquant.runs.work import Finished, GoalRunner, WorkItem, WorkOutput

PROBE_SECONDS = 5.0


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(
            "the Ray executor needs the cluster extra: pip install 'alphaquant[cluster]' "
            "(or pip install -e '.[cluster]' in a checkout)"
        ) from None
    return ray


def probe(address: str) -> None:
    """Raise an InputError unless something accepts TCP connections at ``address``."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray-address must be HOST:PORT (or ray://HOST:PORT), got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_SECONDS):
            pass
    except OSError as e:
        raise InputError(f"cannot reach the Ray cluster at {address}: {e}") from None


def connect(address: str | None, workers: int | None) -> None:
    """Join the cluster at ``address`` (or start a local instance); InputError if unreachable."""
    ray = _ray()
    if ray.is_initialized():
        return
    if address not in (None, "auto", "local"):
        probe(address)
    try:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        why = (str(e).strip().splitlines() or [""])[0]
        hint = "" if os.environ.get("RAY_AUTH_MODE") else (
            " (a cluster with token authentication needs RAY_AUTH_MODE=token and its token, "
            "see `ray get-auth-token`)")
        raise InputError(f"cannot join the Ray cluster at {address or 'local'}: {why}{hint}") \
            from None


class _GoalActor:
    """A Ray actor: one GoalRunner (its prover sessions stay warm between items)."""

    def __init__(self, settings_data: dict[str, Any]) -> None:
        self.runner = GoalRunner(settings_from_json(settings_data))
        self.pid = os.getpid()

    def run(self, item: WorkItem) -> WorkOutput:
        return self.runner.run(item)

    def where(self) -> tuple[str, int]:
        return socket.gethostname(), self.pid

    def close(self) -> None:
        self.runner.close()


class RayExecutor:
    """The batch Executor on Ray: ``slots`` actors, one item each at a time."""

    def __init__(self, address: str | None, workers: int | None, settings: Settings) -> None:
        self.ray = _ray()
        connect(address, workers)
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, workers or cpus)
        self.settings_data = settings_json(settings)
        self.actor_class = self.ray.remote(num_cpus=1, max_restarts=0)(_GoalActor)
        self.actors: list[Any] = [None] * self.slots
        self.names: list[tuple[str, int | None]] = [("", None)] * self.slots
        self.futures: dict[Any, tuple[int, WorkItem]] = {}
        for slot in range(self.slots):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        self.actors[slot] = self.actor_class.remote(self.settings_data)
        self.names[slot] = ("", None)

    def worker(self, slot: int) -> tuple[str, int | None]:
        if self.names[slot][1] is None:
            try:
                host, pid = self.ray.get(self.actors[slot].where.remote(), timeout=60)
                self.names[slot] = (f"ray-{slot}@{host}", pid)
            except Exception:  # a dying actor: named by slot only
                return f"ray-{slot}", None
        return self.names[slot]

    def submit(self, slot: int, item: WorkItem) -> None:
        self.futures[self.actors[slot].run.remote(item)] = (slot, item)

    def poll(self, timeout: float) -> list[Finished]:
        if not self.futures:
            return []
        ready, _ = self.ray.wait(list(self.futures), num_returns=1, timeout=timeout)
        if ready:
            more, _ = self.ray.wait(list(self.futures), num_returns=len(self.futures), timeout=0)
            ready = list(dict.fromkeys([*ready, *more]))
        out = []
        for ref in ready:
            slot, item = self.futures.pop(ref)
            try:
                out.append(Finished(slot, item.attempt_id, self.ray.get(ref)))
            except Exception as e:  # the actor died (or was killed as hung): replace it
                why = (str(e).strip().splitlines() or [""])[0]
                out.append(Finished(slot, item.attempt_id, None,
                                    f"ray worker failed: {type(e).__name__}: {why}"))
                self._spawn(slot)
        return out

    def kill(self, slot: int) -> None:
        self.ray.kill(self.actors[slot], no_restart=True)

    def close(self) -> None:
        for actor in self.actors:
            try:
                self.ray.get(actor.close.remote(), timeout=30)
                self.ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                pass
