"""The Lean REPL's responses (REPL.CommandResponse, REPL.ProofStepResponse, REPL.Error) and what
their messages say: "declaration uses sorry", "Try this:" suggestions, ``#print axioms``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from alphaquant.provers.base import Subgoal
from alphaquant.provers.lean.goals import parse_goal, parse_goals
from alphaquant.provers.lean.protocol import (
    ProtocolError,
    json_int,
    json_list,
    json_object,
    json_str,
    optional,
    short,
)

Severity = Literal["trace", "info", "warning", "error"]
_SEVERITIES: tuple[Severity, ...] = ("trace", "info", "warning", "error")


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
    o = json_object(obj, "response")
    try:
        if "proofState" in o and "goals" in o:
            return ProofStepResponse(
                proof_state=json_int(o["proofState"]),
                goals=tuple(json_str(g) for g in json_list(o["goals"])),
                messages=_messages(o),
                sorries=_sorries(o),
                traces=tuple(json_str(t) for t in json_list(o.get("traces", []))),
                proof_status=optional(o, "proofStatus", str),
            )
        if "env" in o:
            return CommandResponse(
                env=json_int(o["env"]),
                messages=_messages(o),
                sorries=_sorries(o),
                tactics=tuple(_tactic(t) for t in json_list(o.get("tactics", []))),
                infotree=o.get("infotree"),
            )
        if "message" in o:
            return ReplError(message=json_str(o["message"]))
    except (KeyError, TypeError) as e:
        raise ProtocolError(f"malformed REPL response ({e}): {short(o)}") from None
    raise ProtocolError(f"not a REPL response: {short(o)}")


def sorry_warnings(response: CommandResponse | ProofStepResponse) -> tuple[Message, ...]:
    """The "declaration uses sorry" warnings of a response (both spellings)."""
    return tuple(m for m in response.messages if m.is_sorry_warning)


# ---------------------------------------------------------------------------------------------
# What messages say


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
    return tuple(_message(m) for m in json_list(o.get("messages", [])))


def _message(obj: object) -> Message:
    o = json_object(obj, "message")
    severity = o["severity"]
    if severity not in _SEVERITIES:
        raise ProtocolError(f"unknown message severity {severity!r}")
    end = o.get("endPos")
    return Message(
        severity, _pos(o["pos"]), None if end is None else _pos(end), json_str(o["data"])
    )


def _sorries(o: dict[str, Any]) -> tuple[Sorry, ...]:
    return tuple(_sorry(s) for s in json_list(o.get("sorries", [])))


def _sorry(obj: object) -> Sorry:
    o = json_object(obj, "sorry")
    pos, end = o.get("pos"), o.get("endPos")
    return Sorry(
        goal=json_str(o["goal"]),
        proof_state=optional(o, "proofState", int),
        pos=None if pos is None else _pos(pos),
        end_pos=None if end is None else _pos(end),
    )


def _tactic(obj: object) -> Tactic:
    o = json_object(obj, "tactic")
    return Tactic(
        tactic=json_str(o["tactic"]),
        goals=json_str(o["goals"]),
        proof_state=optional(o, "proofState", int),
        pos=_pos(o["pos"]),
        end_pos=_pos(o["endPos"]),
        used_constants=tuple(json_str(c) for c in json_list(o.get("usedConstants", []))),
    )


def _pos(obj: object) -> Pos:
    o = json_object(obj, "position")
    return Pos(line=json_int(o["line"]), column=json_int(o["column"]))
