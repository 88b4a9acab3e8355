"""lean_project and coq_project state the same theory: the same goals, file by file, under the
same names (every false seed claim beside its corrected form in both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaquant.goals import find_goals

REPO = Path(__file__).resolve().parents[1]
LEAN = sorted((REPO / "lean_project" / "Quantization3p5bit").glob("*.lean"))
COQ = sorted((REPO / "coq_project").glob("*.v"))


def goal_names(paths: list[Path]) -> dict[str, list[str]]:
    return {p.stem: sorted({s.theorem for s in find_goals(p)}) for p in paths}


def test_both_projects_have_the_same_goal_names_file_by_file() -> None:
    lean, coq = goal_names(LEAN), goal_names(COQ)
    assert lean == coq
    assert sum(map(len, lean.values())) >= 19


@pytest.mark.parametrize("project", [LEAN, COQ], ids=["lean", "coq"])
def test_every_seed_claim_sits_beside_its_corrected_form(project: list[Path]) -> None:
    names = {n for names in goal_names(project).values() for n in names}
    seeds = {n for n in names if n.endswith("_seed")}
    assert {"no_int32_overflow_seed", "quantization_3p5bit_error_bound_clamped_seed"} <= seeds
    for seed in seeds:
        corrected = seed.removesuffix("_seed").removesuffix("_clamped")
        assert corrected in names, seed
