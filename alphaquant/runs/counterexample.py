"""What a disproof disproves: the negated statement, and the values its proof gave the binders.

A disproof of ``forall x y, P x y`` proves ``~ (forall x y, P x y)``, typically by ``intro H``
and ``specialize (H v w)``: the counterexample is x = v, y = w. The values are read from the
proof's tactics (Coq's ``specialize (H …)`` of the introduced hypothesis), matched to the
statement's binders in order; arguments that prove side conditions (``ltac:(…)``, ``_``) are
not values.
"""

from __future__ import annotations

import re
from typing import Any

from alphaquant.provers.negation import coq_negation, lean_negation, split_header
from alphaquant.sites.site import GoalSite
from alphaquant.tactics.rules.statements import forall_parts, split_binders


def describe_disproof(site: GoalSite, tactics: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``{"negation": …, "counterexample": {binder: value}}`` for the GoalResult of a disproof
    of the goal at ``site`` by ``tactics``: the negation on one line, and an empty dict of values
    when none can be read (Lean's are not read yet)."""
    if site.language == "lean":
        negation, values = lean_negation(site.statement, display=True) or "", {}
    else:
        negation = coq_negation(site.statement, display=True) or ""
        values = coq_values(site.statement, tactics)
    return {"negation": " ".join(negation.split()), "counterexample": values}


def coq_binders(header: str) -> list[str]:
    """The names a Coq statement quantifies over, in order: the header's binders, then the
    leading ``forall``s of its type (through ``->`` premises, which bind nothing)."""
    parts = split_header(header.strip().removesuffix("."))
    if parts is None:
        return []
    _, binders, typ = parts
    names = [n for n, _ in split_binders(binders)] if binders else []
    while (found := forall_parts(typ)) is not None:
        group, typ = found
        names += [n for n, _ in group]
    return names


def top_level_args(text: str) -> list[str]:
    """``f (g x) y`` → [f, (g x), y]: space-separated terms outside brackets."""
    args, depth, current = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch.isspace() and depth == 0:
            if current:
                args.append(current)
            current = ""
            continue
        current += ch
    if current:
        args.append(current)
    return args


_INTRO = re.compile(r"^\s*intros?\s+(\w+)\s*\.\s*$")
_SPECIALIZE = re.compile(r"^\s*specialize\s*\((.*)\)\s*(?:as\s+\w+\s*)?\.\s*$", re.DOTALL)


def coq_values(header: str, tactics: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Binder → value, from the disproof's ``specialize (H v …)`` of the introduced negation
    hypothesis, in binder order."""
    names = coq_binders(header)
    values: dict[str, str] = {}
    hypothesis = None
    for tactic in tactics:
        if hypothesis is None and (m := _INTRO.match(tactic)):
            hypothesis = m.group(1)
            continue
        args: list[str] = []
        if hypothesis and (m := _SPECIALIZE.match(tactic)):
            terms = top_level_args(m.group(1))
            if terms and terms[0] == hypothesis:
                args = terms[1:]
        for arg in args:
            if len(values) >= len(names):
                return values
            if arg.startswith("ltac:") or arg == "_":
                break  # a side condition's proof: the binders are all given
            values[names[len(values)]] = _unscoped(arg)
    return values


def _unscoped(term: str) -> str:
    """``0%nat`` → ``0``; ``(fun _ _ => 1)`` → ``fun _ _ => 1``."""
    term = re.sub(r"%\w+$", "", term)
    if term.startswith("(") and term.endswith(")") and _balanced(term[1:-1]):
        term = term[1:-1]
    return term


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0
