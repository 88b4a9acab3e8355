"""Counterexample candidates for disproof: instantiations of a universally quantified hypothesis.

After ``intro H`` on ``~ (forall binders, P)``, the search needs ``specialize (H w1 … wn)``. The
witnesses come from a small grid, never from the goal's answer: numbers (a bound the hypothesis
itself states, else 0, 1 or 100 — 2 for a
natural, which computes in unary), constant functions for function binders, and for a record
binder a value built by one of the file's constructors (``Definition int4_params … : QuantParams``)
with a positive first number, the grid's numbers after it, and its side conditions discharged by
``lra``/``lia``.
"""

from __future__ import annotations

import itertools
import re

NUMERIC = {"nat", "Z", "N", "R", "positive"}
SCOPES = {"nat": "%nat", "Z": "%Z", "N": "%N", "R": "%R", "positive": "%positive"}
NUMBERS = ("0", "1", "100")
# Computing with a unary natural is linear in it: a large grid value becomes a small one.
SMALL = {"nat": "2"}
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


def arrows(typ: str) -> int:
    """How many top-level arrows ``typ`` has (outside parentheses)."""
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
        return "(fun " + " ".join("_" for _ in range(arrows(typ))) + f" => {body})"
    for ctor, args in built.get(typ, []):
        values, chosen, first = [], {}, True
        for arg_name, arg_type in args:
            if arg_type in NUMERIC:
                chosen[arg_name] = ("1" if first else extra, arg_type)
                values.append(chosen[arg_name][0] + SCOPES[arg_type])
                first = False
            else:
                values.append(_side_condition(arg_type, chosen))
        return f"({ctor} {' '.join(values)})" if values else ctor
    return None


# Small standard facts that discharge a side condition once its variable is 1, by type.
ONE_FACTS = {("<", "R"): "Rlt_0_1", ("<=", "R"): "Rle_0_1", ("<", "nat"): "Nat.lt_0_1",
             ("<=", "nat"): "Nat.le_0_1", ("<", "Z"): "Z.lt_0_1", ("<=", "Z"): "Z.le_0_1"}


def _side_condition(condition: str, chosen: dict[str, tuple[str, str]]) -> str:
    """A proof of a constructor's side condition ``0 < s`` for the chosen arguments."""
    m = re.fullmatch(r"\s*0\s*(<=|<)\s*([A-Za-z_][\w']*)\s*", condition)
    if m and m.group(2) in chosen and chosen[m.group(2)][0] == "1":
        fact = ONE_FACTS.get((m.group(1), chosen[m.group(2)][1]))
        if fact:
            return fact
    return "ltac:(first [lra | lia])"


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
        for b, t in binders:
            bound = re.search(rf"\b{re.escape(b)}\s*(<=|<|≤)\s*(\d+)", body)
            if bound:
                numbers[b] = str(int(bound.group(2)) - (bound.group(1) == "<"))
            elif int(number) > 2:
                numbers[b] = SMALL.get(t.strip(), number)
            else:
                numbers[b] = number
        values = [_value(b, t, value, numbers, extra, built) for b, t in binders]
        if any(v is None for v in values):
            return []
        candidate = f"specialize ({name} {' '.join(v for v in values if v)})."
        if candidate not in out:
            out.append(candidate)
    return out[:MAX_CANDIDATES]


def _is_function_type(typ: str) -> bool:
    """Whether ``typ`` is a function between types (``X -> X -> R``), not an implication
    between propositions: every part between its arrows is a bare name or an applied type
    with no relation in it."""
    parts = [p.strip().strip("()") for p in typ.split("->")]
    return all(re.fullmatch(r"[A-Za-z_][\w'.]*(?:\s+[A-Za-z_][\w'.]*)*", p) for p in parts)


def premise_candidate(name: str, typ: str) -> str | None:
    """Discharge the first premise of ``name : P -> Q`` by automation, if it has one."""
    if typ.lstrip().startswith("forall") or arrows(typ) == 0 or _is_function_type(typ):
        return None
    return f"specialize ({name} ltac:(intros; simpl; first [lra | lia | apply Rabs_le; lra]))."
