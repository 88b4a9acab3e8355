"""Goal text as Lean prints it ("hypotheses, ``⊢ conclusion``") and ``provers.base.Subgoal``,
both ways (pure text)."""

from __future__ import annotations

import re

from alphaquant.provers.base import Subgoal


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
