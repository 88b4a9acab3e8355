"""A proof file read and located once: its text, language, open goals and imported context.

Everything below the run (the prover session, each goal's search, the write-back) takes this one
value instead of reading or locating the file again.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import InputError
from alphaquant.goals import declaration_names, locate, read_proof_file
from alphaquant.runs.sources import imported_context
from alphaquant.sites.coq import declarations as coq_declarations
from alphaquant.sites.lean import declarations as lean_declarations
from alphaquant.sites.site import GoalSite, language_of


# One file as a run found it. Frozen: the run's later texts are its own (proofs spliced in).
@dataclass(frozen=True)
class SourceFile:
    path: Path
    text: str  # as read: the bytes a write-back must still find there
    language: str  # "coq" | "lean"
    sites: tuple[GoalSite, ...]  # its open goals, in file order
    context: str  # the text of the project files it imports, for the tactic sources

    def goals_of(self, theorem: str | None) -> list[GoalSite]:
        """Its open goals, or those of ``theorem``; an unknown theorem is an InputError."""
        if theorem is None:
            return list(self.sites)
        chosen = [s for s in self.sites if s.theorem == theorem]
        if chosen:
            return chosen
        name = self.path.name
        if theorem in declaration_names(self.text, self.path):
            raise InputError(f"theorem {theorem} in {name} has no open goal")
        with_goals = sorted({s.theorem for s in self.sites if s.theorem})
        raise InputError(f"no theorem {theorem} in {name}; its open goals are in: "
                         f"{', '.join(with_goals) or '(none)'}")


    def goal_at(self, line: int) -> tuple[GoalSite, str]:
        """The goal at or around ``line`` (1-based), for an editor's cursor: a hole of the
        declaration that holds the line (the nearest one to it), else the nearest goal below or
        above (below on a tie); and a note saying which was taken when the line holds none.

        A declaration holds the lines from its keyword to the next declaration's.

        Raises:
          InputError: the line is not in the file, or the file has no open goal.
        """
        name = self.path.name
        count = len(self.text.splitlines()) or 1
        if not 1 <= line <= count:
            raise InputError(f"--line {line} is not a line of {name} (lines 1 to {count})")
        if not self.sites:
            raise InputError(f"{name} has no open goal (line {line} asked)")
        breaks = [m.start() for m in re.finditer("\n", self.text)]

        def line_of(offset: int) -> int:
            return bisect.bisect_left(breaks, offset) + 1

        decls = coq_declarations(self.text) if self.language == "coq" else \
            lean_declarations(self.text)
        holding = max((at for at in (line_of(d.decl_start) for d in decls) if at <= line),
                      default=None)
        inside = [s for s in self.sites if line_of(s.decl_start) == holding]
        if inside:
            return min(inside, key=lambda s: (abs(s.line - line), s.line < line)), ""

        def distance(site: GoalSite) -> tuple[int, bool]:
            start = line_of(site.decl_start)
            return (start - line, False) if start > line else (line - site.line, True)

        site = min(self.sites, key=distance)
        where = "below" if line_of(site.decl_start) > line else "above"
        return site, (f"line {line} of {name} holds no open goal; the nearest, {where}, is "
                      f"{site.theorem or 'an example'} (line {site.line})")


def located(path: Path, text: str) -> SourceFile:
    """``text`` as the file ``path``: its language, goals and imported context."""
    return SourceFile(path, text, language_of(path), tuple(locate(text, path)),
                      imported_context(path, text))


def read_source_file(path: Path) -> SourceFile:
    """Read and locate ``path``.

    Raises:
      InputError: not a .v/.lean file, not a file, or not UTF-8 text.
    """
    return located(path, read_proof_file(path))
