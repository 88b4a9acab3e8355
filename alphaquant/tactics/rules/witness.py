"""Counterexample candidates for disproof: instantiations of a universally quantified hypothesis.

After ``intro H`` on ``~ (forall binders, P)``, the search needs ``specialize (H w1 … wn)``. The
witnesses come from a small grid, never from the goal's answer: numbers (a bound the hypothesis
itself states, else 0, 1 or 100 — 2 for a
natural, which computes in unary), constant functions for function binders, and for a record
binder a value built by one of the file's constructors (``Definition int4_params … : QuantParams``)
with a positive first number, the grid's numbers after it, and its side conditions discharged by
``lra``/``lia``.

One more candidate sits at the statement's own boundary: a claim that some quantity stays below
``2 ^ 31`` is refuted, if at all, by values of that size. There the functions are constant at
the statement's largest power (``IZR (2 ^ 31)``), a record is built by the constructor with the
most numbers (a ``Record``'s own, whose natural fields then take the statement's exponent, 31),
and the other numbers are 1.
"""

from __future__ import annotations

import functools
import itertools
import re

from alphaquant.tactics.rules.statements import Binder, forall_parts, records, split_binders

NUMERIC = {"nat", "Z", "N", "R", "positive"}
SCOPES = {"nat": "%nat", "Z": "%Z", "N": "%N", "R": "%R", "positive": "%positive"}
NUMBERS = ("0", "1", "100")
# Computing with a unary natural is linear in it: a large grid value becomes a small one.
SMALL = {"nat": "2"}
EXTRA = ("0", "1")
BODIES = ("1", "0")
MAX_CANDIDATES = 12
# Coq keeps a natural literal above this abstract (``Nat.of_num_uint``): no grid value for a nat.
NAT_LITERAL_LIMIT = 5000
# A natural that computes in unary stays this small at the boundary.
BOUNDARY_NAT_LIMIT = 64
# The boundary candidate's weight relative to a grid candidate's.
BOUNDARY_WEIGHT = 1.25

@functools.lru_cache(maxsize=16)
def constructors(file_text: str) -> dict[str, list[tuple[str, list[Binder]]]]:
    """Definitions by the result type they build, then each record's own constructor with its
    fields as arguments: {type: [(name, arguments)]}."""
    found: dict[str, list[tuple[str, list[Binder]]]] = {}
    pattern = re.compile(r"^\s*Definition\s+([A-Za-z_][\w']*)((?:\s*\([^()]*\))*)\s*:\s*"
                         r"([A-Za-z_][\w']*)\s*:=", flags=re.MULTILINE)
    for m in pattern.finditer(file_text):
        found.setdefault(m.group(3), []).append((m.group(1), split_binders(m.group(2))))
    for typ, ctor, fields in records(file_text):
        found.setdefault(typ, []).append((ctor, fields))
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


Built = dict[str, list[tuple[str, list[Binder]]]]


def _positive(args: list[Binder]) -> set[str]:
    """The arguments a side condition ``0 < s`` among ``args`` asks to be positive."""
    return {m.group(1) for _, t in args
            for m in [re.fullmatch(r"\s*0\s*<\s*([A-Za-z_][\w']*)\s*", t)] if m}


def _record(ctor: str, args: list[Binder], extra: dict[str, str]) -> str:
    """``ctor`` applied to numbers (1 where a side condition wants it positive, else the
    ``extra`` value of the argument's type) and proofs of its side conditions."""
    values, chosen, first = [], {}, True
    positive = _positive(args)
    for arg_name, arg_type in args:
        if arg_type in NUMERIC:
            number = "1" if first or arg_name in positive else extra.get(arg_type, "0")
            chosen[arg_name] = (number, arg_type)
            values.append(number + SCOPES[arg_type])
            first = False
        else:
            values.append(_side_condition(arg_type, chosen))
    return f"({ctor} {' '.join(values)})" if values else ctor


def _function(typ: str, body: str) -> str | None:
    """A constant function of type ``typ`` with value ``body``; None if ``typ`` is none."""
    if "->" in typ and typ.split("->")[-1].strip() in NUMERIC:
        return "(fun " + " ".join("_" for _ in range(arrows(typ))) + f" => {body})"
    return None


def _value(name: str, typ: str, body: str, numbers: dict[str, str], extra: str,
           built: Built) -> str | None:
    typ = typ.strip()
    if typ in NUMERIC:
        return numbers.get(name, "1") + SCOPES[typ]
    function = _function(typ, body)
    if function is not None:
        return function
    if not built.get(typ):
        return None
    ctor, args = built[typ][0]
    return _record(ctor, args, dict.fromkeys(NUMERIC, extra))


def _boundary(body: str) -> tuple[str, str] | None:
    """The statement's largest power (``2 ^ 31``) and the largest small literal in it (31), or
    None if it states no power."""
    powers = re.findall(r"(?<![\w.])(\d+)\s*\^\s*(\d+)(?![\w.])", body)
    if not powers:
        return None
    base, exponent = max(powers, key=lambda p: int(p[0]) ** min(int(p[1]), 64))
    literals = [int(n) for n in re.findall(r"(?<![\w.])\d+(?![\w.])", body)]
    small = max((n for n in literals if n <= BOUNDARY_NAT_LIMIT), default=int(exponent))
    return f"{base} ^ {exponent}", str(small)


def _at_boundary(codomain: str, power: str, small: str) -> str:
    """A function's constant value at the boundary: the power, lifted to a real or scoped; a
    unary natural takes the small number instead (``2 ^ 31`` in unary never computes)."""
    if codomain == "R":
        return f"IZR ({power})"
    if codomain == "nat":
        return f"{small}%nat"
    return f"({power}){SCOPES.get(codomain, '')}"


def boundary_candidate(name: str, binders: list[Binder], body: str, built: Built) -> str | None:
    """``specialize`` at the statement's boundary (module docstring); None if it has none."""
    boundary = _boundary(body)
    if boundary is None:
        return None
    power, small = boundary
    values: list[str] = []
    for _, typ in binders:
        typ = typ.strip()
        value: str | None = None
        if typ in NUMERIC:
            value = "1" + SCOPES[typ]
        elif (function := _function(typ, _at_boundary(typ.split("->")[-1].strip(), power,
                                                      small))):
            value = function
        elif built.get(typ):
            ctor, args = max(built[typ], key=lambda c: sum(t in NUMERIC for _, t in c[1]))
            value = _record(ctor, args, {"nat": small, "N": small, "positive": small})
        if value is None:
            return None
        values.append(value)
    return f"specialize ({name} {' '.join(values)})."


def _bound(name: str, typ: str, body: str) -> str | None:
    """The largest value ``name`` may take by a bound the statement gives (``k <= 8192``), if
    it is a usable grid value: a natural that big would be kept abstract by Coq."""
    bound = re.search(rf"\b{re.escape(name)}\s*(<=|<|≤)\s*(\d+)\b(?!\s*[\^*/+.])", body)
    if not bound:
        return None
    value = int(bound.group(2)) - (bound.group(1) == "<")
    if typ.strip() == "nat" and value > NAT_LITERAL_LIMIT:
        return None
    return str(value)


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


def specialize_candidates(name: str, typ: str, file_text: str) -> list[tuple[str, float]]:
    """``specialize (name w1 … wn).`` for a grid of witnesses, each with its weight relative to
    the others (the boundary's is higher: its values are the statement's own); [] if some
    binder has none."""
    parts = forall_parts(typ)
    if parts is None:
        return []
    binders, body = parts
    built = constructors(file_text)
    out: list[str] = []
    boundary = boundary_candidate(name, binders, body, built)
    if boundary is not None:
        out.append(boundary)
    # The numbers vary fastest: the first witnesses span the range of values (0, 1, 100)
    # before a record's extra field or a function's body changes. Decision: a node grows only
    # its first few children (search/base.py max_children), and with the numbers varying
    # slowest its first four witnesses all took 0 or 1, where the refutation wanted 100.
    for extra, value, number in itertools.product(EXTRA, BODIES, NUMBERS):
        numbers = {}
        for b, t in binders:
            bound = _bound(b, t, body)
            if bound is not None:
                numbers[b] = bound
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
    return [(c, BOUNDARY_WEIGHT if c == boundary else 1.0) for c in out[:MAX_CANDIDATES]]


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
