"""`make lean`: install elan and the project's toolchain, have lean-interact fetch and build the
REPL at its tag for exactly that toolchain, then the Mathlib cache and the project, saying each
step. The only module of the package that
prints (it is a script); the facts it works from live in provers/lean/setup.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

from alphaquant.provers.lean.setup import (
    BUILD_TIMEOUT,
    DOWNLOAD_TIMEOUT,
    ELAN_INIT_URL,
    ELAN_URL_ENV,
    INSTALL_TIMEOUT,
    REPL_ENV,
    REPL_GIT,
    TOOLCHAIN_TIMEOUT,
    SetupError,
    default_project,
    elan_home,
    first_line,
    installed_toolchains,
    project_built,
    read_toolchain,
    repl_binary,
    repl_cache,
    repl_dir,
    repl_fix,
    repl_tag,
    toolchain_line,
    version_mismatch,
    with_elan,
)


def main(argv: list[str] | None = None) -> int:
    """`make lean`: install and build what is missing.

    Returns 0 when everything is in place, 2 (after one line on stderr) when a step failed.
    """
    args = list(argv or [])
    repl_only = "--repl-only" in args
    rest = [a for a in args if a != "--repl-only"]
    if len(rest) > 1 or any(a.startswith("-") for a in rest):
        print("usage: python -m alphaquant.setup_lean [--repl-only] [PROJECT]", file=sys.stderr)
        return 2
    project = Path(rest[0]).resolve() if rest else default_project()
    env = with_elan(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # a clone must fail, not ask for a password
    try:
        version = read_toolchain(project)
        if version is None:
            raise SetupError(f"{project}/lean-toolchain is missing: run `make lean` in the "
                             "alphaquant checkout")
        _ensure_elan(env)
        _ensure_toolchain(project, version, env)
        _ensure_repl(project, version, env)  # first: a project is useless without its REPL
        if not repl_only:
            _ensure_mathlib(project, env)
            _build_project(project, env)
    except SetupError as e:
        print(f"alphaquant: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("alphaquant: error: interrupted", file=sys.stderr)
        return 130
    _say(f"done: Lean {version}, Mathlib and the REPL ({repl_binary(repl_dir(version))}) are ready;"
         f" try `alphaquant search {project.name}/Quantization3p5bit/ErrorBounds.lean`")
    return 0


def _say(line: str) -> None:
    print(f"make lean: {line}", flush=True)


def _ensure_elan(env: dict[str, str]) -> None:
    found = shutil.which("elan", path=env["PATH"])
    if found is not None:
        _say(f"elan: found ({first_line([found, '--version'], env, 20) or found})")
        return
    url = os.environ.get(ELAN_URL_ENV) or ELAN_INIT_URL
    _say(f"elan: installing into {elan_home()} with the official installer ({url})")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as answer:
            script = answer.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise SetupError(
            f"cannot download the elan installer from {url} ({reason}): installing Lean needs "
            "network access to GitHub; connect and run `make lean` again"
        ) from None
    with tempfile.TemporaryDirectory(prefix="alphaquant-elan-") as tmp:
        installer = Path(tmp) / "elan-init.sh"
        installer.write_bytes(script)
        _run(["sh", str(installer), "-y", "--default-toolchain", "none"], Path(tmp), env,
             INSTALL_TIMEOUT, "the elan installer failed")
    if shutil.which("elan", path=env["PATH"]) is None:
        raise SetupError(f"the elan installer ran but {elan_home() / 'bin' / 'elan'} is missing")


def _ensure_toolchain(project: Path, version: str, env: dict[str, str]) -> None:
    if version in installed_toolchains(env):
        _say(f"Lean {version}: installed")
        return
    line = toolchain_line(project)
    _say(f"Lean {version}: installing ({line})")
    _run(["elan", "toolchain", "install", line], project, env, TOOLCHAIN_TIMEOUT,
         f"cannot install the Lean toolchain {line}")


def _ensure_mathlib(project: Path, env: dict[str, str]) -> None:
    if (project / ".lake" / "packages" / "mathlib" / ".lake" / "build").is_dir():
        _say("Mathlib: build cache present")
        return
    _say("Mathlib: fetching the package and its build cache (`lake exe cache get`; a few GB)")
    _run(["lake", "exe", "cache", "get"], project, env, BUILD_TIMEOUT,
         f"`lake exe cache get` failed in {project}")


def _build_project(project: Path, env: dict[str, str]) -> None:
    if project_built(project):
        _say(f"{project.name}: built")
        return
    _say(f"{project.name}: `lake build`")
    _run(["lake", "build"], project, env, BUILD_TIMEOUT, f"`lake build` failed in {project}")


def _ensure_repl(project: Path, version: str, env: dict[str, str]) -> None:
    """The REPL for ``version``, fetched and built by lean-interact at its tag for exactly that
    Lean version (in a child process, under a deadline)."""
    folder = repl_dir(version)
    if repl_binary(folder).exists():
        mismatch = version_mismatch(read_toolchain(folder), version)
        if mismatch is not None:
            raise SetupError(f"the REPL in {folder} {mismatch}: run `{repl_fix(version, project)}`")
        _say(f"REPL: built ({repl_binary(folder)})")
        return
    if os.environ.get(REPL_ENV):
        raise SetupError(f"{REPL_ENV}={folder} holds no built REPL: unset it, or build one there")
    tag = repl_tag(version)
    _say(f"REPL: lean-interact fetches {REPL_GIT} at {tag} and builds it in {folder}")
    lake = shutil.which("lake", path=env["PATH"]) or "lake"
    script = ("import sys; from lean_interact import LeanREPLConfig; "
              "LeanREPLConfig(lean_version=sys.argv[1], cache_dir=sys.argv[2], "
              "lake_path=sys.argv[3], repl_git=sys.argv[4], repl_rev=sys.argv[5], verbose=True)")
    _run([sys.executable, "-c", script, version, str(repl_cache()), lake, REPL_GIT, tag], project,
         env,
         BUILD_TIMEOUT, f"lean-interact could not fetch or build the REPL tag {tag} (the REPL "
         f"needs a tag for Lean {version} exactly)")
    if not repl_binary(folder).exists():
        raise SetupError(f"lean-interact ran but {repl_binary(folder)} is missing")


def _run(cmd: list[str], cwd: Path, env: Mapping[str, str], timeout: float, what: str) -> None:
    """Run one step, its output streamed to stdout; SetupError (with its last line) if it fails.

    The step runs in its own process group, killed whole at the deadline or on Ctrl-C.
    """
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as e:
        raise SetupError(f"{what}: cannot run {cmd[0]} ({e})") from None
    assert proc.stdout is not None
    tail: deque[str] = deque(maxlen=20)
    reader = threading.Thread(target=_echo, args=(proc.stdout, tail), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise SetupError(f"{what}: no result within {timeout:g} s (stopped)") from None
    except KeyboardInterrupt:
        _kill_group(proc)
        raise
    reader.join(timeout=5)
    if code != 0:
        last = _last_meaningful(tail)
        raise SetupError(f"{what} (exit code {code}{': ' + last if last else ''})")


def _echo(stream: Iterable[bytes], tail: deque[str]) -> None:
    for raw in stream:
        line = raw.decode("utf-8", errors="replace").rstrip()
        tail.append(line)
        print(f"    {line}", flush=True)


def _last_meaningful(lines: Iterable[str]) -> str:
    """The last non-empty output line, on one line and not too long."""
    last = next((ln for ln in reversed(list(lines)) if ln.strip()), "")
    last = " ".join(last.split())
    return last if len(last) <= 300 else last[:297] + "..."


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
