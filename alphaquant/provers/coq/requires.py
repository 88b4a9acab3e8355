"""Libraries a proof needs that the file may not import: what the search session loads, what a
written proof then needs, and where its import line goes (pure text, plus where Coq keeps its
libraries).

The session that searches may load more than the file imports (CoqHammer always when installed;
Coq Interval and Gappa where the goal's shape fits), so that ``hammer`` can look for premises and
the domain's own automation can be tried. A written proof compiles with the file's own imports,
except where only a tactic of such a library replays it: then the file gains that library's one
import line, right after its own imports (``needed``, ``add_imports``), and the results say so.
Decision: the line is the one the tactic needs (``From Hammer Require Import Tactics.`` for
``hauto``), never the session's heavier one (``Hammer``, which also wants external provers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alphaquant.provers.coq.sentences import split_sentences
from alphaquant.provers.coq.toolchain import toolchain


# One library the session may load, and the tactics of it a proof may be written with.
@dataclass(frozen=True)
class Library:
    name: str  # as doctor shows it
    contrib: str  # its folder under user-contrib
    marker: str  # a compiled file that must exist there
    session: str  # the sentence the search session loads it with
    written: str  # the import line a written proof using ``tactics`` needs
    tactics: tuple[str, ...]  # tactic names (first word of a sentence, or after `;`)
    imported: re.Pattern[str]  # the file already provides ``tactics`` when this matches


HAMMER = Library(
    "coq-hammer", "Hammer", "Plugin/Hammer.vo", "From Hammer Require Import Hammer.",
    "From Hammer Require Import Tactics.",
    ("sauto", "hauto", "qauto", "hfcrush", "hecrush", "hrauto", "hcrush", "sfirstorder",
     "strivial", "scongruence", "sintuition", "ssimpl", "sblast", "qblast", "hsimpl", "ecrush",
     "fcrush", "crush", "sdone", "srun", "sinit", "qsimpl", "qforwarding", "sprover"),
    re.compile(r"\bFrom\s+Hammer\s+Require\s+(?:Import|Export)\s+[^.]*\b(?:Tactics|Hammer)\b"),
)
INTERVAL = Library(
    "coq-interval", "Interval", "Tactic.vo", "From Interval Require Import Tactic.",
    "From Interval Require Import Tactic.", ("interval", "integral", "interval_intro"),
    re.compile(r"\bFrom\s+Interval\s+Require\s+(?:Import|Export)\s+[^.]*\bTactic\b"),
)
GAPPA = Library(
    "coq-gappa", "Gappa", "Gappa_tactic.vo", "From Gappa Require Import Gappa_tactic.",
    "From Gappa Require Import Gappa_tactic.", ("gappa",),
    re.compile(r"\bFrom\s+Gappa\s+Require\s+(?:Import|Export)\s+[^.]*\bGappa_tactic\b"),
)
LIBRARIES = (HAMMER, INTERVAL, GAPPA)

# Real-number functions whose bounds Coq Interval decides (a statement naming one is its shape).
# Not Rabs, nor arithmetic alone: lra and nra decide those, and Interval's load (its libraries
# seen by every `Search`) would slow the whole search.
_INTERVAL_SHAPE = re.compile(r"\b(?:sqrt|exp|ln|sin|cos|tan|atan|PI|Rpower|powerRZ)\b")
_REAL = re.compile(r"\bR\b|%R\b|\bIZR\b|\bINR\b|\bRabs\b|\bsqrt\b|\bexp\b|\bln\b|\bPI\b")
_BOUND = re.compile(r"<=|<|>=|>")
# Flocq's rounding (the shape Gappa decides): the file works with Flocq or Gappa.
_FLOCQ = re.compile(r"\bFrom\s+(?:Flocq|Gappa)\s+Require\b|\bRequire\s+(?:Import\s+)?Flocq\.")
HEADER = re.compile(r"(?:From\s+\S+\s+)?Require\b|Import\b|Export\b|Declare\s+ML\b", re.DOTALL)


def contrib() -> Path | None:
    """Coq's user-contrib folder (``coqc -where``), or None without Coq."""
    tools = toolchain()
    if tools is None or tools.where is None:
        return None
    return tools.where / "user-contrib"


def installed(library: Library) -> Path | None:
    """Where ``library`` is compiled, or None when it is not installed."""
    folder = contrib()
    if folder is None:
        return None
    lib = folder / library.contrib
    return lib if (lib / library.marker).exists() else None


def _tactic_names(tactic: str) -> set[str]:
    """The tactic words of one sentence: its first word and each after ``;``, ``|``, ``[``,
    ``(``, ``try``/``repeat``/``solve``/``first``."""
    return set(re.findall(r"(?:^|[;|\[(]|\b(?:try|repeat|solve|first|do\s+\d+))\s*([a-z_]\w*)",
                          tactic.strip()))


def provides(text: str, library: Library) -> bool:
    """Whether ``text`` (a file) already imports what ``library``'s tactics need."""
    return library.imported.search(text) is not None


def needed(tactics: Iterable[str], text: str) -> tuple[str, ...]:
    """The import lines ``tactics`` need that ``text`` does not already provide."""
    words = set().union(*(_tactic_names(t) for t in tactics))
    return tuple(lib.written for lib in LIBRARIES
                 if words & set(lib.tactics) and not provides(text, lib))


def header_end(text: str) -> int:
    """Where an import line goes: after the file's leading imports (``Require``, ``Import``,
    ``From … Require``), at the start of the text when it has none."""
    end = 0
    for sentence in split_sentences(text).sentences:
        if not HEADER.match(sentence.text.strip()):
            break
        end = sentence.end
    return end


def add_imports(text: str, lines: tuple[str, ...]) -> tuple[str, int]:
    """``text`` with ``lines`` after its own imports, and how far every offset past them moved."""
    if not lines:
        return text, 0
    at = header_end(text)
    block = "".join(f"\n{line}" for line in lines) if at else "".join(f"{ln}\n" for ln in lines)
    return text[:at] + block + text[at:], len(block)


def session_loads(file_text: str, statement: str = "", *, hammer: bool = False
                  ) -> tuple[str, ...]:
    """What a search session loads after the file's imports, beyond them: CoqHammer in the
    session beside the search (``hammer``), Coq Interval for a real bound over functions it
    evaluates (``sqrt``, ``ln``, …), Gappa where the file works with Flocq's rounding. Each only
    when installed and not already imported by the file."""
    loads: list[str] = []
    wanted = [HAMMER] if hammer else []
    if _REAL.search(statement) and _BOUND.search(statement) and _INTERVAL_SHAPE.search(
            statement):
        wanted.append(INTERVAL)
    if _FLOCQ.search(file_text) and _BOUND.search(statement):
        wanted.append(GAPPA)
    for lib in wanted:
        if installed(lib) is not None and not re.search(
                rf"\bFrom\s+{lib.contrib}\s+Require\b", file_text):
            loads.append(lib.session)
    return tuple(loads)


def loaded(file_text: str, loads: Iterable[str], library: Library) -> bool:
    """Whether a session of ``file_text`` with ``loads`` has ``library`` (its tactics run)."""
    return library.session in loads or re.search(
        rf"\bFrom\s+{library.contrib}\s+Require\b", file_text) is not None
