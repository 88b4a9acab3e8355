"""What the Lean REPL's messages say, read from lean-interact's typed answers: "declaration uses
sorry" warnings, "Try this:" suggestions (``exact?``, ``apply?``, ``rw?``, ``simp?``,
``aesop?``, ``try?``), the output of ``#print axioms``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the attributes are read: LeanDojo's backend runs without lean-interact
    from lean_interact.interface import Message

_SORRY_WARNING = re.compile(r"declaration uses ['`]sorry['`]")
_AXIOMS = re.compile(r"'(?P<name>.+?)' depends on axioms: \[(?P<axioms>.*?)\]", re.DOTALL)
_NO_AXIOMS = re.compile(r"'(?P<name>.+?)' does not depend on any axioms")
_TRY_THIS = re.compile(r"^Try th(?:is|ese):[ \t]*(.*)", re.DOTALL)
_NEW = re.compile(r"^(?:[•*]\s+|\[[a-z]+\]\s*)")  # what opens one suggestion of a list
_TAG = re.compile(r"^\s*(?:[•*]\s+)?(?:\[[a-z]+\]\s*)?")


def errors(messages: Iterable[Message]) -> list[Message]:
    return [m for m in messages if m.severity == "error"]


def sorry_warnings(messages: Iterable[Message]) -> list[Message]:
    """The "declaration uses sorry" warnings (backticks from about Lean v4.28, quotes before)."""
    return [m for m in messages if m.severity == "warning" and _SORRY_WARNING.search(m.data)]


def suggestions(messages: Iterable[Message]) -> list[str]:
    """Every tactic the "Try this:" / "Try these:" info messages suggest, in order.

    Lean prints ``Try this: exact h`` on one line, or ``Try this:`` then each suggestion on
    indented lines, opened by an action tag (``[apply] exact Nat.one_pos``) or a bullet (``•``).
    A suggestion that spans lines (a ``calc``, a tactic block) keeps its lines, each dedented by
    the suggestion's own indentation, so that it is written back with its layout.
    """
    found: list[str] = []
    for m in messages:
        match = _TRY_THIS.match(m.data.strip()) if m.severity == "info" else None
        if match is None:
            continue
        lines = [ln for ln in match.group(1).splitlines() if ln.strip()]
        current: list[str] = []
        base = 0
        for ln in lines:
            indent = len(ln) - len(ln.lstrip())
            starts = not current or (indent <= base and _NEW.match(ln.lstrip()) is not None)
            if starts:
                if current:
                    found.append("\n".join(current))
                base, current = indent, [_TAG.sub("", ln, count=1).rstrip()]
            else:
                current.append(" " * max(0, indent - base) + ln.strip())
        if current and current[0]:
            found.append("\n".join(current))
    return found


def suggestion(messages: Iterable[Message]) -> str | None:
    """The first suggested tactic (see ``suggestions``), None when nothing is suggested."""
    found = suggestions(messages)
    return found[0] if found else None


def parse_axioms(data: str) -> tuple[str, frozenset[str]] | None:
    """The output of ``#print axioms``: (theorem, axioms), or None for another message."""
    if m := _AXIOMS.search(data):
        names = (a.strip() for a in m["axioms"].split(","))
        return m["name"], frozenset(a for a in names if a)
    if m := _NO_AXIOMS.search(data):
        return m["name"], frozenset()
    return None
