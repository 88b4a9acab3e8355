"""What coqtop -emacs prints: errors, goal lists, and what a successful reply says.

Replies are read as text: messages (``<infomsg>``, ``<warning>``) are set apart first, so that
text a tactic prints (``idtac "Error: x"``) can never pass for an error, a goal list or the end
of a proof.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alphaquant.provers.base import (
    Subgoal,
)

_TAGS = re.compile(r"</?(?:infomsg|warning|prompt)>")
_MESSAGES = re.compile(r"<(infomsg|warning)>.*?</\1>", re.DOTALL)
_ERROR_LINE = re.compile(r"^Error:(.*)", re.MULTILINE | re.DOTALL)
_GOALS_HEADER = re.compile(
    r"^\d+ (?:focused )?goals?(?: \(shelved: \d+\))?(?: \(ID \d+\))?\s*$"
)
_RULE = re.compile(r"^\s*={4,}\s*$")
_OTHER_GOAL = re.compile(r"^goal \d+ .*is:\s*$")
_NO_MORE = re.compile(r"^No more goals\.\s*$", re.MULTILINE)
CARET_SOURCE = re.compile(r"^> (.*)$", re.MULTILINE)
# A focusing sentence the session itself adds to a path (never a search's tactic: those end
# with a period); goals after it are those of one goal of the state before.
FOCUS = re.compile(r"\d+: \{")
EVAR = re.compile(r"\?[A-Za-z_]")


def without_messages(output: str) -> str:
    """The reply without its messages: what coqtop itself printed (goals, errors)."""
    return _TAGS.sub("", _MESSAGES.sub("", output))


def error_message(output: str) -> str | None:
    """The text after ``Error:`` in a reply, whitespace-trimmed; None if there is no error.

    Messages (``<infomsg>``, ``<warning>``) are left out first, so ``idtac "Error: x"`` is no
    error.
    """
    m = _ERROR_LINE.search(without_messages(output))
    return None if m is None else m.group(1).strip()


def parse_goals(output: str) -> tuple[Subgoal, ...] | None:
    """The goals coqtop printed in a reply, or None if it printed no goal list.

    The first goal comes with its hypotheses (a continuation line of a long hypothesis is joined
    to it with a space) and its conclusion (dedented, lines kept); ``goal k (ID j) is:`` goals
    come with their conclusion only.
    """
    lines = _TAGS.sub("", output).splitlines()
    i = next((k for k, ln in enumerate(lines) if _GOALS_HEADER.match(ln)), None)
    if i is None:
        return None
    i += 1
    hyps: list[str] = []
    while i < len(lines) and not _RULE.match(lines[i]):
        line = lines[i]
        if _OTHER_GOAL.match(line):
            return None
        if line.strip():
            if line.startswith("   ") and hyps:
                hyps[-1] += " " + line.strip()
            else:
                hyps.append(line.strip())
        i += 1
    if i == len(lines):
        return None
    i += 1
    concl: list[str] = []
    while i < len(lines) and lines[i].strip() and not _OTHER_GOAL.match(lines[i]):
        concl.append(lines[i][2:] if lines[i].startswith("  ") else lines[i].strip())
        i += 1
    goals = [Subgoal(tuple(hyps), "\n".join(concl).rstrip())]
    while i < len(lines):
        if not _OTHER_GOAL.match(lines[i]):
            i += 1
            continue
        i += 1
        other: list[str] = []
        while i < len(lines) and lines[i].strip() and not _OTHER_GOAL.match(lines[i]):
            other.append(lines[i][1:] if lines[i].startswith(" ") else lines[i])
            i += 1
        goals.append(Subgoal((), "\n".join(other).rstrip()))
    return tuple(goals)


# What a reply says about the proof after a successful command.
@dataclass(frozen=True)
class Reading:
    kind: str  # goals | done | subproof | gave_up | shelf | unknown
    goals: tuple[Subgoal, ...] = ()


def read_reply(output: str) -> Reading:
    """Classify the output of a command that did not fail.

    A goal list or ``No more goals.`` printed outside messages decides first (so text a tactic
    prints, say with ``idtac``, cannot pass for them); the messages that end a proof without
    closing it come next.
    """
    plain = without_messages(output)
    goals = parse_goals(plain)
    if goals is not None:
        return Reading("goals", goals)
    if _NO_MORE.search(plain):
        return Reading("done")
    text = _TAGS.sub("", output)
    if "No more goals, but there are some goals you gave up" in text:
        return Reading("gave_up")
    if "All the remaining goals are on the shelf" in text:
        return Reading("shelf")
    if "This subproof is complete, but there are some unfocused goals" in text:
        return Reading("subproof")
    return Reading("unknown")
