"""`alphaquant goals FILE --json`: every goal carries its whole statement, Lean and Coq alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alphaquant.cli import app
from alphaquant.provers.negation import coq_negation, lean_negation

REPO = Path(__file__).resolve().parents[1]
LEAN = REPO / "lean_project" / "Quantization3p5bit" / "ErrorBounds.lean"
COQ = REPO / "coq_project" / "ErrorBounds.v"


def goals_json(path: Path) -> list[dict[str, object]]:
    done = CliRunner().invoke(app, ["goals", str(path), "--no-states", "--json"])
    assert done.exit_code == 0, done.output
    goals: list[dict[str, object]] = json.loads(done.stdout)["goals"]
    return goals


@pytest.mark.parametrize(("path", "negate"), [(LEAN, lean_negation), (COQ, coq_negation)])
def test_goals_json_gives_each_goal_its_whole_statement(path: Path, negate: object) -> None:
    goals = goals_json(path)
    text = path.read_text(encoding="utf-8")
    assert goals
    for goal in goals:
        statement = str(goal["statement"])
        assert statement.split()[1] == goal["theorem"]
        assert statement in text or statement.rstrip(".") in text
        assert negate(statement) is not None  # type: ignore[operator]
    seed = next(g for g in goals if g["theorem"] == "quantization_error_bound_clamped_seed")
    assert str(seed["statement"]).rstrip(".").endswith("/ 2")
