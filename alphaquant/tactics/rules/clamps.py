"""Bounds of a clamped integer seen as a real: ``IZR (Z.max a (Z.min q b))`` lies in [a, b].

Quantized code clamps an integer code into a range and casts it back to a real. ``lia`` knows
``Z.max``/``Z.min`` but not reals; ``lra`` knows reals but takes ``IZR (…)`` as an unknown. One
step bridges them: ``pose proof (IZR_le _ _ (ltac:(lia) : (T <= b)%Z)).`` states the bound on
the real side, and ``lra`` goes on from there. The bounds are read off the term itself: a
minimum bounds from above by its second argument, a maximum from below by its first.
"""

from __future__ import annotations

import re

HEADS = ("Z.max", "Z.min")
# A bound lia can check as it stands: a number (possibly negated, in parentheses) or a name.
SIMPLE = re.compile(r"\(?\s*-?\s*\d+\s*\)?|[A-Za-z_][\w'.]*")


def _closing(text: str, start: int) -> int:
    """The index just after the parenthesis group opening at ``text[start] == "("``."""
    depth = 0
    for i in range(start, len(text)):
        depth += text[i] == "("
        depth -= text[i] == ")"
        if depth == 0:
            return i + 1
    return len(text)


def cast_arguments(text: str) -> list[str]:
    """The arguments of every ``IZR (…)`` in ``text``, in order, without repeats."""
    out: list[str] = []
    for m in re.finditer(r"\bIZR\s*\(", text):
        start = m.end() - 1
        inner = " ".join(text[start + 1:_closing(text, start) - 1].split())
        if inner not in out:
            out.append(inner)
    return out


def arguments(term: str) -> list[str]:
    """The top-level arguments of an application ``f a (b c) d`` → [a, (b c), d]."""
    out, i = [], 0
    while i < len(term):
        if term[i].isspace():
            i += 1
        elif term[i] == "(":
            end = _closing(term, i)
            out.append(term[i:end])
            i = end
        else:
            end = i
            while end < len(term) and not term[end].isspace() and term[end] != "(":
                end += 1
            out.append(term[i:end])
            i = end
    return out


def _unwrap(term: str) -> str:
    term = term.strip()
    while term.startswith("(") and _closing(term, 0) == len(term):
        term = term[1:-1].strip()
    return term


def bounds(term: str) -> tuple[str | None, str | None]:
    """(lower, upper) bounds of a clamp ``term`` read off its minima and maxima."""
    parts = arguments(_unwrap(term))
    if len(parts) != 3 or parts[0] not in HEADS:
        return None, None
    head, first, second = parts
    if head == "Z.max":
        return first, bounds(second)[1] or bounds(first)[1]
    return bounds(first)[0] or bounds(second)[0], second


def candidates(text: str) -> list[str]:
    """One step per bound of every clamped integer cast to a real in ``text``, unless ``text``
    states that bound already (``IZR (T) <= IZR b``)."""
    out = []
    flat = " ".join(text.split())
    for term in cast_arguments(text):
        lower, upper = bounds(term)
        pairs = [(term, upper)] if upper is not None else []
        pairs += [(lower, term)] if lower is not None else []
        for small, large in pairs:
            bound = large if small == term else small
            if not SIMPLE.fullmatch(bound.strip()) or _stated(flat, small, large):
                continue
            out.append(f"pose proof (IZR_le _ _ (ltac:(lia) : ({small} <= {large})%Z)).")
    return out


def _stated(text: str, small: str, large: str) -> bool:
    """Whether ``text`` already says ``IZR small <= IZR large`` (with or without parentheses)."""
    forms = [(f"({x})", x.strip("()")) for x in (small, large)]
    return any(f"IZR {a} <= IZR {b}" in text for a in forms[0] for b in forms[1])
