"""Lake, as the Lean backend meets it: the project a file belongs to, a ``lake`` command run to
its end under a deadline, and the one-line messages these give (``LAKE_MISSING``, ``one_line``).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from alphaquant.errors import InputError, ProverNotInstalled

LAKE_MISSING = (
    "Lean is not installed (lake not on PATH): run `make lean`, or install elan "
    "(https://github.com/leanprover/elan) and open a new shell"
)


def lake_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` with a lakefile."""
    for folder in [path.resolve(), *path.resolve().parents]:
        if (folder / "lakefile.toml").is_file() or (folder / "lakefile.lean").is_file():
            return folder
    raise InputError(
        f"{path} is not in a Lake project (no lakefile.toml or lakefile.lean in its folder or "
        "above): Lean files are checked in their project; move it into one (e.g. lean_project/)"
    )


def run_lake(args: list[str], root: Path, timeout: float) -> tuple[int, str] | None:
    """``lake ARGS`` in ``root``, in a session of its own, stdout and stderr as one text:
    (exit code, output), or None when it gave no result within ``timeout`` (its process group
    was killed).

    Raises:
        ProverNotInstalled: no ``lake`` on PATH (``LAKE_MISSING``).
    """
    try:
        proc = subprocess.Popen(["lake", *args], cwd=root, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except FileNotFoundError:
        raise ProverNotInstalled(LAKE_MISSING) from None
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    return proc.returncode, output.decode("utf-8", errors="replace")


def one_line(text: str, limit: int = 200) -> str:
    """One line, at most ``limit`` characters (errors print on one line)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
