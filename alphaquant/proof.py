"""Proof assembly: splice found tactics into the source, re-check, check integrity, write back.

A proof counts only when the prover's kernel accepts the whole file with the proof spliced in, the
file holds one hole fewer than before (nothing new was left open), no spliced tactic fails the
sanitizer, and the theorem depends on no axiom beyond those the file's libraries bring.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alphaquant.goals import GoalSite, locate
from alphaquant.provers.base import Prover
from alphaquant.provers.negation import coq_negation, lean_negation, lean_universes
from alphaquant.tactics.sanitize import check_tactic, clean_tactic

LEAN_STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})


# The verdict on a spliced proof.
@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def _line_indent(text: str, offset: int) -> tuple[str, bool]:
    """The indentation of the line holding ``offset``, and whether only blanks precede it."""
    line_start = text.rfind("\n", 0, offset) + 1
    before = text[line_start:offset]
    indent = before[: len(before) - len(before.lstrip())]
    return indent, not before.strip()


def splice(text: str, site: GoalSite, tactics: tuple[str, ...]) -> str:
    """The file text with ``tactics`` in place of the hole at ``site``, indentation preserved."""
    if site.language == "coq":
        return _splice_coq(text, site, tactics)
    return _splice_lean(text, site, tactics)


def _coq_sentence(tactic: str) -> str:
    return clean_tactic(tactic, "coq")


def _lean_lines(tactic: str, indent: str) -> str:
    """A (possibly multi-line) Lean tactic, every line placed at ``indent``."""
    return "\n".join(indent + line for line in clean_tactic(tactic, "lean").splitlines())


def _splice_coq(text: str, site: GoalSite, tactics: tuple[str, ...]) -> str:
    sentences = [_coq_sentence(t) for t in tactics]
    if site.kind == "admit":
        block = "{ " + " ".join(sentences) + " }"
    else:
        indent, alone = _line_indent(text, site.start)
        if alone:
            lines = [f"{indent}  {s}" for s in sentences] + [f"{indent}Qed."]
            block = "\n".join(lines)[len(indent) :]
        else:
            block = " ".join([*sentences, "Qed."])
    return text[: site.start] + block + text[site.end :]


def _splice_lean(text: str, site: GoalSite, tactics: tuple[str, ...]) -> str:
    if site.kind in ("by sorry", "term sorry"):
        hole_indent, _ = _line_indent(text, site.start)
        inner = hole_indent + "  "
        block = "by\n" + "\n".join(_lean_lines(t, inner) for t in tactics)
    else:
        col = " " * (site.start - (text.rfind("\n", 0, site.start) + 1))
        block = "\n".join(_lean_lines(t, col) for t in tactics)[len(col) :]
    return text[: site.start] + block + text[site.end :]


def disproof_lemma(site: GoalSite, tactics: tuple[str, ...]) -> tuple[str, str] | None:
    """(name, source) of a lemma stating the negation of the site's declaration, with its proof."""
    name = f"aq_disproof_{site.theorem or 'goal'}"
    if site.language == "coq":
        statement = coq_negation(site.statement)
        if statement is None:
            return None
        body = " ".join(_coq_sentence(t) for t in tactics)
        return name, f"Lemma {name} : {statement}.\nProof. {body} Qed.\n\n"
    statement = lean_negation(site.statement)
    if statement is None:
        return None
    body = "\n".join("  " + t for t in tactics)
    universes = lean_universes(site.statement)
    return name, f"theorem {name}{universes} : {statement} := by\n{body}\n\n"


def insert_disproof(text: str, site: GoalSite, tactics: tuple[str, ...]) -> tuple[str, str] | None:
    """(lemma name, text with the disproof lemma placed just before the site's declaration)."""
    lemma = disproof_lemma(site, tactics)
    if lemma is None:
        return None
    name, source = lemma
    return name, text[: site.decl_start] + source + text[site.decl_start :]


def project_modules(path: Path) -> frozenset[str]:
    """Module names of the project's own files (siblings and _CoqProject logical names)."""
    root = path.resolve().parent
    names = {p.stem for p in root.rglob("*.v")} | {p.stem for p in root.rglob("*.lean")}
    project = root / "_CoqProject"
    if project.exists():
        names |= set(re.findall(r"-[QR]\s+\S+\s+(\S+)", project.read_text(encoding="utf-8")))
    return frozenset(names)


def axiom_allowed(name: str, *, language: str, own_modules: frozenset[str],
                  declared: frozenset[str]) -> bool:
    """Whether a proof may depend on axiom ``name``.

    Lean: only propext, Classical.choice and Quot.sound. Coq: axioms of libraries outside the
    project (the Reals library's own, say), and axioms the file itself declared before the
    search; never an Admitted lemma of the file or of the project.
    """
    if language == "lean":
        return name in LEAN_STANDARD_AXIOMS
    if " [" in name:  # unsafe fixpoints, type-in-type, assumed positivity
        return False
    if "." not in name:
        return name in declared
    return not any(part in own_modules for part in name.split(".")[:-1])


def declared_axioms(text: str) -> frozenset[str]:
    """Names the Coq text itself declares with Axiom/Parameter/Conjecture (not Admitted)."""
    return frozenset(
        re.findall(r"^\s*(?:Axiom|Axioms|Parameter|Parameters|Conjecture)\s+([A-Za-z_][\w']*)",
                   text, flags=re.MULTILINE)
    )


def verify(
    prover: Prover,
    path: Path,
    original: str,
    spliced: str,
    theorem: str,
    tactics: tuple[str, ...],
    *,
    check_axioms_of: str | None = None,
) -> Verdict:
    """Decide whether ``spliced`` (``original`` with ``tactics`` spliced in) is an honest proof.

    Args:
      prover: the kernel that re-checks the whole file.
      path: the file's path (for the prover's project context).
      original: the text before splicing.
      spliced: the text after splicing.
      theorem: the declaration the proof belongs to.
      tactics: the spliced tactics.
      check_axioms_of: the declaration whose axioms to inspect (defaults to ``theorem`` when
        that declaration is now closed).

    Returns:
      A Verdict; ``reason`` says what failed.
    """
    language = "lean" if path.suffix == ".lean" else "coq"
    for tactic in tactics:
        reason = check_tactic(tactic, language)
        if reason is not None:
            return Verdict(False, f"tactic refused ({reason}): {tactic}")
    before, after = locate(original, path), locate(spliced, path)
    if check_axioms_of is None and len(after) != len(before) - 1:
        return Verdict(False, "the spliced proof leaves a hole open")
    if check_axioms_of is not None and len(after) != len(before):
        return Verdict(False, "the disproof leaves a hole open")
    check = prover.check_file(path, spliced)
    if not check.ok:
        where = f" (line {check.line})" if check.line else ""
        return Verdict(False, f"the whole file does not check{where}: {check.message}")
    target = check_axioms_of or theorem
    still_open = any(s.theorem == target for s in after)
    if target and not still_open:
        own = project_modules(path)
        declared = declared_axioms(original)
        bad = sorted(
            a for a in prover.axioms(path, spliced, target)
            if not axiom_allowed(a, language=language, own_modules=own, declared=declared)
        )
        if bad:
            return Verdict(False, f"depends on axioms the file did not use: {', '.join(bad)}")
    return Verdict(True)


def unified_diff(path: Path, old: str, new: str) -> str:
    """A unified diff of the file's change, as ``diff -u`` would print it."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"a/{path.name}", tofile=f"b/{path.name}",
        )
    )


def write_atomic(path: Path, text: str, *, backup: bool = True) -> Path | None:
    """Replace the file's contents atomically; keep ``<name>.orig.bak`` first if asked.

    Returns:
      The backup's path, or None.
    """
    saved = None
    if backup:
        saved = path.with_name(path.name + ".orig.bak")
        shutil.copy2(path, saved)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return saved

