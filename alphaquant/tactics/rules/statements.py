"""Statements and goals read as text: hypothesis and definition names, the file's lemmas (proved
or not), a proposition's conclusion, head symbol and relation, its skeleton, and the predicates
a file defines. What the goal-aware rules (goal_rules.py) and the heuristic source's filter read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Set

from alphaquant.provers.base import Subgoal
from alphaquant.provers.coq.premises import BINDERS, KEYWORDS, after_last_arrow

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
QUALIFIED = re.compile(r"[A-Za-z_][A-Za-z0-9_']*(?:\.[A-Za-z_][A-Za-z0-9_']*)*")


def hypothesis_names(goal: Subgoal) -> Iterator[tuple[str, str]]:
    """(name, type) for each hypothesis line ``a, b : T`` (Coq) or ``a b : T`` (Lean)."""
    for line in goal.hypotheses:
        names, sep, typ = line.partition(" : ")
        if not sep:
            continue
        for name in re.split(r"[,\s]+", names.strip()):
            if IDENT.fullmatch(name):
                yield name, typ.strip()


@functools.lru_cache(maxsize=16)
def defined_names(file_text: str, language: str) -> frozenset[str]:
    """Names of definitions in the file (Coq Definition/Fixpoint, Lean def/abbrev)."""
    if language == "coq":
        pattern = r"^\s*(?:Definition|Fixpoint|Let|Function|Notation)\s+([A-Za-z_][\w']*)"
    else:
        pattern = r"^\s*(?:noncomputable\s+|private\s+)*(?:def|abbrev)\s+([A-Za-z_][\w'.]*)"
    return frozenset(re.findall(pattern, file_text, flags=re.MULTILINE))


_COQ_LEMMA = re.compile(
    r"^\s*(?:Lemma|Theorem|Fact|Remark|Corollary|Proposition)\s+([A-Za-z_][\w']*)(.*?)"
    r"(?=^\s*Proof\b)(.*?)\b(Qed|Defined|Admitted|Abort)\.",
    flags=re.MULTILINE | re.DOTALL,
)


_COQ_AXIOM = re.compile(r"^\s*(?:Axiom|Conjecture)\s+([A-Za-z_][\w']*)", flags=re.MULTILINE)


@functools.lru_cache(maxsize=16)
def proved_lemmas(file_text: str) -> tuple[tuple[str, str], ...]:
    """Coq lemmas of the text closed with Qed/Defined: (name, statement)."""
    return tuple((m.group(1), m.group(2)) for m in _COQ_LEMMA.finditer(file_text)
                 if m.group(4) in ("Qed", "Defined"))


@functools.lru_cache(maxsize=16)
def unproved_names(file_text: str) -> frozenset[str]:
    """Coq declarations of the text a proof may not rest on: lemmas closed with Admitted (the
    open goals themselves among them) and axioms. A candidate naming one would only be refused
    by the acceptance rule at the end, after the search spent its visits below it."""
    admitted = {m.group(1) for m in _COQ_LEMMA.finditer(file_text) if m.group(4) == "Admitted"}
    return frozenset(admitted | set(_COQ_AXIOM.findall(file_text)))


def names_any(tactic: str, names: Set[str]) -> bool:
    """Whether ``tactic`` mentions one of ``names``, bare or qualified (``M.name``)."""
    return not names.isdisjoint(_mentioned(tactic))


@functools.lru_cache(maxsize=1 << 14)
def _mentioned(tactic: str) -> frozenset[str]:
    return frozenset(token.rsplit(".", 1)[-1]
                     for token in re.findall(r"[A-Za-z_](?:[\w'.]*[\w'])?", tactic))


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


@functools.lru_cache(maxsize=1 << 14)
def unfixed_binders(statement: str) -> frozenset[str]:
    """The variables of a lemma that applying it to a goal leaves unknown: bound by its leading
    ``forall``, absent from its conclusion and from the types of the variables that are there
    (``b``, ``E``, ``e`` of ``forall X dist a b c E e B, … -> dist a c <= B``; ``X`` is fixed
    through ``dist``'s type). ``apply`` of such a lemma fails; ``eapply`` leaves them open."""
    parts = forall_parts(re.sub(r"^\s*:\s*", "", statement.strip()))
    if parts is None:
        return frozenset()
    binders, body = parts
    named = set(IDENT.findall(after_last_arrow(body.strip().rstrip(". \n"))))
    typed = {n for name, typ in binders if name in named for n in IDENT.findall(typ)}
    return frozenset(name for name, _ in binders if name not in named | typed)


@functools.lru_cache(maxsize=1 << 14)
def side_conditions(statement: str) -> tuple[tuple[str, ...], tuple[Binder, ...]]:
    """The premises of a lemma statement (what its top-level arrows lead from) and its leading
    binders: ``forall x p, A -> B -> C`` → ([A, B], [(x, …), (p, …)])."""
    text = re.sub(r"^\s*:\s*", "", statement.strip()).rstrip(". \n")
    parts = forall_parts(text)
    binders, body = parts if parts is not None else ([], text)
    pieces, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and body.startswith("->", i):
            pieces.append(body[start:i].strip())
            start = i + 2
    return tuple(pieces), tuple(binders)


def unmet_conditions(statement: str, facts: list[str]) -> int:
    """How many premises of a lemma no fact in sight has the shape of (head symbol and
    relation: ``IZR hi <= x`` against facts ``Rabs (f i) <= 1``): a premise headed by one of
    the lemma's own variables (``(a <= q <= b)%Z``), by nothing (``0 < s``) or by a universal
    statement is not counted, it may be met by anything."""
    premises, binders = side_conditions(statement)
    own = {name for name, _ in binders}
    shapes = _shapes(tuple(facts))
    unmet = 0
    for premise in premises:
        if premise.lstrip("( ").startswith("forall"):
            continue
        shape = conclusion_shape(premise)
        if shape[0] and shape[0] not in own and shape not in shapes:
            unmet += 1
    return unmet


@functools.lru_cache(maxsize=256)
def _shapes(facts: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """The (head, relation) shapes of the facts' conclusions: read once per state, not once
    per lemma asked about."""
    return frozenset(conclusion_shape(lemma_conclusion(f)) for f in facts)


def rewrite_head(statement: str) -> str | None:
    """The head symbol of an equation lemma's left side (``clip`` in ``… -> clip x p = hi p``),
    or None if the lemma is not an equation."""
    conclusion = re.split(r"->", statement)[-1]
    conclusion = re.sub(r"^\s*:?\s*(?:forall\b[^,]*,)?", "", conclusion)
    m = re.match(r"\s*\(?\s*([A-Za-z_][\w'.]*[\w'])[^=<>]*(?<![<>])=(?!>)", conclusion)
    return m.group(1) if m else None


@functools.lru_cache(maxsize=32768)
def lemma_conclusion(statement: str) -> str:
    """The conclusion of a lemma statement: after its binders and its last top-level arrow."""
    text = re.sub(r"^\s*:?\s*(?:forall\b[^,]*,)?", "", statement.strip()).rstrip(". \n")
    return after_last_arrow(text)


def conclusion_shape(text: str) -> tuple[str, str]:
    """(head symbol, relation) of a proposition: ``Rabs (…) <= s / 2`` → ("Rabs", "<=")."""
    text = re.sub(r"^[\s(]+", "", text)
    head = QUALIFIED.match(text)
    relation = re.search(r"<->|<=|>=|<>|(?<![<>=-])[<>](?![=>-])|(?<![<>:])=(?!>)", text)
    return (head.group(0) if head else "", relation.group(0) if relation else "")


def skeleton(proposition: str) -> str:
    """A proposition without its binders, with its numbers and existential variables as ``_``:
    ``forall l : nat, (?lo <= qa l <= ?hi)%Z`` and ``forall m, (-128 <= qa m <= 127)%Z`` do
    not yet compare (their bound names differ), ``(?lo <= qa l <= ?hi)%Z`` and ``(-128 <= qa
    l <= 127)%Z`` do."""
    text = lemma_conclusion(" ".join(proposition.split()))
    text = re.sub(r"\?[A-Za-z_][\w']*|-?\b\d+(?:\.\d+)?\b", "_", text)
    return re.sub(r"\s+", " ", text).strip()


def sides(proposition: str) -> tuple[str, str, str]:
    """(left side, relation, right side) at the first top-level comparison, or (text, "", "")."""
    depth = 0
    for i, ch in enumerate(proposition):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            m = re.match(r"<=|>=|<>|<(?![-=])|>|(?<![<>:])=(?![>?])", proposition[i:])
            if m and proposition[max(0, i - 1):i] not in ("-", "<"):
                return proposition[:i], m.group(0), proposition[i + m.end():]
    return proposition, "", ""


Body = tuple[frozenset[str], str]  # (parameter names, body)


@functools.lru_cache(maxsize=16)
def _definitions(file_text: str) -> dict[str, tuple[frozenset[str], str, str]]:
    """Every Coq ``Definition f (x : A) (p : P) : T := body.`` of the text: {name: (parameter
    names, type as written or "", body)}."""
    pattern = re.compile(r"^\s*Definition\s+([A-Za-z_][\w']*)((?:\s*\([^()]*\))*)\s*"
                         r"(?::((?:(?!:=).)*?))?:=(.*?)\.\s*$", flags=re.MULTILINE | re.DOTALL)
    found = {}
    for m in pattern.finditer(file_text):
        params = {n for group in re.findall(r"\(([^():]*):", m.group(2)) for n in group.split()}
        found[m.group(1)] = (frozenset(params), (m.group(3) or "").strip(), m.group(4))
    return found


def definition_bodies(file_text: str) -> dict[str, Body]:
    """Every Coq definition of the text, whatever its type: {name: (parameter names, body)}."""
    return {name: (params, body) for name, (params, _, body) in _definitions(file_text).items()}


def predicate_bodies(file_text: str) -> dict[str, Body]:
    """Coq predicates the file defines, ``Definition in_range (x : R) (p : P) : Prop := body``:
    {name: (parameter names, body)}."""
    return {name: (params, body) for name, (params, typ, body) in _definitions(file_text).items()
            if typ == "Prop"}


def bound_names(text: str) -> set[str]:
    """The variables ``forall``, ``fun`` and ``exists`` bind in ``text``."""
    return {n for group in BINDERS.findall(text) for n in IDENT.findall(group)}


def unfolded_symbols(name: str, bodies: dict[str, Body], depth: int = 3) -> frozenset[str]:
    """The constants that unfolding ``name`` shows, through the definitions its body names in
    turn (``depth`` levels): its parameters and bound variables excluded."""
    if name not in bodies or depth == 0:
        return frozenset()
    params, body = bodies[name]
    own = set(params) | bound_names(body)
    shown = set(QUALIFIED.findall(re.sub(r"%\w+", "", body))) - own - KEYWORDS
    for inner in shown & bodies.keys():
        shown |= unfolded_symbols(inner, bodies, depth - 1)
    return frozenset(shown)


@functools.lru_cache(maxsize=4096)
def conclusion_symbols(statement: str) -> frozenset[str]:
    """The constants of a lemma's conclusion: its qualified names that are not its variables
    (``Rabs``, ``IZR``, ``Rround`` of ``forall x z s : R, 0 < s -> Rabs (x - (IZR (Rround ((x -
    z) / s)) * s + z)) <= s / 2``)."""
    own = bound_names(statement) | {n for group in re.findall(r"\(([\w' ]+):", statement)
                                    for n in group.split()}
    conclusion = re.sub(r"%\w+", "", lemma_conclusion(statement))
    return frozenset(set(QUALIFIED.findall(conclusion)) - own - KEYWORDS)


def unfolds_to(body: tuple[set[str], str], goal_text: str) -> bool:
    """Whether a predicate's body is the goal with its parameters instantiated: the same
    relations, and the body's other symbols, in order, among the goal's."""
    params, text = body
    text, goal_text = (re.sub(r"%\w+", "", t) for t in (text, goal_text))  # scopes: no symbols
    relations = re.compile(r"<=|>=|<(?!-)|>|(?<![<>:])=(?!>)")
    if relations.findall(text) != relations.findall(goal_text):
        return False
    wanted = [s for s in IDENT.findall(text) if s not in params]
    found = iter(IDENT.findall(goal_text))
    return bool(wanted) and all(any(s == g for g in found) for s in wanted)


@functools.lru_cache(maxsize=16)
def records(file_text: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The file's records: (type, constructor, [(field, type)]); an unnamed constructor is
    Coq's ``Build_<type>``."""
    pattern = re.compile(r"^\s*Record\s+([A-Za-z_][\w']*)[^{]*?:=\s*([A-Za-z_][\w']*)?\s*"
                         r"\{([^{}]*)\}", flags=re.MULTILINE)
    found = []
    for m in pattern.finditer(file_text):
        fields = [f.partition(":") for f in m.group(3).split(";") if ":" in f]
        found.append((m.group(1), m.group(2) or f"Build_{m.group(1)}",
                      [(name.strip(), " ".join(typ.split())) for name, _, typ in fields]))
    return found


def proof_fields(file_text: str) -> list[tuple[str, str]]:
    """Record fields that are proofs (``scale_pos : 0 < scale``): (field, statement)."""
    return [(field, typ) for _, _, fields in records(file_text) for field, typ in fields
            if re.search(r"<|>|=", typ)]
