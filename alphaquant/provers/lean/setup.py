"""Lean set-up: where the pieces live, what `alphaquant doctor` checks, and `make lean`'s facts.

The Lean REPL is leanprover-community/repl (``REPL_GIT``) at the tag named after the project's
Lean version, fetched and built by lean-interact once per Lean version, in lean-interact's
cache layout under the user cache directory (``repl_dir``).
``ALPHAQUANT_LEAN_REPL`` names another REPL checkout instead (a folder holding
``.lake/build/bin/repl`` and a ``lean-toolchain``).

``make lean`` runs ``python -m alphaquant.setup_lean`` on these facts: elan, the project's
toolchain, the REPL for exactly that toolchain, Mathlib's build cache, then ``lake build`` of
lean_project. Every step skips what is done; one that fails stops with one line on stderr.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from alphaquant.checks import Check

# The REPL lean-interact builds: leanprover-community/repl, whose tags are the Lean versions
# (the transcripts the tests replay are its own). A mirror (or a test's local repository) can
# stand in with $ALPHAQUANT_LEAN_REPL_GIT.
REPL_GIT = os.environ.get("ALPHAQUANT_LEAN_REPL_GIT") or "https://github.com/leanprover-community/repl"
ELAN_INIT_URL = "https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
REPL_ENV = "ALPHAQUANT_LEAN_REPL"  # a REPL checkout to use instead of the cached build
ELAN_URL_ENV = "ALPHAQUANT_ELAN_INIT_URL"  # another elan installer (mirrors; tests)

# ---------------------------------------------------------------------------------------------
# Where things are


def default_project() -> Path:
    """The repository's lean_project (the one under the working directory, if there is one)."""
    here = Path.cwd() / "lean_project"
    if (here / "lean-toolchain").is_file():
        return here
    return Path(__file__).resolve().parents[3] / "lean_project"


def toolchain_version(text: str) -> str | None:
    """The Lean version a ``lean-toolchain`` names: "leanprover/lean4:v4.32.0" -> "v4.32.0".

    A bare "4.32.0" gets its "v"; comments and blank lines are skipped; None for an empty file.
    """
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        version = line.rpartition(":")[2].strip()
        if re.fullmatch(r"\d+\.\d+\.\d+\S*", version):
            version = "v" + version
        return version or None
    return None


def read_toolchain(folder: Path) -> str | None:
    """The Lean version of ``folder/lean-toolchain``; None if there is no such file."""
    try:
        return toolchain_version((folder / "lean-toolchain").read_text(encoding="utf-8"))
    except OSError:
        return None


# A Lean version as a sortable key: v4.29.0-rc2 < v4.29.0 < v4.29.1.
VersionKey = tuple[int, int, int, float]

# Lean fixed kernel soundness bugs in 4.32.1 and 4.33.1 and more by 4.34.0: older is unsound.
SOUND_FROM = "v4.34.0"


def version_key(version: str) -> VersionKey | None:
    """``v4.29.0-rc2`` -> (4, 29, 0, 2); a release sorts after its release candidates."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?", version.strip())
    if m is None:
        return None
    rc = float(m[4]) if m[4] is not None else float("inf")
    return int(m[1]), int(m[2]), int(m[3]), rc


def soundness_note(version: str | None) -> str | None:
    """Why a toolchain older than ``SOUND_FROM`` is not to be trusted; None when it is not."""
    key, floor = version_key(version or ""), version_key(SOUND_FROM)
    if key is None or floor is None or key >= floor:
        return None
    return (f"Lean {version} predates {SOUND_FROM}: kernel soundness bugs fixed in 4.32.1, "
            f"4.33.1 and 4.34.0 can accept a false proof; move lean-toolchain to {SOUND_FROM} "
            "or later")


def repl_tag(version: str) -> str:
    """The REPL's tag for Lean ``version``: the version itself, never a neighbour's (a REPL
    built across a change of Lean's .olean format, as at v4.30, cannot unpickle)."""
    return version


def repl_dir(version: str | None) -> Path:
    """The REPL checkout for Lean ``version``: $ALPHAQUANT_LEAN_REPL, else the cached build."""
    override = os.environ.get(REPL_ENV)
    if override:
        return Path(override).expanduser()
    owner, repo = REPL_GIT.rstrip("/").removesuffix(".git").split("/")[-2:]
    tag = repl_tag(version or "unknown")  # lean-interact's layout: repl_<rev>_lean-toolchain-<v>
    return repl_cache() / owner / repo / f"repl_{tag}_lean-toolchain-{version or 'unknown'}"


def repl_cache() -> Path:
    """lean-interact's cache folder for alphaquant: the REPL's clone, one checkout per tag."""
    return Path(platformdirs.user_cache_dir("alphaquant")) / "lean-interact"


def repl_binary(folder: Path) -> Path:
    """The REPL executable that ``lake build`` makes in a REPL checkout."""
    return folder / ".lake" / "build" / "bin" / "repl"


def version_mismatch(repl_version: str | None, project_version: str | None) -> str | None:
    """Why a REPL built for ``repl_version`` cannot serve a project on ``project_version``.

    None when they agree, or when the project names no version (nothing to compare with).
    """
    if project_version is None or repl_version == project_version:
        return None
    built = repl_version or "an unknown Lean version (no lean-toolchain)"
    return f"is built for {built} but the project needs {project_version}"


def repl_fix(version: str | None, project: Path) -> str:
    """The command that puts a REPL for ``version`` where alphaquant looks for it."""
    if os.environ.get(REPL_ENV):
        return f"unset {REPL_ENV} && " + _repl_build(version, project)
    return _repl_build(version, project)


def _repl_build(version: str | None, project: Path) -> str:
    if version is None or project.resolve() == default_project().resolve():
        return "make lean"
    return (f"python -m alphaquant.setup_lean --repl-only {project}  "
            f"(lean-interact builds {REPL_GIT} at {repl_tag(version)})")


def repl_problem(folder: Path, project: Path) -> str | None:
    """Why the REPL in ``folder`` cannot serve ``project`` (with the fix); None if it can."""
    version = read_toolchain(project)
    binary, fix = repl_binary(folder), repl_fix(version, project)
    if not binary.exists():
        return f"the Lean REPL is not built ({binary} is missing): run `{fix}`"
    mismatch = version_mismatch(read_toolchain(folder), version)
    if mismatch is not None:
        return f"the Lean REPL in {folder} {mismatch}: run `{fix}`"
    return None


def elan_home() -> Path:
    """Where elan installs itself and its toolchains ($ELAN_HOME, default ~/.elan)."""
    return Path(os.environ.get("ELAN_HOME") or Path.home() / ".elan")


# ---------------------------------------------------------------------------------------------
# `alphaquant doctor`


def lean_checks(project: Path | None = None) -> list[Check]:
    """elan, lake, the toolchain, Mathlib's cache, the project's build and the REPL, each with
    the exact command that fixes it."""
    project = project or default_project()
    version = read_toolchain(project)
    checks = [_tool("elan"), _tool("lake")]
    if not (elan_home() / "bin" / "elan").exists() and shutil.which("elan") is None:
        checks.append(Check("Lean toolchain", False, version or "", "make lean"))
    else:
        ok = version in installed_toolchains(with_elan(os.environ))
        fix = "" if ok else f"elan toolchain install {toolchain_line(project)}"
        checks.append(Check("Lean toolchain", ok, version or "", fix))
    checks.append(_path_check(
        "Mathlib cache", project / ".lake" / "packages" / "mathlib" / ".lake" / "build",
        f"cd {project} && lake exe cache get",
    ))
    built = project_built(project)
    checks.append(Check(f"{project.name} build", built, "", "" if built else
                        f"cd {project} && lake build"))
    unsound = soundness_note(version)
    checks.append(Check("Lean soundness fixes", unsound is None, version or "", unsound or ""))
    folder = repl_dir(version)
    binary = repl_binary(folder)
    checks.append(_path_check("Lean REPL", binary, repl_fix(version, project)))
    repl_version = read_toolchain(folder)
    if binary.exists():
        mismatch = version_mismatch(repl_version, version)
        fix = "" if mismatch is None else repl_fix(version, project)
        checks.append(Check("Lean REPL toolchain", mismatch is None, repl_version or "", fix))
    else:
        checks.append(Check("Lean REPL toolchain", False, "", repl_fix(version, project)))
    return checks


def _tool(name: str) -> Check:
    """A tool elan provides: on PATH, or installed but not on PATH yet, or missing."""
    found = shutil.which(name)
    if found is None:
        local = elan_home() / "bin" / name
        if local.exists():
            fix = f'export PATH="{local.parent}:$PATH" (or open a new shell)'
            return Check(name, False, "", fix)
        return Check(name, False, "", "make lean")
    return Check(name, True, first_line([found, "--version"], os.environ, 20), "")


def with_elan(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with elan's bin folder first on PATH (it is there once elan is installed)."""
    return {**env, "PATH": f"{elan_home() / 'bin'}{os.pathsep}{env.get('PATH', '')}"}


def _path_check(name: str, path: Path, fix: str) -> Check:
    return Check(name, True, str(path), "") if path.exists() else Check(name, False, "", fix)


def installed_toolchains(env: Mapping[str, str]) -> set[str]:
    """The Lean versions elan has installed (``elan toolchain list``)."""
    try:
        done = subprocess.run(["elan", "toolchain", "list"], capture_output=True, text=True,
                              timeout=20, env=dict(env))
    except (OSError, subprocess.TimeoutExpired):
        return set()
    versions = (toolchain_version(line.split()[0]) for line in done.stdout.splitlines()
                if line.strip())
    return {v for v in versions if v}


def toolchain_line(project: Path) -> str:
    """The toolchain as lean-toolchain spells it (for `elan toolchain install`)."""
    try:
        text = (project / "lean-toolchain").read_text(encoding="utf-8")
    except OSError:
        return "stable"
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "stable")


def project_built(project: Path) -> bool:
    """Every .lean file of the project has an .olean at least as new (what `lake build` makes)."""
    out = project / ".lake" / "build" / "lib" / "lean"
    sources = [p for p in project.rglob("*.lean")
               if ".lake" not in p.relative_to(project).parts and p.name != "lakefile.lean"]
    if not sources or not out.is_dir():
        return False
    for source in sources:
        olean = out / source.relative_to(project).with_suffix(".olean")
        if not olean.exists() or olean.stat().st_mtime < source.stat().st_mtime:
            return False
    return True


def first_line(cmd: list[str], env: Mapping[str, str], timeout: float) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(env))
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else ""


# ---------------------------------------------------------------------------------------------
# `make lean`


class SetupError(Exception):
    """A set-up step failed; the message is one line naming the cause and what to do."""


# Deadlines of the steps, in seconds (downloads of Mathlib's cache and builds are long).
DOWNLOAD_TIMEOUT = 60.0
INSTALL_TIMEOUT = 900.0
TOOLCHAIN_TIMEOUT = 1800.0
BUILD_TIMEOUT = 4 * 3600.0
