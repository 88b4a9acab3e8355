"""Recording a finished Lean file from the REPL's ``allTactics`` answer (lean-interact's typed
``CommandResponse``; pure: no process).

A command sent with ``allTactics: true`` answers every tactic the elaborator ran, each with the
goals before it (``goals``) and its source range. Each becomes a recorded step: the first goal
before it (hypotheses, ``⊢`` conclusion), the tactic as written. Tactics at no goal (``no
goals``: a ``calc`` block's steps) and those the sanitizer refuses (``sorry``) are left out.
The declaration a step belongs to is read off the source: the last ``theorem``/``lemma``/``def``/
``example`` header at or before the tactic's line.
"""

from __future__ import annotations

import re

from lean_interact.interface import CommandResponse

from alphaquant.provers.base import RecordedStep
from alphaquant.provers.lean.goals import parse_goals
from alphaquant.sanitize import check_tactic

_DECL = re.compile(
    r"^(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable)\s+)*"
    r"(theorem|lemma|def|example|instance)\b\s*([^\s:({\[]*)", re.MULTILINE)


def _declarations(source: str) -> list[tuple[int, str]]:
    """(line, name) of each declaration header, in order (``example``s named by their line)."""
    out = []
    for m in _DECL.finditer(source):
        line = source.count("\n", 0, m.start()) + 1
        out.append((line, m.group(2) or f"{m.group(1)}@{line}"))
    return out


def steps_from_response(response: CommandResponse, source: str = "") -> tuple[RecordedStep, ...]:
    """The recorded steps of a command answered with ``allTactics``, in source order."""
    decls = _declarations(source)
    counters: dict[str, int] = {}
    out: list[RecordedStep] = []
    for t in sorted(response.tactics, key=lambda t: (t.start_pos.line, t.start_pos.column)):
        goals = parse_goals(t.goals)
        text = t.tactic.strip()
        if not goals or not text or check_tactic(text, "lean") is not None:
            continue
        theorem = ""
        for line, name in decls:
            if line <= t.start_pos.line:
                theorem = name
        index = counters.get(theorem, 0)
        counters[theorem] = index + 1
        first = goals[0]
        out.append(RecordedStep(theorem, index, first.hypotheses, first.conclusion, text))
    return tuple(out)
