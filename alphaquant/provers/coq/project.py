"""A Coq file's project: load-path flags from the nearest ``_CoqProject``, and stale dependencies.

``find_project(path)`` reads the nearest ``_CoqProject`` above a file (or, with none, treats the
file's directory as the project, as ``coqc`` run there would). ``build_dependencies`` compiles,
in ``coqdep`` order, every project file the given text needs whose ``.vo`` is missing or older
than its source or its own dependencies; build products land next to the sources, where ``coqc``
puts them. Builds of one project are serialised across processes by a lock on the project's
folder itself (no lock file). Every tool runs inside a scratch folder, never the user's project,
so tactic caches (``.lia.cache``, ``.nia.cache``) do not land there.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import FileDoesNotCompile, ProverCannotRun
from alphaquant.provers.coq.toolchain import toolchain

_SKIP_DIRS = {".git", ".lake", "__pycache__", "node_modules", ".venv"}


# A Coq project: where its tools run and the flags they take.
@dataclass(frozen=True)
class CoqProject:
    root: Path  # directory holding _CoqProject (or the file's own directory)
    flags: tuple[str, ...]  # -Q/-R/-I with absolute directories, then the -arg values
    mappings: tuple[tuple[Path, str], ...]  # (physical dir, logical prefix) of each -Q/-R
    listed: tuple[Path, ...]  # .v files named in _CoqProject
    has_project_file: bool

    def logical_dir(self, path: Path) -> str | None:
        """The logical directory of ``path``'s directory (``Quant.sub``), or None if unmapped."""
        here = path.resolve().parent
        best: tuple[int, str] | None = None
        for phys, logical in self.mappings:
            try:
                rel = here.relative_to(phys)
            except ValueError:
                continue
            parts = [p for p in (logical, *rel.parts) if p]
            if best is None or len(phys.parts) > best[0]:
                best = (len(phys.parts), ".".join(parts))
        return None if best is None else best[1]

    def source_files(self) -> list[Path]:
        """Every .v file of the project: those listed plus those under the mapped directories."""
        found = {p.resolve() for p in self.listed if p.exists()}
        for phys, _ in self.mappings:
            if not phys.is_dir():
                continue
            if not self.has_project_file:
                found.update(p.resolve() for p in phys.glob("*.v"))
                continue
            for dirpath, dirs, files in os.walk(phys):
                dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
                found.update(Path(dirpath, f).resolve() for f in files if f.endswith(".v"))
        return sorted(found)


def parse_project_file(
    text: str, root: Path
) -> tuple[list[str], list[tuple[Path, str]], list[Path]]:
    """(flags, mappings, listed files) of a _CoqProject's text; directories made absolute."""
    flags: list[str] = []
    extra: list[str] = []
    mappings: list[tuple[Path, str]] = []
    listed: list[Path] = []
    words: list[str] = []
    for line in text.splitlines():
        try:
            words.extend(shlex.split(line, comments=True))
        except ValueError:
            words.extend(line.split("#", 1)[0].split())
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-Q", "-R") and i + 2 < len(words):
            phys = (root / words[i + 1]).resolve()
            logical = words[i + 2]
            logical = "" if logical in ('""', "''") else logical
            flags += [w, str(phys), logical]
            mappings.append((phys, logical))
            i += 3
        elif w == "-I" and i + 1 < len(words):
            flags += ["-I", str((root / words[i + 1]).resolve())]
            i += 2
        elif w == "-arg" and i + 1 < len(words):
            extra += shlex.split(words[i + 1])
            i += 2
        elif w.endswith(".v"):
            listed.append((root / w).resolve())
            i += 1
        else:
            i += 1
    return flags + extra, mappings, listed


def find_project(path: Path) -> CoqProject:
    """The project of ``path``: the nearest _CoqProject above it, else its own directory."""
    start = path.resolve().parent
    for d in (start, *start.parents):
        candidate = d / "_CoqProject"
        if candidate.is_file():
            flags, mappings, listed = parse_project_file(
                candidate.read_text(encoding="utf-8", errors="replace"), d
            )
            return CoqProject(d, tuple(flags), tuple(mappings), tuple(listed), True)
    return CoqProject(start, ("-Q", str(start), ""), ((start, ""),), (), False)


# --- coqc / coqdep -------------------------------------------------------------------------------

# The answer of one run of a Coq tool.
@dataclass(frozen=True)
class ToolRun:
    returncode: int  # -9 when killed at the deadline
    stdout: str
    stderr: str
    timed_out: bool = False


# A Coq tool: a binary (``coqc``) or an argv prefix (``("rocq", "compile")``).
Command = str | tuple[str, ...]


def command_argv(command: Command) -> list[str]:
    """The argv prefix of ``command``."""
    return [command] if isinstance(command, str) else list(command)


def run_tool(argv: list[str], cwd: Path, timeout: float) -> ToolRun:
    """Run ``argv`` in its own process group; kill the whole group at the deadline.

    Raises:
      ProverCannotRun: the program cannot be started (gone from its place, not executable).
    """
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
            start_new_session=True,
        )
    except OSError as e:  # the machine's fault, not the file's (ProverUnavailable)
        raise ProverCannotRun(f"could not run {argv[0]}: {e.strerror or e}") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return ToolRun(-9, out, err, timed_out=True)
    return ToolRun(proc.returncode, out, err)


_FILE_HEADER = re.compile(r'^File "([^"]*)", line (\d+), characters \d+-\d+:$', re.MULTILINE)
_ERROR = re.compile(r"^(?:\*\*\* )?Error:?(.*)", re.MULTILINE | re.DOTALL)


def first_error(output: str, file: Path | None = None) -> tuple[str, int | None]:
    """The first error coqc printed (without its ``Error:`` prefix) and its line in ``file``.

    coqc prints ``File "f.v", line L, characters a-b:`` and then the message; warnings take the
    same form, so the first header whose block holds an ``Error:`` wins. The line is None when
    the error belongs to another file or has no location.
    """
    headers = list(_FILE_HEADER.finditer(output))
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(output)
        m = _ERROR.search(output, header.end(), end)
        if m is not None:
            line: int | None = int(header.group(2))
            if file is not None and Path(header.group(1)).name != file.name:
                line = None
            return m.group(1).strip(), line
    m = _ERROR.search(output)
    if m is not None:
        return m.group(1).strip(), None
    lines = output.strip().splitlines()
    return (lines[-1] if lines else "coqc failed"), None


def coqdep_graph(
    project: CoqProject, extra: list[Path], coqdep: Command, timeout: float
) -> dict[Path, list[Path]]:
    """``.v`` file -> the project ``.v`` files it requires directly, by ``coqdep``."""
    files = project.source_files()
    argv = [*command_argv(coqdep), *project.flags, *(str(f) for f in files),
            *(str(f) for f in extra)]
    run = run_tool(argv, project.root, timeout)
    known = set(files)
    graph: dict[Path, list[Path]] = {}
    for line in run.stdout.splitlines():
        targets, sep, deps = line.partition(":")
        first = targets.split()[0] if targets.split() else ""
        if not sep or not first.endswith(".vo"):
            continue
        source = (project.root / first).resolve().with_suffix(".v")
        needs = []
        for dep in deps.split():
            if dep.endswith(".vo"):
                dep_v = (project.root / dep).resolve().with_suffix(".v")
                if dep_v in known and dep_v != source:
                    needs.append(dep_v)
        graph[source] = needs
    return graph


@contextmanager
def build_lock(project: CoqProject) -> Iterator[None]:
    """Serialise builds of one project across processes: an advisory lock on the project's own
    folder, so that no lock file is left anywhere."""
    fd = os.open(project.root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _stale(source: Path, deps: list[Path]) -> bool:
    vo = source.with_suffix(".vo")
    if not vo.exists():
        return True
    built = vo.stat().st_mtime
    if source.stat().st_mtime > built:
        return True
    return any(d.with_suffix(".vo").exists() and d.with_suffix(".vo").stat().st_mtime > built
               for d in deps)


def build_dependencies(
    project: CoqProject,
    target: Path,
    *,
    coqc: Command = "coqc",
    coqdep: Command = "coqdep",
    timeout: float = 900.0,
) -> list[Path]:
    """Compile the stale project files ``target`` needs (transitively), in dependency order.

    Args:
      project: the project of the file being checked.
      target: a .v file holding the text to check (may lie outside the project, e.g. a temp copy).
      coqc: the coqc command.
      coqdep: the coqdep command.
      timeout: seconds allowed for each tool run.

    Returns:
      The files compiled (empty when everything was up to date).

    Raises:
      FileDoesNotCompile: a dependency does not compile; the message names it and its error.
    """
    with build_lock(project):
        graph = coqdep_graph(project, [target], coqdep, timeout)
        order: list[Path] = []
        seen: set[Path] = set()

        def visit(node: Path, stack: tuple[Path, ...]) -> None:
            for dep in graph.get(node, []):
                if dep in seen or dep in stack:
                    continue
                visit(dep, (*stack, dep))
                seen.add(dep)
                order.append(dep)

        visit(target.resolve(), (target.resolve(),))
        compiled: list[Path] = []
        for source in order:
            if source == target.resolve() or not _stale(source, graph.get(source, [])):
                continue
            with tempfile.TemporaryDirectory(prefix="alphaquant-coqc-") as scratch:
                run = run_tool([*command_argv(coqc), *project.flags, str(source)], Path(scratch),
                               timeout)
            if run.returncode != 0:
                if run.timed_out:
                    raise FileDoesNotCompile(
                        f"dependency {source.name} did not compile within {timeout:g}s"
                    )
                message, line = first_error(run.stderr + run.stdout, source)
                where = f", line {line}" if line else ""
                raise FileDoesNotCompile(
                    f"dependency {source.name}{where} does not compile: {' '.join(message.split())}"
                )
            compiled.append(source)
        return compiled


def stale_dependencies(path: Path) -> list[Path]:
    """The project files a Coq file requires, directly or not, that ``build_dependencies`` would
    compile first (no up-to-date ``.vo``), in build order; [] when unknown or not Coq. The first
    check of such a file can take long: callers say so before it starts."""
    tools = toolchain()
    if path.suffix != ".v" or tools is None:
        return []
    coqdep = tools.coqdep
    try:
        project = find_project(path)
        listed = path.resolve() in project.source_files()
        graph = coqdep_graph(project, [] if listed else [path], coqdep, 60)
    except (FileDoesNotCompile, OSError):
        return []
    order: list[Path] = []

    def visit(node: Path, stack: frozenset[Path]) -> None:
        for dep in graph.get(node, []):
            if dep not in stack and dep not in order:
                visit(dep, stack | {dep})
                order.append(dep)

    target = path.resolve()
    visit(target, frozenset({target}))
    stale: set[Path] = set()
    for source in order:  # dependencies come first, so a stale one makes its users stale
        if _stale(source, graph.get(source, [])) or any(d in stale for d in graph.get(source, [])):
            stale.add(source)
    return [f for f in order if f in stale and f != target]
