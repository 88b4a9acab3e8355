"""Typed models of the Lean REPL's JSON (leanprover-community/repl, ``REPL/JSON.lean``).

Requests and responses are frozen dataclasses named after their Lean structures; wire keys are
camelCase, fields here are snake_case. ``parse_request`` and ``parse_response`` are the only
places that read the wire format; ``encode_request`` the only place that writes it. Goal text
("hypotheses, ``⊢ conclusion``") becomes ``provers.base.Subgoal`` through ``parse_goal``.

Framing (REPL ``Main.lean``): a request is JSON followed by a blank line; the REPL joins the lines
of a request, so a request must not rely on raw newlines. A response is pretty-printed JSON that
may span lines and ends with a blank line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from alphaquant.provers.base import Subgoal

Severity = Literal["trace", "info", "warning", "error"]
_SEVERITIES: tuple[Severity, ...] = ("trace", "info", "warning", "error")


class ProtocolError(ValueError):
    """A JSON value that is not one of the REPL's requests or responses."""


# ---------------------------------------------------------------------------------------------
# Requests (REPL.Command, REPL.File, REPL.ProofStep, pickling; parsed in Main.lean's order)


# Options shared by Command and File (REPL.CommandOptions); keyword-only.
@dataclass(frozen=True, kw_only=True)
class CommandOptions:
    all_tactics: bool | None = None
    root_goals: bool | None = None
    infotree: str | None = None  # "full" | "tactics" | "original" | "substantive"

    def _options_json(self) -> dict[str, Any]:
        options = {"allTactics": self.all_tactics, "rootGoals": self.root_goals}
        return _drop_none({**options, "infotree": self.infotree})


# Run Lean commands; without ``env`` a new session starts (and may ``import``).
@dataclass(frozen=True)
class Command(CommandOptions):
    cmd: str
    env: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"cmd": self.cmd, **_drop_none({"env": self.env}), **self._options_json()}


# Process a file from disk, like Command with the file's text.
@dataclass(frozen=True)
class File(CommandOptions):
    path: str
    env: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, **_drop_none({"env": self.env}), **self._options_json()}


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
        return {**source, **_drop_none({"env": self.env})}


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
    o = _object(obj, "request")
    if _has(o, proofState=int, tactic=str):
        return ProofStep(proof_state=o["proofState"], tactic=o["tactic"])
    if _has(o, env=int, pickleTo=str):
        return PickleEnvironment(env=o["env"], pickle_to=o["pickleTo"])
    if _has(o, unpickleEnvFrom=str):
        return UnpickleEnvironment(unpickle_env_from=o["unpickleEnvFrom"])
    if _has(o, proofState=int, pickleTo=str):
        return PickleProofState(proof_state=o["proofState"], pickle_to=o["pickleTo"])
    if _has(o, unpickleProofStateFrom=str):
        return UnpickleProofState(o["unpickleProofStateFrom"], _opt(o, "env", int))
    options = {
        "all_tactics": _opt(o, "allTactics", bool),
        "root_goals": _opt(o, "rootGoals", bool),
        "infotree": _opt(o, "infotree", str),
    }
    if _has(o, cmd=str):
        return Command(cmd=o["cmd"], env=_opt(o, "env", int), **options)
    if _has(o, path=str):
        return File(path=o["path"], env=_opt(o, "env", int), **options)
    raise ProtocolError(f"not a REPL request: {_short(o)}")


# ---------------------------------------------------------------------------------------------
# Responses (REPL.CommandResponse, REPL.ProofStepResponse, REPL.Error)


# Line (1-based) and column (0-based, Unicode code points) in the command's text.
@dataclass(frozen=True)
class Pos:
    line: int
    column: int


# A Lean message. Messages of a tactic step are reported at line 0, column 0.
@dataclass(frozen=True)
class Message:
    severity: Severity
    pos: Pos
    end_pos: Pos | None
    data: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def is_sorry_warning(self) -> bool:
        """'declaration uses 'sorry'' in either spelling (backticks from about Lean v4.28)."""
        return self.severity == "warning" and _SORRY_WARNING.search(self.data) is not None


_SORRY_WARNING = re.compile(r"declaration uses ['`]sorry['`]")


# A `sorry` with its goal; tactic-mode sorries carry no position.
@dataclass(frozen=True)
class Sorry:
    goal: str
    proof_state: int | None
    pos: Pos | None = None
    end_pos: Pos | None = None

    @property
    def subgoals(self) -> tuple[Subgoal, ...]:
        return parse_goals(self.goal)


# A tactic of the command (``allTactics``); ``goals`` is the goal text before it.
@dataclass(frozen=True)
class Tactic:
    tactic: str
    goals: str
    proof_state: int | None
    pos: Pos
    end_pos: Pos
    used_constants: tuple[str, ...] = ()


# The answer to a command: a new environment id and what elaboration reported.
@dataclass(frozen=True)
class CommandResponse:
    env: int
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    tactics: tuple[Tactic, ...] = ()
    infotree: Any = None

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)


# The answer to a tactic: a new proof-state id, its goals and the proof's status.
@dataclass(frozen=True)
class ProofStepResponse:
    proof_state: int
    goals: tuple[str, ...]
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    traces: tuple[str, ...] = ()
    proof_status: str | None = None  # "Completed", "Incomplete: …", "Error: …"; absent before 2025

    @property
    def subgoals(self) -> tuple[Subgoal, ...]:
        return tuple(parse_goal(g) for g in self.goals)

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)

    @property
    def completed(self) -> bool:
        """The proof is finished and checked: "Completed", or (older REPLs) nothing left open."""
        if self.proof_status is not None:
            return self.proof_status == "Completed"
        return not self.goals and not self.sorries and not self.errors


# The REPL's error form: a bad request, an unknown id, or a tactic that does not parse.
@dataclass(frozen=True)
class ReplError:
    message: str


Response = CommandResponse | ProofStepResponse | ReplError


def parse_response(obj: object) -> Response:
    """A response from its JSON value; raises ProtocolError for anything else."""
    o = _object(obj, "response")
    try:
        if "proofState" in o and "goals" in o:
            return ProofStepResponse(
                proof_state=_int(o["proofState"]),
                goals=tuple(_str(g) for g in _list(o["goals"])),
                messages=_messages(o),
                sorries=_sorries(o),
                traces=tuple(_str(t) for t in _list(o.get("traces", []))),
                proof_status=_opt(o, "proofStatus", str),
            )
        if "env" in o:
            return CommandResponse(
                env=_int(o["env"]),
                messages=_messages(o),
                sorries=_sorries(o),
                tactics=tuple(_tactic(t) for t in _list(o.get("tactics", []))),
                infotree=o.get("infotree"),
            )
        if "message" in o:
            return ReplError(message=_str(o["message"]))
    except (KeyError, TypeError) as e:
        raise ProtocolError(f"malformed REPL response ({e}): {_short(o)}") from None
    raise ProtocolError(f"not a REPL response: {_short(o)}")


def sorry_warnings(response: CommandResponse | ProofStepResponse) -> tuple[Message, ...]:
    """The "declaration uses sorry" warnings of a response (both spellings)."""
    return tuple(m for m in response.messages if m.is_sorry_warning)


# ---------------------------------------------------------------------------------------------
# Goal text


def parse_goal(text: str) -> Subgoal:
    """One goal as Lean prints it: ``case tag``, hypotheses, then ``⊢ conclusion``.

    A ``case`` line is kept as the first hypothesis, where Lean prints it. A hypothesis or
    conclusion that Lean wraps over several lines keeps its continuation lines.
    """
    lines = text.strip("\n").split("\n")
    turnstile = next((i for i, line in enumerate(lines) if line.startswith("⊢")), None)
    if turnstile is None:
        return Subgoal(hypotheses=(), conclusion=text.strip())
    hypotheses: list[str] = []
    for line in lines[:turnstile]:
        if hypotheses and line[:1].isspace():
            hypotheses[-1] += "\n" + line
        elif line.strip():
            hypotheses.append(line)
    conclusion = "\n".join(lines[turnstile:])[1:].strip()
    return Subgoal(hypotheses=tuple(hypotheses), conclusion=conclusion)


def parse_goals(text: str) -> tuple[Subgoal, ...]:
    """Several goals separated by blank lines ("unsolved goals …", sorries); "no goals" is ()."""
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    if blocks == ["no goals"]:
        return ()
    return tuple(parse_goal(b) for b in blocks)


def goal_text(goal: Subgoal) -> str:
    """A Subgoal printed back the way Lean prints it."""
    return "\n".join([*goal.hypotheses, "⊢ " + goal.conclusion])


_AXIOMS = re.compile(r"'(?P<name>.+?)' depends on axioms: \[(?P<axioms>.*?)\]", re.DOTALL)
_NO_AXIOMS = re.compile(r"'(?P<name>.+?)' does not depend on any axioms")


_TRY_THIS = re.compile(r"^Try th(?:is|ese):[ \t]*(.*)", re.DOTALL)
_SUGGESTION_MARK = re.compile(r"^\s*(?:[•*-]\s+)?(?:\[[a-z]+\]\s+)?")


def suggestion(messages: tuple[Message, ...]) -> str | None:
    """The first tactic a "Try this:" info message suggests (``exact?``, ``apply?``, ``rw?``,
    ``simp?``, ``aesop?``), as the REPL prints it: ``Try this: exact h`` on one line, or
    ``Try this:\n  [apply] exact Nat.one_pos`` (the action tag is dropped); "Try these:" lists
    one per ``•`` line. None when no message suggests anything."""
    for m in messages:
        if m.severity != "info":
            continue
        found = _TRY_THIS.match(m.data.strip())
        if found is None:
            continue
        lines = [ln for ln in found.group(1).splitlines() if ln.strip()]
        if not lines:
            continue
        first = [_SUGGESTION_MARK.sub("", lines[0], count=1).strip()]
        indent = len(lines[0]) - len(lines[0].lstrip())
        for ln in lines[1:]:  # a long suggestion continues on deeper-indented lines
            if len(ln) - len(ln.lstrip()) <= indent or ln.lstrip().startswith("•"):
                break
            first.append(ln.strip())
        text = " ".join(first)
        if text:
            return text
    return None


def parse_axioms(data: str) -> tuple[str, frozenset[str]] | None:
    """The output of ``#print axioms``: (theorem, axioms), or None for another message."""
    if m := _AXIOMS.search(data):
        names = (a.strip() for a in m["axioms"].split(","))
        return m["name"], frozenset(a for a in names if a)
    if m := _NO_AXIOMS.search(data):
        return m["name"], frozenset()
    return None


# ---------------------------------------------------------------------------------------------
# Reading JSON values


def _messages(o: dict[str, Any]) -> tuple[Message, ...]:
    return tuple(_message(m) for m in _list(o.get("messages", [])))


def _message(obj: object) -> Message:
    o = _object(obj, "message")
    severity = o["severity"]
    if severity not in _SEVERITIES:
        raise ProtocolError(f"unknown message severity {severity!r}")
    end = o.get("endPos")
    return Message(severity, _pos(o["pos"]), None if end is None else _pos(end), _str(o["data"]))


def _sorries(o: dict[str, Any]) -> tuple[Sorry, ...]:
    return tuple(_sorry(s) for s in _list(o.get("sorries", [])))


def _sorry(obj: object) -> Sorry:
    o = _object(obj, "sorry")
    pos, end = o.get("pos"), o.get("endPos")
    return Sorry(
        goal=_str(o["goal"]),
        proof_state=_opt(o, "proofState", int),
        pos=None if pos is None else _pos(pos),
        end_pos=None if end is None else _pos(end),
    )


def _tactic(obj: object) -> Tactic:
    o = _object(obj, "tactic")
    return Tactic(
        tactic=_str(o["tactic"]),
        goals=_str(o["goals"]),
        proof_state=_opt(o, "proofState", int),
        pos=_pos(o["pos"]),
        end_pos=_pos(o["endPos"]),
        used_constants=tuple(_str(c) for c in _list(o.get("usedConstants", []))),
    )


def _pos(obj: object) -> Pos:
    o = _object(obj, "position")
    return Pos(line=_int(o["line"]), column=_int(o["column"]))


def _object(obj: object, what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ProtocolError(f"a REPL {what} must be a JSON object, not {_short(obj)}")
    return obj


def _list(obj: object) -> list[Any]:
    if not isinstance(obj, list):
        raise ProtocolError(f"expected a JSON array, not {_short(obj)}")
    return obj


def _int(obj: object) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise ProtocolError(f"expected an integer, not {_short(obj)}")
    return obj


def _str(obj: object) -> str:
    if not isinstance(obj, str):
        raise ProtocolError(f"expected a string, not {_short(obj)}")
    return obj


def _has(o: dict[str, Any], **types: type) -> bool:
    return all(k in o and _is(o[k], t) for k, t in types.items())


def _opt(o: dict[str, Any], key: str, t: type) -> Any:
    value = o.get(key)
    if value is not None and not _is(value, t):
        raise ProtocolError(f"{key!r} must be {t.__name__}, not {_short(value)}")
    return value


def _is(value: object, t: type) -> bool:
    return isinstance(value, t) and (t is bool or not isinstance(value, bool))


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _short(obj: object) -> str:
    text = json.dumps(obj, ensure_ascii=False) if not isinstance(obj, str) else repr(obj)
    return text if len(text) <= 120 else text[:117] + "..."
