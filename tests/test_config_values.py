"""Every config value is checked when read: a bad one is one line naming the key, the value and
what is allowed, exit 2, and nothing runs (no Coq needed: nothing gets that far)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from alphaquant.cli import app
from alphaquant.config import load_settings
from alphaquant.errors import InputError
from tests.conftest import run_cli

FILE = "Lemma t : True.\nProof.\nAdmitted.\n"

BAD = [  # (config text, what the one line must say)
    ('[search]\nbudget_seconds = "ten"\n',
     '[search] budget_seconds = "ten": allowed: a finite number > 0'),
    ("[search]\nc_puct = [1, 2]\n", "[search] c_puct = [1, 2]: allowed: a finite number >= 0"),
    ('[search]\ntactic_timeout = "fast"\n',
     '[search] tactic_timeout = "fast": allowed: a finite number > 0'),
    ("[search]\nmax_expansions = -4\n",
     "[search] max_expansions = -4: allowed: a whole number >= 1"),
    ("[search]\nmax_expansions = 2.5\n",
     "[search] max_expansions = 2.5: allowed: a whole number >= 1"),
    ("[search]\nbudget_seconds = nan\n",
     "[search] budget_seconds = nan: allowed: a finite number > 0"),
    ("[search]\nbudget_seconds = inf\n",
     "[search] budget_seconds = inf: allowed: a finite number > 0"),
    ("[search]\nwidening_alpha = 3\n",
     "[search] widening_alpha = 3: allowed: a finite number >= 0 and <= 1"),
    ("[disproof]\nprobe = 7\n", "[disproof] probe = 7: allowed: a finite number >= 0 and <= 1"),
    ("[disproof]\nprobe = 0.6\nshare = 0.5\n", "[disproof] probe + share = 1.1: allowed: less"),
    ('[disproof]\nenabled = "yes"\n', '[disproof] enabled = "yes": allowed: true or false'),
    ("[tactics]\ncoq = 5\n", "[tactics] coq = 5: allowed: a path (a string)"),
    ("[lean]\nmax_heartbeats = 0\n", "[lean] max_heartbeats = 0: allowed: a whole number >= 1"),
    ('[llm]\ntimeout = "x"\n', '[llm] timeout = "x": allowed: a finite number > 0'),
    ('[llm]\nprovider = "claude"\n', '[llm] provider = "claude": allowed: one of gemini, openai'),
    ('offline = "no"\n', 'offline = "no": allowed: true or false'),
    ('prover = "isabelle"\n', 'prover = "isabelle": allowed: one of auto, coq, lean, lean-dojo'),
    ("[search]\nbogus = 1\n", "[search]: unknown key bogus (known: "),
    ("budget = 3\n", "unknown top-level key budget (known: "),
    ("search = 3\n", "search must be a table ([search]), got 3"),
]


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[e for _, e in BAD])
def test_a_bad_config_value_is_one_line_naming_key_value_and_what_is_allowed(
        tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "T.v").write_text(FILE)
    config = tmp_path / "bad.toml"
    config.write_text(text)
    for args in (["search", str(tmp_path / "T.v")], ["batch", str(tmp_path), "--run-dir",
                                                     str(tmp_path / "run")]):
        result = CliRunner().invoke(app, [*args, "--config", str(config), "--offline"])
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert line.startswith(f"alphaquant: error: {config}: {expected}"), line
    assert not (tmp_path / "run").exists()
    assert (tmp_path / "T.v").read_text() == FILE


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1"])
@pytest.mark.parametrize("command", ["search", "batch"])
def test_budgets_that_are_not_finite_and_positive_are_refused(
        tmp_path: Path, value: str, command: str) -> None:
    (tmp_path / "T.v").write_text(FILE)
    target = str(tmp_path / "T.v") if command == "search" else str(tmp_path)
    option = "--budget" if command == "search" else "--budget-per-goal"
    result = run_cli(command, target, f"{option}={value}", "--offline", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"Invalid value for '{option}'" in line and "allowed: a finite number > 0" in line


def test_the_shipped_configs_are_valid_and_overrides_are_checked_too() -> None:
    configs = Path(__file__).resolve().parent.parent / "configs"
    for path in configs.glob("*.toml"):
        load_settings(path)
    with pytest.raises(InputError, match=r"\[search\] budget_seconds = nan: allowed"):
        load_settings(None, budget_seconds=float("nan"))


def test_stats_says_why_the_learned_record_is_empty(tmp_path: Path) -> None:
    done = run_cli("stats", cwd=tmp_path)  # a private cache: nothing recorded
    assert done.returncode == 0, done.stderr
    assert "learned priors are off ([tactics] learned_priors = false in " in done.stdout
    assert "alphaquant stats RUN_DIR" in done.stdout and "run a search first" not in done.stdout
    config = tmp_path / "on.toml"
    config.write_text("[tactics]\nlearned_priors = true\n")
    done = run_cli("stats", "--config", str(config), cwd=tmp_path)
    assert "holds no coq tactics yet: each search with learned priors on" in done.stdout
