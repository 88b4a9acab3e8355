"""The Lean REPL's requests (REPL.Command, REPL.File, REPL.ProofStep, pickling), parsed in
``Main.lean``'s order; the framing is ``protocol.py``'s."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alphaquant.provers.lean.protocol import (
    ProtocolError,
    drop_none,
    has,
    json_object,
    optional,
    short,
)


# Options shared by Command and File (REPL.CommandOptions); keyword-only.
@dataclass(frozen=True, kw_only=True)
class CommandOptions:
    all_tactics: bool | None = None
    root_goals: bool | None = None
    infotree: str | None = None  # "full" | "tactics" | "original" | "substantive"

    def _options_json(self) -> dict[str, Any]:
        options = {"allTactics": self.all_tactics, "rootGoals": self.root_goals}
        return drop_none({**options, "infotree": self.infotree})


# Run Lean commands; without ``env`` a new session starts (and may ``import``).
@dataclass(frozen=True)
class Command(CommandOptions):
    cmd: str
    env: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"cmd": self.cmd, **drop_none({"env": self.env}), **self._options_json()}


# Process a file from disk, like Command with the file's text.
@dataclass(frozen=True)
class File(CommandOptions):
    path: str
    env: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, **drop_none({"env": self.env}), **self._options_json()}


# Run one tactic in a recorded proof state.
@dataclass(frozen=True)
class ProofStep:
    proof_state: int
    tactic: str

    def to_json(self) -> dict[str, Any]:
        return {"tactic": self.tactic, "proofState": self.proof_state}


@dataclass(frozen=True)
class PickleEnvironment:
    env: int
    pickle_to: str

    def to_json(self) -> dict[str, Any]:
        return {"pickleTo": self.pickle_to, "env": self.env}


@dataclass(frozen=True)
class UnpickleEnvironment:
    unpickle_env_from: str

    def to_json(self) -> dict[str, Any]:
        return {"unpickleEnvFrom": self.unpickle_env_from}


@dataclass(frozen=True)
class PickleProofState:
    proof_state: int
    pickle_to: str

    def to_json(self) -> dict[str, Any]:
        return {"pickleTo": self.pickle_to, "proofState": self.proof_state}


@dataclass(frozen=True)
class UnpickleProofState:
    unpickle_proof_state_from: str
    env: int | None = None

    def to_json(self) -> dict[str, Any]:
        source = {"unpickleProofStateFrom": self.unpickle_proof_state_from}
        return {**source, **drop_none({"env": self.env})}


Request = (
    Command
    | File
    | ProofStep
    | PickleEnvironment
    | UnpickleEnvironment
    | PickleProofState
    | UnpickleProofState
)


def encode_request(request: Request) -> bytes:
    """The request as the REPL reads it: one line of JSON, then a blank line."""
    return (json.dumps(request.to_json(), ensure_ascii=False) + "\n\n").encode("utf-8")


def parse_request(obj: object) -> Request:
    """A request from its JSON value, tried in the order of the REPL's ``parse``."""
    o = json_object(obj, "request")
    if has(o, proofState=int, tactic=str):
        return ProofStep(proof_state=o["proofState"], tactic=o["tactic"])
    if has(o, env=int, pickleTo=str):
        return PickleEnvironment(env=o["env"], pickle_to=o["pickleTo"])
    if has(o, unpickleEnvFrom=str):
        return UnpickleEnvironment(unpickle_env_from=o["unpickleEnvFrom"])
    if has(o, proofState=int, pickleTo=str):
        return PickleProofState(proof_state=o["proofState"], pickle_to=o["pickleTo"])
    if has(o, unpickleProofStateFrom=str):
        return UnpickleProofState(o["unpickleProofStateFrom"], optional(o, "env", int))
    options = {
        "all_tactics": optional(o, "allTactics", bool),
        "root_goals": optional(o, "rootGoals", bool),
        "infotree": optional(o, "infotree", str),
    }
    if has(o, cmd=str):
        return Command(cmd=o["cmd"], env=optional(o, "env", int), **options)
    if has(o, path=str):
        return File(path=o["path"], env=optional(o, "env", int), **options)
    raise ProtocolError(f"not a REPL request: {short(o)}")
