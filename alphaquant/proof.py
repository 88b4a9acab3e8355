"""Proof assembly: splice found tactics into the source, re-check, check integrity, write back.

A proof counts only when the prover's kernel accepts the whole file with the proof spliced in, the
file holds one hole fewer than before (nothing new was left open), no spliced tactic fails the
sanitizer, and the proved declaration, by its fully qualified kernel name, rests on nothing
outside the prover's allow-list (``Prover.untrusted``). Writing the file is safe_write.py's.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from alphaquant.errors import FileDoesNotCompile
from alphaquant.goals import locate
from alphaquant.lexing import coq_sentences, lex, mask
from alphaquant.provers.base import Acceptance, Judging, Prover
from alphaquant.provers.coq.requires import add_imports as requires_add
from alphaquant.provers.coq.requires import needed
from alphaquant.provers.lean import probe as lean_probe
from alphaquant.provers.negation import coq_negation, lean_negation, lean_universes
from alphaquant.sanitize import check_tactic, clean_tactic
from alphaquant.script import (
    Script,
    coq_lines,
    coq_one_line,
    indent_block,
    indent_unit,
    lean_lines,
    lean_one_line,
)
from alphaquant.sites.lean import declaration_end
from alphaquant.sites.site import GoalSite, language_of


# Why the acceptance rule refused a proof, as data (the message says it to people).
class Refusal(Enum):
    TACTIC = "tactic"  # a tactic the sanitizer refuses
    HOLES = "holes"  # the hole count is not one fewer (a disproof: the same)
    DOES_NOT_CHECK = "does not check"  # the kernel refuses the text (the file, or the negation)
    RULE = "rule"  # it checks, but rests on what the rule refuses, or that could not be asked
    UNSTATED = "unstated"  # the disproof's negation cannot be stated
    IMPORTS = "imports"  # it needs an import the settings refuse
    LATE = "late"  # the re-check did not finish within the goal's budget (runs/hard_budget.py)


# The verdict on a spliced proof.
@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    refusal: Refusal | None = None  # set when not ok
    assumes: tuple[str, ...] = ()  # axioms (the file's own, allowed ones) and section hypotheses


def _line_indent(text: str, offset: int) -> tuple[str, bool]:
    """The indentation of the line holding ``offset``, and whether only blanks precede it."""
    line_start = text.rfind("\n", 0, offset) + 1
    before = text[line_start:offset]
    indent = before[: len(before) - len(before.lstrip())]
    return indent, not before.strip()


def _before(text: str, offset: int) -> str:
    """The text of the line holding ``offset``, up to it."""
    return text[text.rfind("\n", 0, offset) + 1 : offset]


def _column(before: str) -> str:
    """Blanks as wide as ``before`` (tabs kept): where a continuation line lines up with it."""
    return "".join(c if c == "\t" else " " for c in before)


Proof = Script | Iterable[str]


@functools.lru_cache(maxsize=8)
def file_indent_unit(text: str, language: str) -> str:
    """The file's step of indentation, read off its code: the continuation lines of a comment
    (a doc comment indented four spaces under two-space code) are not the file's indentation."""
    return indent_unit(mask(text, lex(text, language)))


def splice(text: str, site: GoalSite, proof: Proof, *, unit: str | None = None) -> str:
    """The file text with ``proof`` (a Script, or tactics run flat) in place of the hole at
    ``site``: one tactic per line in the file's own indentation (``unit``, read off ``text``
    when not given), a bullet (Coq) or ``·`` (Lean) before each goal a step left."""
    script = Script.of(proof)
    unit = file_indent_unit(text, site.language) if unit is None else unit
    if site.language == "coq":
        return _splice_coq(text, site, script, unit)
    return _splice_lean(text, site, script, unit)


def _coq_sentence(tactic: str) -> str:
    return clean_tactic(tactic, "coq")


def _lean_tactic(tactic: str) -> list[str]:
    """A (possibly multi-line) Lean tactic's lines, the first unindented."""
    return clean_tactic(tactic, "lean").splitlines()


def coq_bullets_in_use(text: str, start: int, end: int) -> set[str]:
    """The bullets the proof between ``start`` and ``end`` has used at the brace level open at
    ``end`` (braces start a level of their own, where any bullet may be used again)."""
    levels: list[set[str]] = [set()]
    chunk = text[start:end]
    for sentence in coq_sentences(chunk):
        if not sentence.bullet:
            continue
        mark = chunk[sentence.start : sentence.end].strip()
        if mark == "{":
            levels.append(set())
        elif mark == "}":
            if len(levels) > 1:
                levels.pop()
        else:
            levels[-1].add(mark)
    return levels[-1]


_FOCUSED = re.compile(r"^[\s{}*+-]*[*+-]\s*$|^[\s{}*+-]*\{\s*$")


def _splice_coq(text: str, site: GoalSite, script: Script, unit: str) -> str:
    before = _before(text, site.start)
    indent, alone = _line_indent(text, site.start)
    if site.kind == "admit":
        if before.strip() and _FOCUSED.match(before):
            # A bullet (or a brace) focuses the goal already: the proof goes right after it.
            used = coq_bullets_in_use(text, site.decl_start, site.start)
            lines = coq_lines(script, _coq_sentence, used)
            block = indent_block(lines, _column(before))
        else:
            lines = coq_lines(script, _coq_sentence)
            lines[0] = "{ " + lines[0]
            lines[-1] += " }"
            block = indent_block(lines, _column(before) + "  ")
        return text[: site.start] + block + text[site.end :]
    lines = coq_lines(script, _coq_sentence)
    if not lines:
        return text[: site.start] + "Qed." + text[site.end :]
    if alone:
        return text[: site.start] + _admitted_block(lines, indent, unit) + text[site.end :]
    if len(lines) == 1:
        return text[: site.start] + lines[0] + " Qed." + text[site.end :]
    body = "\n".join(indent + unit + line if line else line for line in lines)
    head = text[: site.start].rstrip(" \t")
    return head + "\n" + body + "\n" + indent + "Qed." + text[site.end :]


def _admitted_block(lines: list[str], indent: str, unit: str) -> str:
    """The proof's lines at ``indent`` + ``unit`` and ``Qed.`` at ``indent``, where
    ``Admitted.`` stood alone on its line (the text before it holds ``indent`` already)."""
    body = [indent + unit + line if line else line for line in lines]
    return "\n".join([*body, indent + "Qed."])[len(indent) :]


def _splice_lean(text: str, site: GoalSite, script: Script, unit: str) -> str:
    lines = lean_lines(script, _lean_tactic)
    if site.kind in ("by sorry", "term sorry"):
        hole_indent, _ = _line_indent(text, site.start)
        inner = hole_indent + unit
        block = "by\n" + "\n".join(inner + line if line else line for line in lines)
    else:
        block = indent_block(lines, _column(_before(text, site.start)))
    return text[: site.start] + block + text[site.end :]


def one_line(language: str, proof: Proof) -> str:
    """The proof on one line, for a ``Try this:`` suggestion: Coq's sentences with their bullets
    (Coq reads them the same on one line); Lean's tactics joined by ``;``, each goal's proof in
    ``(· …)``."""
    script = Script.of(proof)
    if language == "coq":
        return coq_one_line(script, _coq_sentence)
    return lean_one_line(script, _lean_tactic)


def disproof_lemma(site: GoalSite, proof: Proof) -> tuple[str, str] | None:
    """(name, source) of a lemma stating the negation of the site's declaration, with its proof,
    read from the declaration's header (Coq; a Lean ``example``: see ``insert_disproof``)."""
    script = Script.of(proof)
    name = f"aq_disproof_{site.theorem or 'goal'}"
    if site.language == "coq":
        statement = coq_negation(site.statement)
        if statement is None:
            return None
        body = "\n".join("  " + line if line else line
                         for line in coq_lines(script, _coq_sentence))
        return name, f"Lemma {name} : {statement}.\nProof.\n{body}\nQed.\n\n"
    statement = lean_negation(site.statement)
    if statement is None:
        return None
    universes = lean_universes(site.statement)
    return name, f"theorem {name}{universes} : {statement} := {_lean_by(script)}\n\n"


def _lean_by(script: Script) -> str:
    body = "\n".join("  " + line if line else line for line in lean_lines(script, _lean_tactic))
    return f"by\n{body}"


def lean_kernel_disproof(text: str, site: GoalSite, proof: Proof) -> tuple[str, str, int]:
    """(name, text, offset of the lemma) for a Lean disproof of a named declaration: right after
    it, in its scope, a theorem whose statement is ``_root_.Not`` of the declaration's own type
    (``type_of%`` of the constant, every binder explicit, section variables it uses included),
    then a theorem, proved by ``rfl`` alone, that the disproof's type is exactly that negation:
    a disproof that a section ``variable``/``include`` entered as a premise has a type of the
    form ``∀ h, ¬ …`` and does not compile."""
    script = Script.of(proof)
    name = f"aq_disproof_{site.theorem}"
    universes = lean_universes(site.statement)
    target = f"@_root_.{lean_probe.qualify(text, site.decl_start, site.theorem)}{universes}"
    negation = f"_root_.Not (type_of% {target})"
    lemma = (f"theorem {name}{universes} : {negation} := {_lean_by(script)}\n\n"
             f"theorem {name}_exact{universes} :\n"
             f"    @_root_.Eq Prop (type_of% @{name}{universes}) ({negation}) := _root_.rfl\n")
    at = declaration_end(text, site.decl_start)
    return name, text[:at] + "\n\n" + lemma + text[at:], at + 2


def insert_disproof(text: str, site: GoalSite, proof: Proof) -> tuple[str, str, int] | None:
    """(lemma name, text with the disproof lemma in, offset of the lemma), None when the
    negation cannot be stated.

    Coq: the lemma just before the site's declaration (the Coq prover judges a disproof from the
    kernel type itself, ``verify_disproof``). Lean, a named declaration:
    ``lean_kernel_disproof``. Lean, an ``example`` (no constant to take the type of): the
    negation of its header just before it, and only when no ``variable`` or ``include`` precedes
    it anywhere in the file (a section variable would be a premise the negation hides).
    """
    if site.language == "lean" and site.theorem:
        return lean_kernel_disproof(text, site, proof)
    if site.language == "lean" and lean_probe.declares_variables(text, site.decl_start):
        return None
    lemma = disproof_lemma(site, proof)
    if lemma is None:
        return None
    name, source = lemma
    return name, text[: site.decl_start] + source + text[site.decl_start :], site.decl_start


def verify(
    prover: Prover,
    path: Path,
    original: str,
    spliced: str,
    tactics: tuple[str, ...],
    decl_start: int,
    *,
    holes_closed: int = 1,
    avoid: frozenset[str] = frozenset(),
) -> Verdict:
    """Decide whether ``spliced`` (``original`` with ``tactics`` put in) is an honest proof.

    The one acceptance rule: every tactic passes the sanitizer; the file has exactly
    ``holes_closed`` holes fewer; the prover's kernel checks the whole file; and the declaration
    at ``decl_start`` of ``spliced``, by its fully qualified kernel name, rests on nothing the
    prover's allow-list refuses (``Prover.untrusted``).

    Args:
      prover: the kernel that re-checks the whole file.
      path: the file's path (for the prover's project context).
      original: the text before splicing.
      spliced: the text after splicing.
      tactics: the spliced tactics.
      decl_start: offset in ``spliced`` of the declaration the proof belongs to (for a
        disproof: of the inserted lemma).
      holes_closed: holes the splice closes (1 for a proof, 0 for a disproof lemma).
      avoid: names the declaration may not depend on (a prover that judges in one check).

    Returns:
      A Verdict; ``reason`` says what failed.
    """
    language = language_of(path)
    for tactic in tactics:
        reason = check_tactic(tactic, language)
        if reason is not None:
            return Verdict(False, f"tactic refused ({reason}): {tactic}", Refusal.TACTIC)
    before, after = locate(original, path), locate(spliced, path)
    if len(after) != len(before) - holes_closed:
        return Verdict(False, "the spliced proof leaves a hole open" if holes_closed
                       else "the disproof leaves a hole open", Refusal.HOLES)
    if isinstance(prover, Judging):
        return judged(prover.judge(path, spliced, decl_start, avoid=avoid))
    check = prover.check_file(path, spliced)
    if not check.ok:
        where = f" (line {check.line})" if check.line else ""
        return Verdict(False, f"the whole file does not check{where}: {check.message}",
                       Refusal.DOES_NOT_CHECK)
    try:
        bad = prover.untrusted(path, original, spliced, decl_start)
    except FileDoesNotCompile as e:
        return Verdict(False, f"its assumptions could not be checked: {e}", Refusal.RULE)
    if bad:
        return Verdict(False, f"rests on what the acceptance rule refuses: {', '.join(bad)}",
                       Refusal.RULE)
    return Verdict(True)


def verify_disproof(prover: Prover, path: Path, text: str, site: GoalSite,
                    tactics: tuple[str, ...], *,
                    avoid: frozenset[str] = frozenset()) -> Verdict | None:
    """The verdict on a disproof of ``site`` by ``tactics`` from a prover that states the
    negation itself (``Judging``: from the declaration's kernel type, after its sections close);
    None when the prover does not, and the disproof lemma of ``insert_disproof`` is verified."""
    if not isinstance(prover, Judging):
        return None
    language = language_of(path)
    for tactic in tactics:
        reason = check_tactic(tactic, language)
        if reason is not None:
            return Verdict(False, f"tactic refused ({reason}): {tactic}", Refusal.TACTIC)
    # Never an import line above the claim: it could change how the claim itself reads (a
    # notation, a scope, a name), and its negation with it, while the file the user keeps would
    # not have it. The lines the tactics need are loaded after the claim, before its negation.
    return judged(prover.judge(path, text, site.decl_start, negation=tactics, avoid=avoid,
                               imports=needed_imports(text, tactics, language)))


def judged(found: Acceptance) -> Verdict:
    """The Verdict of a ``Judging`` prover's Acceptance (messages as ``verify`` words them)."""
    if found.ok:
        return Verdict(True, assumes=found.assumes)
    if found.check is not None:
        where = f" (line {found.check.line})" if found.check.line else ""
        return Verdict(False, f"the whole file does not check{where}: {found.check.message}",
                       Refusal.DOES_NOT_CHECK)
    return Verdict(False, found.reason,
                   Refusal.DOES_NOT_CHECK if found.negation_fails else Refusal.RULE)


def unified_diff(path: Path, old: str, new: str) -> str:
    """A unified diff of the file's change, as ``diff -u`` would print it."""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"a/{path.name}", tofile=f"b/{path.name}",
        )
    )


def combine(text: str, proofs: Sequence[tuple[GoalSite, Proof]]) -> tuple[str, list[int]]:
    """``text`` with every proof spliced in (and the import lines they need, after the file's
    own imports), and each proof's declaration offset in the result.

    Splices go last site first, so earlier offsets stay valid; a declaration's offset moves by
    the growth of every splice before it, and by the added imports. Every proof takes the
    indentation of ``text``.
    """
    language = proofs[0][0].language if proofs else "coq"
    out, unit = text, file_indent_unit(text, language)
    for site, tactics in sorted(proofs, key=lambda p: p[0].start, reverse=True):
        out = splice(out, site, tactics, unit=unit)
    growth = [(site.start, len(splice(text, site, tactics, unit=unit)) - len(text))
              for site, tactics in proofs]
    language = proofs[0][0].language if proofs else ""
    used = [t for _, p in proofs for t in Script.of(p).tactics()]
    out, shift = add_imports(out, needed_imports(text, used, language))
    starts = [site.decl_start + shift + sum(g for at, g in growth if at < site.decl_start)
              for site, _ in proofs]
    return out, starts


def needed_imports(text: str, tactics: Iterable[str], language: str) -> tuple[str, ...]:
    """The import lines ``tactics`` need that the file ``text`` lacks (Coq: a CoqHammer,
    Interval or Gappa tactic, provers/coq/requires.py; Lean: none)."""
    return needed(tactics, text) if language == "coq" else ()


def add_imports(text: str, lines: tuple[str, ...]) -> tuple[str, int]:
    """``text`` with ``lines`` right after its own imports, and how far later offsets moved."""
    return requires_add(text, lines)
