"""Lake, as the Lean backend meets it: the project a file belongs to, its lakefile's
``leanOptions``, a ``lake`` command run to its end under a deadline, and the one-line messages
these give (``LAKE_MISSING``, ``one_line``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tomllib
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


_LEAN_OPTION = re.compile(r"⟨\s*`([\w.]+)\s*,\s*(true|false|\d+|\"[^\"]*\")\s*⟩")


def lean_options(root: Path) -> dict[str, bool | int | str]:
    """The ``leanOptions`` of a project's lakefile (what `lake build` passes to Lean as
    ``-D``), ``weak.`` ones aside (Lake sets those only where the option exists)."""
    options: dict[str, bool | int | str] = {}
    toml, lean = root / "lakefile.toml", root / "lakefile.lean"
    if toml.is_file():
        try:
            data = tomllib.loads(toml.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return {}
        table = data.get("leanOptions", {})
        options = {k: v for k, v in _flat(table) if isinstance(v, bool | int | str)}
    elif lean.is_file():
        text = lean.read_text(encoding="utf-8", errors="replace")
        for name, value in _LEAN_OPTION.findall(text):
            options[name] = (value == "true" if value in ("true", "false")
                             else value[1:-1] if value.startswith('"') else int(value))
    return {k: v for k, v in options.items() if not k.startswith("weak.")}


def _flat(table: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    """A TOML table's dotted keys (``pp.unicode.fun = true`` is a nested table) flattened."""
    out: list[tuple[str, object]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            out.extend(_flat(value, f"{prefix}{key}."))
        else:
            out.append((prefix + key, value))
    return out


def set_options(options: dict[str, bool | int | str]) -> str:
    """The options as `set_option` commands, one a line ("" for none)."""
    def value(v: bool | int | str) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else (
            str(v) if isinstance(v, int) else json.dumps(v))
    return "\n".join(f"set_option {k} {value(v)}" for k, v in options.items())


_REQUIRE = re.compile(r"^\s*require\s+[\"«]?([\w-]+)", re.MULTILINE)


def required_packages(root: Path) -> frozenset[str]:
    """The packages a project's lakefile requires (``[[require]] name`` or ``require name``)."""
    toml, lean = root / "lakefile.toml", root / "lakefile.lean"
    try:
        if toml.is_file():
            data = tomllib.loads(toml.read_text(encoding="utf-8"))
            return frozenset(str(r.get("name", "")).lower() for r in data.get("require", []))
        if lean.is_file():
            text = lean.read_text(encoding="utf-8", errors="replace")
            return frozenset(m.lower() for m in _REQUIRE.findall(text))
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        pass
    return frozenset()
