"""The negation of a declaration's whole statement, for disproof: ¬ (∀ binders, statement)."""

from __future__ import annotations

import re

_OPEN = "([{⟨"
_CLOSE = ")]}⟩"


def split_header(header: str) -> tuple[str, str, str] | None:
    """Split ``Lemma name binders : type`` into (name, binders, type); None if it has no type."""
    m = re.match(r"\s*(?:@\[[^\]]*\]\s*)?(?:\w+\s+)*?(?:Lemma|Theorem|Fact|Remark|Corollary|"
                 r"Proposition|Example|theorem|lemma)\s+([^\s(\[{:]+)(.*)", header, re.DOTALL)
    if not m:
        return None
    name, rest = m.group(1), m.group(2)
    depth = 0
    for i, ch in enumerate(rest):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif ch == ":" and depth == 0 and rest[i + 1 : i + 2] not in ("=", ">"):
            return name, rest[:i].strip(), rest[i + 1 :].strip()
    return None


def coq_negation(header: str) -> str | None:
    """``~ (forall binders, type)`` for a Coq header ending in ``.``; None if it cannot be built."""
    parts = split_header(header.strip().removesuffix("."))
    if parts is None:
        return None
    _, binders, typ = parts
    body = f"forall {binders}, {typ}" if binders else typ
    return f"~ ({body})"


def lean_negation(header: str) -> str | None:
    """``¬ (∀ binders, type)`` for a Lean header (text before ``:=``)."""
    parts = split_header(header.strip())
    if parts is None:
        return None
    _, binders, typ = parts
    body = f"∀ {binders}, {typ}" if binders else typ
    return f"¬ ({body})"
