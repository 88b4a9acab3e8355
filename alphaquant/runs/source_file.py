"""A proof file read and located once: its text, language, open goals and imported context.

Everything below the run (the prover session, each goal's search, the write-back) takes this one
value instead of reading or locating the file again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import InputError
from alphaquant.goals import declaration_names, locate, read_proof_file
from alphaquant.runs.sources import imported_context
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
