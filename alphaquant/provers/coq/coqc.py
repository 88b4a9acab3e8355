"""coqc and coqdep on copies of a file: the project files it needs built, then the copy compiled
as if it were the file (same logical name), always inside a scratch folder so that nothing
(``.lia.cache``, ``.vo`` of the copy) lands in the user's project."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import FileDoesNotCompile
from alphaquant.provers.base import FileCheck
from alphaquant.provers.coq.project import (
    Command,
    CoqProject,
    ToolRun,
    build_dependencies,
    command_argv,
    find_project,
    first_error,
    run_tool,
)
from alphaquant.provers.coq.toolchain import toolchain

INSTALL_HINT = "apt-get install -y coq"
COQ_MISSING = ("Coq is not installed (neither coqtop nor rocq on PATH): install it with "
               f"`{INSTALL_HINT}`")


def coq_status() -> tuple[bool, str, str]:
    """(found, version, install hint) of Coq; the hint is "" when Coq is found."""
    tools = toolchain()
    if tools is None:
        return False, "", INSTALL_HINT
    return True, tools.version_text, ""


# The compilers, found on PATH once, and the time each run may take.
@dataclass(frozen=True)
class Coqc:
    coqc: Command = "coqc"
    coqdep: Command = "coqdep"
    timeout: float = 900.0  # seconds for each coqc / coqdep run

    @classmethod
    def on_path(cls, timeout: float) -> Coqc:
        tools = toolchain()
        if tools is None:
            return cls("coqc", "coqdep", timeout)
        return cls(tools.coqc, tools.coqdep, timeout)

    @contextmanager
    def copy_of(self, path: Path, text: str) -> Iterator[tuple[CoqProject, Path, list[Path]]]:
        """``text`` written as a copy of ``path`` in a scratch folder, with the stale project files
        it needs built: (the project, the copy, the files compiled).

        Raises:
          FileDoesNotCompile: a project file it needs does not compile.
        """
        project = find_project(path)
        with tempfile.TemporaryDirectory(prefix="alphaquant-coq-") as tmp:
            copy = Path(tmp) / path.name
            copy.write_text(text, encoding="utf-8")
            built = build_dependencies(project, copy, coqc=self.coqc, coqdep=self.coqdep,
                                       timeout=self.timeout)
            yield project, copy, built

    def build_for(self, path: Path, text: str) -> list[Path]:
        """Build the stale project files ``text`` (as ``path``) needs; the files compiled."""
        with self.copy_of(path, text) as (_, _, built):
            return built

    def compile(self, path: Path, text: str) -> tuple[ToolRun, Path]:
        """coqc on ``text`` as ``path``: the run, and the copy's path (named in its errors)."""
        with self.copy_of(path, text) as (project, copy, _):
            return self.compile_copy(project, path, copy), copy

    def compile_copy(self, project: CoqProject, path: Path, copy: Path) -> ToolRun:
        """coqc on ``copy`` as if it were ``path``, run inside the copy's folder."""
        logical = project.logical_dir(path)
        mapping = ["-Q", str(copy.parent), logical] if logical is not None else []
        argv = [*command_argv(self.coqc), *project.flags, *mapping, str(copy)]
        return run_tool(argv, copy.parent, self.timeout)

    def check(self, path: Path, text: str) -> FileCheck:
        """Does ``text`` compile as ``path``? Coq's first error and its line when not."""
        try:
            run, copy = self.compile(path, text)
        except FileDoesNotCompile as e:
            return FileCheck(False, str(e), None)
        if run.returncode == 0:
            return FileCheck(True)
        if run.timed_out:
            return FileCheck(False, f"coqc did not finish within {self.timeout:g}s", None)
        message, line = first_error(run.stderr + "\n" + run.stdout, copy)
        return FileCheck(False, message, line)
