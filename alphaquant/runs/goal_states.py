"""`alphaquant goals`: a file's (or a project's) located goals, with goal states where a prover
can give them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alphaquant.errors import AlphaquantError, ProverNotInstalled
from alphaquant.goals import find_goals, read_proof_file
from alphaquant.provers.registry import make_prover
from alphaquant.sites.site import GoalSite, language_of


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
    text = read_proof_file(path)
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


def project_goal_states(
    project: Path, *, with_states: bool = True
) -> tuple[list[GoalSite], dict[int, str] | None, list[str]]:
    """The goals of every .v and .lean file below ``project``, files in dependency order: (goals,
    goal state text by position in that list or None, notices)."""
    from alphaquant.runs.sources import dependency_order, project_files, read_texts

    files = project_files(project)
    texts = read_texts(files, strict=False)
    sites: list[GoalSite] = []
    shown: dict[int, str] = {}
    notices: list[str] = []
    any_states = False
    for f in dependency_order(files, texts):
        try:
            found, states, notice = goal_states(f, with_states=with_states)
        except AlphaquantError as e:  # one unreadable file does not hide the others' goals
            notices.append(f"{e}; skipped")
            continue
        if notice and notice not in notices:
            notices.append(notice)
        if states is not None:
            any_states = True
            shown.update({len(sites) + i: s for i, s in states.items()})
        sites += found
    return sites, (shown if with_states and (any_states or not sites) else None), notices


def goals_json(sites: list[GoalSite], shown: dict[int, str] | None) -> dict[str, Any]:
    """The document `goals --json` prints: each goal with its statement and, when asked for,
    its state as the prover shows it."""
    return {"goals": [
        {"file": str(s.file), "theorem": s.theorem, "line": s.line, "col": s.col,
         "kind": s.kind, "statement": s.statement, "state": (shown or {}).get(i)}
        for i, s in enumerate(sites)
    ]}
