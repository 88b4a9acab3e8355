"""`alphaquant goals`: a file's located goals, with goal states where a prover can give them."""

from __future__ import annotations

from pathlib import Path

from alphaquant.errors import AlphaquantError, ProverNotInstalled
from alphaquant.goals import GoalSite, find_goals, language_of
from alphaquant.provers.registry import make_prover


def goal_states(
    path: Path, *, with_states: bool = True
) -> tuple[list[GoalSite], dict[int, str] | None, str | None]:
    """(goals, goal state text by goal index or None, a notice when states are unavailable)."""
    language_of(path)
    sites = find_goals(path)
    if not with_states or not sites:
        return sites, None, None
    try:
        prover = make_prover(path)
    except ProverNotInstalled as e:
        return sites, None, f"{e}; showing positions only"
    text = path.read_text(encoding="utf-8")
    shown: dict[int, str] = {}
    try:
        for i, site in enumerate(sites):
            try:
                shown[i] = prover.open(site, text).text
            except ProverNotInstalled as e:
                return sites, None, f"{e}; showing positions only"
            except AlphaquantError as e:
                shown[i] = f"(unavailable: {e})"
    finally:
        prover.close()
    return sites, shown, None
