"""Counterexample candidates for disproof: instantiations of a universally quantified hypothesis.

After ``intro H`` on ``~ (forall binders, P)``, the search needs ``specialize (H w1 … wn)``. The
witnesses come from a small grid, never from the goal's answer: numbers (a bound the hypothesis
itself states, else 1, 100 or 0), constant functions for function binders, and for a record
binder a value built by one of the file's constructors (``Definition int4_params … : QuantParams``)
with a positive first number, the grid's numbers after it, and its side conditions discharged by
``lra``/``lia``.
"""

from __future__ import annotations

import itertools
import re

NUMERIC = {"nat", "Z", "N", "R", "positive"}
SCOPES = {"nat": "%nat", "Z": "%Z", "N": "%N", "R": "%R", "positive": "%positive"}
NUMBERS = ("1", "100", "0")
EXTRA = ("0", "1")
BODIES = ("1", "0")
MAX_CANDIDATES = 12

Binder = tuple[str, str]  # (name, type; "" when the binder carries no type)


def split_binders(text: str) -> list[Binder]:
    """``(a b : T) (c : U) d`` → [(a, T), (b, T), (c, U), (d, "")]."""
    binders: list[Binder] = []
    depth, start, groups = 0, 0, []
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                groups.append(text[start:i])
    if not groups:
        names, _, typ = text.partition(":")
        return [(n, typ.strip()) for n in names.split()]
    for group in groups:
        names, _, typ = group.partition(":")
        binders.extend((n, typ.strip()) for n in names.split())
    return binders


def forall_parts(typ: str) -> tuple[list[Binder], str] | None:
    """``forall binders, body`` → (binders, body); None if ``typ`` is not a forall."""
    m = re.match(r"\s*forall\s+(.*?),\s*(.*)", typ, flags=re.DOTALL)
    if not m:
        return None
    return split_binders(m.group(1)), m.group(2)


def constructors(file_text: str) -> dict[str, list[tuple[str, list[Binder]]]]:
    """Definitions by the result type they build: {type: [(name, arguments)]}."""
    found: dict[str, list[tuple[str, list[Binder]]]] = {}
    pattern = re.compile(r"^\s*Definition\s+([A-Za-z_][\w']*)((?:\s*\([^()]*\))*)\s*:\s*"
                         r"([A-Za-z_][\w']*)\s*:=", flags=re.MULTILINE)
    for m in pattern.finditer(file_text):
        found.setdefault(m.group(3), []).append((m.group(1), split_binders(m.group(2))))
    return found


def _arrows(typ: str) -> int:
    depth, count = 0, 0
    for i, ch in enumerate(typ):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and typ.startswith("->", i):
            count += 1
    return count


def _value(name: str, typ: str, body: str, numbers: dict[str, str], extra: str,
           built: dict[str, list[tuple[str, list[Binder]]]]) -> str | None:
    typ = typ.strip()
    if typ in NUMERIC:
        return numbers.get(name, "1") + SCOPES[typ]
    if "->" in typ and typ.split("->")[-1].strip() in NUMERIC:
        return "(fun " + " ".join("_" for _ in range(_arrows(typ))) + f" => {body})"
    for ctor, args in built.get(typ, []):
        values, first = [], True
        for _, arg_type in args:
            if arg_type in NUMERIC:
                values.append(("1" if first else extra) + SCOPES[arg_type])
                first = False
            else:
                values.append("ltac:(first [lra | lia])")
        return f"({ctor} {' '.join(values)})" if values else ctor
    return None


def specialize_candidates(name: str, typ: str, file_text: str) -> list[str]:
    """``specialize (name w1 … wn).`` for a grid of witnesses; [] if some binder has none."""
    parts = forall_parts(typ)
    if parts is None:
        return []
    binders, body = parts
    built = constructors(file_text)
    out: list[str] = []
    for number, extra, value in itertools.product(NUMBERS, EXTRA, BODIES):
        numbers = {}
        for b, _ in binders:
            bound = re.search(rf"\b{re.escape(b)}\s*(<=|<|≤)\s*(\d+)", body)
            if bound:
                numbers[b] = str(int(bound.group(2)) - (bound.group(1) == "<"))
            else:
                numbers[b] = number
        values = [_value(b, t, value, numbers, extra, built) for b, t in binders]
        if any(v is None for v in values):
            return []
        candidate = f"specialize ({name} {' '.join(v for v in values if v)})."
        if candidate not in out:
            out.append(candidate)
    return out[:MAX_CANDIDATES]


def premise_candidate(name: str, typ: str) -> str | None:
    """Discharge the first premise of ``name : P -> Q`` by automation, if it has one."""
    if typ.lstrip().startswith("forall") or _arrows(typ) == 0:
        return None
    return f"specialize ({name} ltac:(intros; simpl; first [lra | lia | apply Rabs_le; lra]))."
