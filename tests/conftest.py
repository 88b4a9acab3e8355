"""Shared fixtures: a scratch Coq project with its own tactic list, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

needs_coq = pytest.mark.skipif(
    shutil.which("coqtop") is None or shutil.which("coqc") is None,
    reason="Coq is not installed (apt-get install -y coq)",
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache directory (learned priors, model answers)."""
    monkeypatch.setenv("ALPHAQUANT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def write_config(folder: Path, tactics: list[tuple[str, float]], *, offline: bool = True,
                 **search: object) -> Path:
    """A config whose offline tactic list is exactly ``tactics`` (no learned priors, no goal-aware
    rules, no library premises unless asked for with ``premises=N``, no first pass)."""
    lines = []
    for text, weight in tactics:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        lines += ["[[tactic]]", f'text = "{escaped}"', f"weight = {weight}", ""]
    (folder / "tactics.toml").write_text("\n".join(lines), encoding="utf-8")
    settings = {"budget_seconds": 20, "tactic_timeout": 3, "premises": 0, **search}
    body = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}"
                     for k, v in settings.items())
    config = folder / "config.toml"
    config.write_text(
        f"offline = {str(offline).lower()}\n"
        "[tactics]\ncoq = \"tactics.toml\"\nlearned_priors = false\n"
        f"goal_aware_weight = 0.0\n[first_pass]\nenabled = false\n[search]\n{body}\n",
        encoding="utf-8",
    )
    return config


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python -m alphaquant ARGS` as a user would, capturing both streams."""
    return subprocess.run(
        [sys.executable, "-m", "alphaquant", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


SUMMARY: list[str] = []  # lines a test wants shown after the run (the attack corpus's counts)


def pytest_terminal_summary(terminalreporter) -> None:
    import tests.conftest as shared  # the module the tests import, whatever pytest named this one

    for line in shared.SUMMARY:
        terminalreporter.write_line(line)


def sigint_as_a_terminal_sends_it() -> None:
    """A child's SIGINT back to Python's default (KeyboardInterrupt): a test run started in the
    background (``cmd &``, nohup) ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
