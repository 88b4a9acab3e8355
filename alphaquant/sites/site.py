"""GoalSite, one open goal of a source file, and a file's language by its suffix.

Names are reported as written: ``theorem Foo.bar`` inside ``namespace X`` is "Foo.bar", not
"X.Foo.bar" (the CLI's ``--theorem`` matches what the user reads in the file); guillemets are
kept. Anonymous declarations (Lean ``example``, anonymous ``instance``, Coq ``Goal``, anonymous
``Instance``) have the name "". Coq obligations (``Next Obligation.``) take the name of the
declaration before them.

``decl_start`` is where the declaration begins *including* its attributes, modifiers and (Lean)
doc comment — ``@[simp] private theorem``, ``#[local] Program Instance`` — so that text inserted
there goes before all of them; ``statement`` starts at the keyword itself (``theorem``, ``Lemma``)
and has comments removed: Coq through the header's final ``.``, Lean up to (excluding) the body's
``:=`` (or ``where`` / the first ``| pat =>`` alternative of a pattern-matching definition; a
line-leading ``|x|`` of the type stays in), trailing blanks dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import InputError
from alphaquant.lexing import LineIndex

SUFFIXES = {".v": "coq", ".lean": "lean"}


def language_of(path: Path) -> str:
    """"coq" for ``.v``, "lean" for ``.lean``; any other suffix is an InputError."""
    language = SUFFIXES.get(path.suffix)
    if language is None:
        raise InputError(
            f"unknown file type {path.suffix or '(none)'!r} for {path}: expected .v (Coq) or "
            ".lean (Lean 4)"
        )
    return language


# One open goal in a source file. Offsets are character offsets into the file's text.
@dataclass(frozen=True)
class GoalSite:
    file: Path
    theorem: str  # declaration name ("" for an anonymous Lean `example`)
    line: int  # 1-based line of the hole token
    col: int  # 0-based column (Unicode code points) of the hole token
    kind: str  # coq: "Admitted" | "admit"; lean: "sorry" | "by sorry" | "term sorry" | "admit"
    start: int  # offset of the hole token (for "by sorry": of `by`)
    end: int  # offset just past the hole token (past the `.` for Coq sentences)
    decl_start: int  # offset of the declaration keyword (Lemma, theorem, ...)
    statement: str  # the declaration header text, keyword through the statement's end
    index: int = 0  # 0-based position of this hole among the holes of the same declaration
    decl_line: int = 0  # 1-based line of the declaration keyword (0: not known)

    @property
    def language(self) -> str:
        return language_of(self.file)


# A declaration a hole belongs to, as a locator found it.
@dataclass(frozen=True)
class Decl:
    keyword: str
    name: str
    decl_start: int
    statement: str
    opens_proof: bool = True


def hole_site(path: Path, lines: LineIndex, decl: Decl, hole: tuple[str, int, int],
              index: int) -> GoalSite:
    """A GoalSite for ``hole`` = (kind, start, end) of ``decl``; ``lines`` of the file's text."""
    kind, start, end = hole
    line, col = lines.line_col(start)
    return GoalSite(path, decl.name, line, col, kind, start, end, decl.decl_start,
                    decl.statement, index, lines.line_col(decl.decl_start)[0])
