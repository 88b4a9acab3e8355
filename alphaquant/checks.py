"""One line of `alphaquant doctor`: a tool, whether it was found, and the command that fixes it.

A leaf module: the doctor, the Lean set-up and the UI all build or render ``Check`` values.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass


# One line of `alphaquant doctor`.
@dataclass(frozen=True)
class Check:
    name: str
    found: bool
    version: str
    fix: str  # the exact command that installs or repairs it ("" when found)


def _version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    out = (done.stdout or done.stderr).strip().splitlines()
    return out[0] if out else ""


def tool_check(name: str, binary: str, version_args: list[str], fix: str) -> Check:
    """Whether ``binary`` is on PATH and what version it reports."""
    if shutil.which(binary) is None:
        return Check(name, False, "", fix)
    return Check(name, True, _version([binary, *version_args]), "")
