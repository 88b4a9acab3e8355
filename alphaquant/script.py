"""A proof as data, and the one assembler per language that writes it as text.

A ``Script`` is the proof of one goal (or of all the goals of a state): tactics run in order,
then, when the last of them leaves several goals, one script per goal. The search builds it from
the goal counts the prover answered (search/tree.py ``script``); nothing else makes structure:
the sanitizer refuses bullets and braces in any tactic text, and only ``coq_lines`` and
``lean_lines`` write them. ``tactics()`` is the same proof flat, each tactic running on the first
goal left (what the search ran, and the shape results list).

Layout: one tactic per line; a Coq bullet (``-``, ``+``, ``*``, then ``--``, ``++``, ``**``, …)
before each goal a step leaves, a Lean ``·``; the lines below a bullet indented past it.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

COQ_BULLETS = "-+*"


# The proof of a goal: ``steps`` in order, then (two or more) ``goals``: one proof per goal the
# last step leaves. ``flat`` says why a part whose goals could not be told apart was kept flat.
@dataclass(frozen=True)
class Script:
    steps: tuple[str, ...] = ()
    goals: tuple[Script, ...] = ()
    flat: str = ""

    @staticmethod
    def of(proof: Script | Iterable[str]) -> Script:
        """``proof`` itself, or a flat script of its tactics."""
        return proof if isinstance(proof, Script) else Script(tuple(proof))

    def tactics(self) -> tuple[str, ...]:
        """The tactics in the order they run flat (each on the first goal left)."""
        return (*self.steps, *(t for g in self.goals for t in g.tactics()))

    @property
    def structured(self) -> bool:
        return bool(self.goals)

    def notes(self) -> tuple[str, ...]:
        """Why parts of the proof were kept flat, each once."""
        found = [self.flat] if self.flat else []
        for goal in self.goals:
            found.extend(goal.notes())
        return tuple(dict.fromkeys(found))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"steps": list(self.steps)}
        if self.goals:
            data["goals"] = [g.to_json() for g in self.goals]
        if self.flat:
            data["flat"] = self.flat
        return data

    @staticmethod
    def from_json(data: dict[str, Any]) -> Script:
        return Script(tuple(str(s) for s in data.get("steps", ())),
                      tuple(Script.from_json(g) for g in data.get("goals", ())),
                      str(data.get("flat", "")))


def coq_bullets(used: Iterable[str] = ()) -> list[str]:
    """Bullets for nesting levels 0, 1, …, skipping those in ``used`` (active around the hole):
    ``-``, ``+``, ``*``, then ``--``, ``++``, ``**``, … (Coq has no end of them)."""
    taken = set(used)
    out: list[str] = []
    size = 1
    while len(out) < 64:
        out.extend(b * size for b in COQ_BULLETS if b * size not in taken)
        size += 1
    return out


def coq_lines(script: Script, sentence: Any, used: Iterable[str] = ()) -> list[str]:
    """The Coq lines of ``script`` (relative indentation; the first line unindented). A
    bullet's lines are indented past the bullet and its space, as Coq users write them.

    Args:
      script: the proof.
      sentence: a tactic text -> its Coq sentence (the sanitizer's cleaned form).
      used: bullets the surrounding proof has in use at the hole; never reused.
    """
    bullets = coq_bullets(used)

    def lines(s: Script, depth: int) -> list[str]:
        out: list[str] = []
        for step in s.steps:
            out.extend(_coq_sentence_lines(sentence(step)))
        for goal in s.goals:
            mark = bullets[depth]
            inner = lines(goal, depth + 1)
            pad = " " * (len(mark) + 1)
            out.append(f"{mark} {inner[0]}")
            out.extend(pad + line if line else line for line in inner[1:])
        return out

    return lines(script, 0)


def _coq_sentence_lines(text: str) -> list[str]:
    return text.split("\n")


def coq_one_line(script: Script, sentence: Any, used: Iterable[str] = ()) -> str:
    """The same proof on one line (Coq reads bullets between sentences wherever they stand)."""
    return " ".join(" ".join(line.split()) for line in coq_lines(script, sentence, used=used))


def lean_lines(script: Script, tactic_lines: Any) -> list[str]:
    """The Lean lines of ``script`` (relative indentation; the first line unindented).

    Args:
      script: the proof.
      tactic_lines: a tactic text -> its lines (the sanitizer's cleaned form, first line
        unindented, later lines indented relative to it).
    """
    out: list[str] = []
    for step in script.steps:
        out.extend(tactic_lines(step))
    for goal in script.goals:
        inner = lean_lines(goal, tactic_lines)
        out.append(f"· {inner[0]}")
        out.extend("  " + line if line else line for line in inner[1:])
    return out


def lean_one_line(script: Script, tactic_lines: Any) -> str:
    """The same proof on one line: tactics joined by ``;``, each goal's proof as ``(· …)``."""
    parts = [" ".join(line.strip() for line in tactic_lines(step)) for step in script.steps]
    parts.extend(f"(· {lean_one_line(goal, tactic_lines)})" for goal in script.goals)
    return "; ".join(parts)


_INDENT = re.compile(r"^[ \t]*")


@functools.lru_cache(maxsize=8)
def indent_unit(text: str) -> str:
    """The step of indentation the file uses (its most common increase from one line to the
    next: two spaces, four, a tab…); two spaces when the file shows none. Remembered per text:
    a search splices every complete path into the same text."""
    steps: Counter[str] = Counter()
    previous = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = _INDENT.match(line).group(0)  # type: ignore[union-attr]
        if len(indent) > len(previous) and indent.startswith(previous):
            steps[indent[len(previous):]] += 1
        previous = indent
    if not steps:
        return "  "
    unit, _ = steps.most_common(1)[0]
    return unit if unit in ("\t",) or set(unit) == {" "} and len(unit) <= 8 else "  "


def indent_block(lines: Sequence[str], indent: str) -> str:
    """``lines`` joined, every line but the first prefixed with ``indent`` (blank lines bare)."""
    return "\n".join([lines[0], *(indent + line if line else line for line in lines[1:])])
