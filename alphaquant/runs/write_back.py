"""Write-back of a batch: each file's proofs combined, re-checked whole under the acceptance rule,
and written only if the file on disk is still what the run started from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alphaquant import file_text, proof, safe_write
from alphaquant.config import Settings
from alphaquant.errors import FileDoesNotCompile
from alphaquant.goals import locate
from alphaquant.provers.base import Judging
from alphaquant.provers.lean.build import rebuild
from alphaquant.provers.registry import make_prover
from alphaquant.runs.sources import dependency_order
from alphaquant.runs.store import (
    RunStore,
)
from alphaquant.script import Script
from alphaquant.sites.site import GoalSite
from alphaquant.status import GoalStatus

log = logging.getLogger(__name__)




def written(item: dict[str, Any]) -> Script:
    """The proof a stored result item holds, as it is written: its script (one per goal a step
    left), or, for an item stored without one, its tactics flat."""
    if item.get("script"):
        return Script.from_json(item["script"])
    return Script(tuple(item.get("proof") or ()))


def check_combined(prover: Any, path: Path, original: str,
                   proofs: list[tuple[GoalSite, Script]], *,
                   avoid: frozenset[str] = frozenset()) -> proof.Verdict:
    """Whether the file with every proof spliced in checks whole, with one hole fewer per proof,
    and every proved declaration passes the acceptance rule by its kernel name, as ``search``
    judges it: ``avoid`` (search.avoid) goes to a prover that judges in one check (Coq), whose
    compile of the probe copy is the whole-file check (no separate compile); other provers
    (Lean) check the file, then ask each declaration's assumptions."""
    combined, starts = proof.combine(original, proofs)
    if len(locate(combined, path)) != len(locate(original, path)) - len(proofs):
        return proof.Verdict(False, "the combined proofs do not close exactly their goals",
                             proof.Refusal.HOLES)
    judging = isinstance(prover, Judging)
    if not judging:
        check = prover.check_file(path, combined)
        if not check.ok:
            where = f" (line {check.line})" if check.line else ""
            return proof.Verdict(False, f"the whole file does not check{where}: {check.message}",
                                 proof.Refusal.DOES_NOT_CHECK)
    checked: set[int] = set()
    for (site, _), start in sorted(zip(proofs, starts, strict=True), key=lambda p: p[1]):
        if start in checked:
            continue  # another hole of a declaration already checked (with all its splices)
        checked.add(start)
        if judging:
            verdict = proof.judged(prover.judge(path, combined, start, avoid=avoid))
            if verdict.refusal is proof.Refusal.DOES_NOT_CHECK:
                return verdict
            if not verdict.ok:
                return proof.Verdict(False, f"{site.theorem}: {verdict.reason}", verdict.refusal)
            continue
        try:
            bad = prover.untrusted(path, original, combined, start)
        except FileDoesNotCompile as e:
            return proof.Verdict(False, f"{site.theorem}: assumptions not checked: {e}",
                                 proof.Refusal.RULE)
        if bad:
            return proof.Verdict(False, f"{site.theorem} rests on what the acceptance rule "
                                        f"refuses: {', '.join(bad)}", proof.Refusal.RULE)
    return proof.Verdict(True)


def write_back(store: RunStore, settings: Settings,
               emit: Callable[..., None]) -> list[tuple[str, str, str]]:
    """Write every file's proofs back, combined and re-checked whole; a file whose combined
    check fails keeps its text, and the proof that broke it is named.

    Returns:
      (file, status, message) per file with proofs; status written | unchanged | kept | skipped.
    """
    project = store.info().project
    latest = store.latest()
    out = []
    files = store.files()
    texts = {project / f: text for f, text in files.items()}
    ordered = [p.relative_to(project).as_posix() for p in dependency_order(list(texts), texts)]
    for file in ordered:  # imported modules first: each is rebuilt before its dependants' check
        original = files[file]
        goals = [g for g in store.goals() if g.file == file]
        proved = [(g, written(latest[g.id].item)) for g in goals
                  if g.id in latest and latest[g.id].status == GoalStatus.PROVED]
        if not proved:
            continue
        path = project / file
        sites = locate(original, path)
        proofs = [(sites[g.ordinal], tactics) for g, tactics in proved]
        emit("recheck", f"re-checking {file} with its {len(proofs)} "
                        f"proof{'s' if len(proofs) != 1 else ''} combined")
        status, message = _write_file(path, original, proofs, settings)
        if status == "written" and path.suffix == ".lean":
            failed = rebuild(path)
            message += f"; {failed}" if failed else "; rebuilt with lake build"
        store.record_write(file, status, message)
        emit("write", f"{file}: {status}{f' ({message})' if message else ''}")
        out.append((file, status, message))
    return out


def _write_file(path: Path, original: str, proofs: list[tuple[GoalSite, Script]],
                settings: Settings) -> tuple[str, str]:
    chosen = list(proofs)
    combined, _ = proof.combine(original, chosen)
    try:
        current: str | None = file_text.read_text(path)
    except (OSError, UnicodeDecodeError):
        current = None
    if current == combined:
        return "unchanged", "already holds these proofs"
    if current != original:
        return "skipped", _kept_aside(path, proofs, "the file changed on disk since the run began")
    prover = make_prover(path, settings.prover, lean=settings.lean)
    try:
        verdict = check_combined(prover, path, original, chosen,
                                 avoid=frozenset(settings.search.avoid))
        if not verdict.ok:
            return "kept", _culprit(prover, path, original, chosen, verdict.reason,
                                   frozenset(settings.search.avoid))
    finally:
        prover.close()
    try:
        backup = safe_write.write_file(path, combined, expected=original)
    except safe_write.WriteRefused as e:
        return "skipped", _kept_aside(path, proofs, str(e))
    return "written", f"{len(proofs)} proof{'s' if len(proofs) != 1 else ''}; backup {backup}"


def _kept_aside(path: Path, proofs: list[tuple[GoalSite, Script]], why: str) -> str:
    side = safe_write.write_side_file(path, [(s.theorem, s.line, list(t.tactics()))
                                        for s, t in proofs])
    return f"{why}; nothing written" + (f", proofs kept in {side}" if side else "")


def _culprit(prover: Any, path: Path, original: str,
             proofs: list[tuple[GoalSite, Script]], reason: str,
             avoid: frozenset[str]) -> str:
    """Which proof breaks the file: add them one by one, in file order, re-checking each time."""
    ordered = sorted(proofs, key=lambda p: p[0].start)
    for k in range(1, len(ordered) + 1):
        verdict = check_combined(prover, path, original, ordered[:k], avoid=avoid)
        if not verdict.ok:
            site = ordered[k - 1][0]
            return (f"original kept: the proof of {site.theorem} (line {site.line}) breaks the "
                    f"combined file: {verdict.reason}")
    return f"original kept: the combined file fails ({reason}) though each prefix checks"
