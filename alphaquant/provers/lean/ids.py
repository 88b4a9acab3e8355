"""The stable ids a ``repl.LeanRepl`` hands out, and how to restore them in a new process.

Callers see *stable* env and proof-state ids: the REPL's own ids in the first process, fresh
numbers after a restart. Each stable id remembers its origin, the request (in stable ids) that
made it and where the id sits in that request's answer, so that a new process can be brought to
the same state by re-running the chain of origins (or an unpickling request, once pickled).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from alphaquant.provers.lean.requests import (
    Command,
    File,
    PickleEnvironment,
    PickleProofState,
    ProofStep,
    Request,
    UnpickleProofState,
)
from alphaquant.provers.lean.responses import (
    CommandResponse,
    ProofStepResponse,
    ReplError,
    Response,
)

Kind = Literal["env", "proofState"]
Selector = tuple[str, int]  # where an id sits in a response: ("env", 0), ("sorries", 2), ...

UNKNOWN: dict[Kind, str] = {"env": "Unknown environment.", "proofState": "Unknown proof state."}


# The request that produced some stable ids, and where each sits in its response.
@dataclass
class Origin:
    request: Request  # in stable ids
    timeout: float
    outputs: list[tuple[Selector, Kind, int]] = field(default_factory=list)


class Lost(Exception):
    """A stable id that the current process cannot have: never issued, or not restorable."""


class StableIds:
    """Stable ids handed to callers, mapped to the ids of the current REPL process."""

    def __init__(self) -> None:
        self.generation = -1  # 0 in the first process: there stable ids are the REPL's own
        self.origin: dict[Kind, dict[int, Origin | None]] = {"env": {}, "proofState": {}}
        self.real: dict[Kind, dict[int, int]] = {"env": {}, "proofState": {}}
        self.stable: dict[Kind, dict[int, int]] = {"env": {}, "proofState": {}}
        self.next = {"env": 0, "proofState": 0}

    def new_process(self) -> None:
        self.generation += 1
        for kind in ("env", "proofState"):
            self.real[kind].clear()
            self.stable[kind].clear()

    def adopt(self, kind: Kind, real: int, origin: Origin | None) -> int:
        """The stable id of a REPL id from an answer, allocating one for a new REPL id."""
        if real in self.stable[kind]:
            return self.stable[kind][real]
        sid = real if self.generation == 0 else self.next[kind]
        self.next[kind] = max(self.next[kind], sid + 1)
        self.origin[kind][sid] = origin
        self.bind(kind, sid, real)
        return sid

    def bind(self, kind: Kind, sid: int, real: int) -> None:
        self.real[kind][sid] = real
        self.stable[kind][real] = sid

    def adopt_answer(
        self, request: Request, response: Response, timeout: float, keep: bool
    ) -> Response:
        """The answer in stable ids; with ``keep`` its new ids are restorable from ``request``."""
        origin = Origin(request, timeout) if keep else None
        ids: dict[Selector, int] = {}
        for selector, kind, real in outputs(response):
            ids[selector] = self.adopt(kind, real, origin)
            if origin is not None and self.origin[kind][ids[selector]] is origin:
                origin.outputs.append((selector, kind, ids[selector]))
        return renumbered(response, ids)


def ref_of(request: Request) -> tuple[Kind, int] | None:
    """The one env or proof state a request builds on, if any."""
    if isinstance(request, ProofStep | PickleProofState):
        return "proofState", request.proof_state
    env: int | None = getattr(request, "env", None)
    return None if env is None else ("env", env)


def with_ref(request: Request, value: int) -> Request:
    """The request building on ``value`` instead of the id it names."""
    if isinstance(request, ProofStep | PickleProofState):
        return replace(request, proof_state=value)
    if isinstance(request, Command | File | PickleEnvironment | UnpickleProofState):
        return replace(request, env=value)
    return request


def outputs(response: Response) -> list[tuple[Selector, Kind, int]]:
    """Every id an answer hands out, with where it sits, in the order the REPL allocates them."""
    out: list[tuple[Selector, Kind, int]] = []
    if isinstance(response, CommandResponse | ProofStepResponse):
        for i, s in enumerate(response.sorries):
            if s.proof_state is not None:
                out.append((("sorries", i), "proofState", s.proof_state))
    if isinstance(response, CommandResponse):
        for i, t in enumerate(response.tactics):
            if t.proof_state is not None:
                out.append((("tactics", i), "proofState", t.proof_state))
        out.append((("env", 0), "env", response.env))
    elif isinstance(response, ProofStepResponse):
        out.append((("proofState", 0), "proofState", response.proof_state))
    return out


def renumbered(response: Response, ids: dict[Selector, int]) -> Response:
    """The answer with the ids at ``ids``' selectors replaced."""
    if isinstance(response, ReplError):
        return response
    sorries = tuple(
        replace(s, proof_state=ids.get(("sorries", i), s.proof_state))
        for i, s in enumerate(response.sorries)
    )
    if isinstance(response, ProofStepResponse):
        return replace(response, proof_state=ids[("proofState", 0)], sorries=sorries)
    tactics = tuple(
        replace(t, proof_state=ids.get(("tactics", i), t.proof_state))
        for i, t in enumerate(response.tactics)
    )
    return replace(response, env=ids[("env", 0)], sorries=sorries, tactics=tactics)
