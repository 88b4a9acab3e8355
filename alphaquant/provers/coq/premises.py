"""Premises from Coq's own library: `Search` in the live coqtop session, ranked by symbol overlap.

For a proof state, the constants of its conclusion and hypotheses (identifiers that are neither
hypotheses nor bound variables) are each looked up with ``Search c.`` in the session at that state,
so the answer reflects exactly what the file has loaded. The union of the answers is ranked by an
idf-weighted overlap of symbols (constants and notation operators such as ``<=`` or ``+``) with the
state, normalised by the lemma's own weight so that general lemmas do not drown specific ones
(Salton and Buckley 1988, "Term-weighting approaches in automatic text retrieval"). The file's and
project's own lemmas come first. Answers are cached per environment (the sentences before the
proof) and query; a name that is a hypothesis of the queried state never enters the cache.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from alphaquant.provers.base import Premise, ProofState

# Runs one query command at a state; the session's plain output, or None when Coq refused it.
Query = Callable[[ProofState, str], "str | None"]

IDENT = re.compile(r"[A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*")
OPERATORS = re.compile(r"<->|->|<=|>=|<>|\+\+|::|[-+*/^<>=~]|[^\x00-\x7f\w\s]+")
# A notation printed with a symbol of its own (``÷`` for Z.quot, ``⊆``): no identifier of the
# state names its constant, so `Search "÷"` looks it up (the constant the notation denotes).
NOTATION = re.compile(r"[^\x00-\x7f\w\s]+")
LOGIC = frozenset("∀ ∃ → ← ↔ ∧ ∨ ¬ λ ≠".split())  # Unicode.Utf8's logic, no constant
INFIX = frozenset("^ / ++ ::".split())  # operators rare enough to look up as notations
BINDERS = re.compile(r"\b(?:forall|fun|exists)\s+([^,]*?)(?:,|=>)")
ENTRY = re.compile(r"^([A-Za-z_][\w'.]*):\s", re.MULTILINE)
KEYWORDS = frozenset("""
    forall fun exists exists2 match with end if then else let in as return Prop Set Type SProp
    fix cofix struct is
""".split())
MAX_CONSTANTS = 10  # constants looked up per state
MAX_ANSWER = 400  # lemmas kept of one query (the rest of a very common constant says little)
MAX_RANKINGS = 64  # pools kept indexed per session (a few hundred kB each)


# One lemma as `Search` printed it, with its symbols.
@dataclass(frozen=True)
class Found:
    name: str
    statement: str
    symbols: frozenset[str]


@functools.lru_cache(maxsize=1 << 16)
def symbols(text: str) -> frozenset[str]:
    """Constants and notation operators of a Coq term as printed (remembered: a search meets
    the same statements at every state)."""
    return frozenset({*IDENT.findall(text), *OPERATORS.findall(text)} - KEYWORDS)


def local_names(state: ProofState) -> set[str]:
    """Hypothesis names and bound variables of the state's goals."""
    names: set[str] = set()
    for goal in state.goals:
        for line in goal.hypotheses:
            head, sep, typ = line.partition(" : ")
            if sep:
                names.update(n.strip() for n in head.split(","))
            for binders in BINDERS.findall(typ):
                names.update(IDENT.findall(binders))
        for binders in BINDERS.findall(goal.conclusion):
            names.update(IDENT.findall(binders))
    return names


def constants(state: ProofState) -> list[str]:
    """The identifiers of the state that may be global constants, conclusion's first."""
    local = local_names(state)
    seen: list[str] = []
    goal = state.goals[0] if state.goals else None
    if goal is None:
        return []
    # Types of variables (``x, y : R``, ``forall (l : list A)``) say little and answer most.
    typed: set[str] = set()
    for line in goal.hypotheses:
        typ = line.partition(" : ")[2]
        if not OPERATORS.search(typ):
            typed.update(IDENT.findall(typ))
    for text in (goal.conclusion, *goal.hypotheses):
        for binders in BINDERS.findall(text):
            typed.update(IDENT.findall(binders.partition(":")[2]))
            for part in re.findall(r":([^()]*)\)", binders):
                typed.update(IDENT.findall(part))
    texts = [goal.conclusion, *(line.partition(" : ")[2] for line in goal.hypotheses)]
    for text in texts:
        for name in IDENT.findall(text):
            if name not in local and name not in KEYWORDS and name not in seen:
                seen.append(name)
    specific = [n for n in seen if n not in typed]
    for text in texts:
        for symbol in NOTATION.findall(text):
            if symbol not in LOGIC and f'"{symbol}"' not in specific:
                specific.append(f'"{symbol}"')
    if len(specific) < 2:  # an infix operator says more than the variables' types do
        for op in OPERATORS.findall(goal.conclusion):
            if op in INFIX and f'"_ {op} _"' not in specific:
                specific.append(f'"_ {op} _"')
    if len(specific) < 2:
        specific += [n for n in seen if n in typed][: 2 - len(specific)]
    return specific[:MAX_CONSTANTS]


def parse_search(output: str) -> list[tuple[str, str]]:
    """(name, statement) of each entry of a `Search` answer; continuation lines are joined."""
    starts = list(ENTRY.finditer(output))
    if not starts:
        return []
    found = []
    for m, nxt in zip(starts, [*starts[1:], None], strict=True):
        body = output[m.end() : nxt.start() if nxt else len(output)]
        found.append((m.group(1), " ".join(body.split())))
    return found


@functools.lru_cache(maxsize=32768)
def conclusion(statement: str) -> str:
    """A statement's conclusion: after its leading binders and its last top-level arrow."""
    text = statement.strip()
    while True:
        m = re.match(r"forall\b", text)
        if m is None:
            break
        depth, cut = 0, -1
        for i, ch in enumerate(text):
            depth += ch in "([{"
            depth -= ch in ")]}"
            if ch == "," and depth == 0:
                cut = i
                break
        if cut < 0:
            break
        text = text[cut + 1 :].strip()
    return after_last_arrow(text)


def after_last_arrow(text: str) -> str:
    """What follows the last top-level ``->`` of ``text`` (all of it when there is none)."""
    depth, last = 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and text.startswith("->", i):
            last = i + 2
    return text[last:].strip()


def is_proposition(statement: str) -> bool:
    """False for what is plainly a function or a constructor (its conclusion one name that is
    not ``False``/``True``); `Search` with ``-is:Definition`` still lists those."""
    concl = conclusion(statement)
    return not IDENT.fullmatch(concl) or concl in ("False", "True")


@functools.lru_cache(maxsize=1 << 14)
def is_equation(statement: str) -> bool:
    """Whether a lemma concludes with an equation or an equivalence (it can rewrite): not an
    ``exists`` (its body is one) nor a conjunction or disjunction of equations (``=`` binds
    tighter than ``/\\``; ``<->`` looser)."""
    concl = conclusion(statement)
    whole = statement.strip()
    after_iff = whole[: len(whole) - len(concl)].rstrip().endswith("<->")  # the right side
    if not after_iff and re.match(r"(?:exists2?|forall|fun)\b", concl):
        return False
    depth, equation, connective = 0, False, False
    for i, ch in enumerate(concl):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth:
            continue
        if concl.startswith("<->", i):
            return True
        if concl.startswith(("/\\", "\\/"), i):
            connective = True
        elif ch == "=" and concl[i - 1 : i] not in ("<", ">", ":") and concl[i + 1 : i + 2] != ">":
            equation = True
    return equation and (after_iff or not connective)


class Ranking:
    """A pool of lemmas indexed for ranking: each symbol's idf and the lemmas that have it.
    Built once per pool (the pool of a set of looked-up constants recurs across a search's
    states); asked per state.

    Args:
      pool: candidate lemmas (deduplicated by name here).
    """

    def __init__(self, pool: Iterable[Found]) -> None:
        self.lemmas = list({f.name: f for f in pool}.values())
        postings: dict[str, list[int]] = {}
        for i, f in enumerate(self.lemmas):
            for sym in f.symbols:
                postings.setdefault(sym, []).append(i)
        n = len(self.lemmas)
        self.idf = {sym: math.log((n + 1) / (len(ids) + 1)) + 0.1 for sym, ids in postings.items()}
        self._postings = {sym: np.array(ids, dtype=np.intp) for sym, ids in postings.items()}
        weight = np.zeros(n)
        for sym, ids in self._postings.items():
            weight[ids] += self.idf[sym]
        self._norm = np.sqrt(weight + 1.0)
        self._named: dict[str, list[int]] = {}  # full and short name -> lemmas
        for i, f in enumerate(self.lemmas):
            for name in {f.name, f.name.split(".")[-1]}:
                self._named.setdefault(name, []).append(i)

    def top(self, state: ProofState, own: set[str], limit: int) -> tuple[Premise, ...]:
        """The ``limit`` lemmas that best fit ``state``, the project's own first: by
        Σ idf of shared symbols / √(Σ idf of the lemma's symbols + 1), ties by name."""
        if not self.lemmas or limit <= 0:
            return ()
        shared = np.zeros(len(self.lemmas))
        for sym in (symbols(state.text) - local_names(state)) & self.idf.keys():
            shared[self._postings[sym]] += self.idf[sym]
        # Rounded: sums over a set of symbols run in an order that changes from process to
        # process (string hashes), and a tie must break by name in every one of them.
        score = np.round(shared / self._norm, 9)
        fits = shared > 0
        local = np.zeros(len(self.lemmas), dtype=bool)
        for name in own:
            local[self._named.get(name, [])] = True
        chosen: list[int] = []
        for group in (fits & local, fits & ~local):
            ids = np.flatnonzero(group)
            room = limit - len(chosen)
            if room <= 0:
                break
            if len(ids) > room:  # the best ``room`` by score, with every tie at the cut
                cut = np.partition(score[ids], len(ids) - room)[len(ids) - room]
                ids = ids[score[ids] >= cut]
            best = sorted(ids.tolist(), key=lambda i: (-score[i], self.lemmas[i].name))
            chosen.extend(best[:room])
        return tuple(Premise(self.lemmas[i].name, self.lemmas[i].statement, float(score[i]),
                             bool(local[i])) for i in chosen)


def rank(
    state: ProofState, pool: Iterable[Found], own: set[str], limit: int
) -> tuple[Premise, ...]:
    """The ``limit`` lemmas of ``pool`` that best fit ``state``, the project's own first.

    Args:
      state: the proof state.
      pool: candidate lemmas (deduplicated by name here).
      own: names of the file's and project's own lemmas.
      limit: how many to keep.

    Returns:
      Premises by score: Σ idf of shared symbols / √(Σ idf of the lemma's symbols).
    """
    return Ranking(pool).top(state, own, limit)


_OWN = re.compile(
    r"^\s*(?:Lemma|Theorem|Fact|Remark|Corollary|Proposition)\s+([A-Za-z_][\w']*)", re.MULTILINE
)


def own_lemmas(sentences: Iterable[str]) -> set[str]:
    """Names of the lemmas stated in ``sentences`` (the file before the proof)."""
    return {m.group(1) for s in sentences for m in _OWN.finditer(s)}


class Retriever:
    """Premise retrieval for one prover session, with the per-environment answer cache."""

    def __init__(self, query: Query) -> None:
        self.query = query
        self._cache: dict[tuple[object, str, tuple[str, ...]], tuple[Found, ...] | None] = {}
        self._rankings: dict[tuple[object, tuple[str, ...], tuple[str, ...]], Ranking] = {}
        self.queries = 0  # commands actually sent (cache misses)
        self.ranked = 0  # states ranked (len(self._rankings) of them needed a new index)

    def premises(
        self, state: ProofState, limit: int, environment: object, own: set[str],
        outside: tuple[str, ...] = (),
    ) -> tuple[Premise, ...]:
        """Up to ``limit`` premises for ``state`` in ``environment`` (a hashable identity of
        the sentences before the proof), best first; none from the libraries ``outside``
        (those the session loaded and the file does not: a proof naming them would not
        compile in the file)."""
        beyond = f" outside {' '.join(outside)}" if outside else ""
        local = local_names(state)
        looked_up = tuple(constants(state))
        for constant in looked_up:
            key = (environment, constant, outside)
            if key not in self._cache:
                self.queries += 1
                output = self.query(state, f"Search {constant} -is:Definition{beyond}.")
                if output is None and IDENT.fullmatch(constant) and "." not in constant:
                    # no global reference of that name: an infix notation (``a mod b``)
                    output = self.query(state, f'Search "_ {constant} _" -is:Definition{beyond}.')
                if output is None:
                    self._cache[key] = None  # not a global reference here
                else:
                    self._cache[key] = tuple(
                        Found(name, statement, frozenset(symbols(statement)))
                        for name, statement in parse_search(output)[:MAX_ANSWER]
                        if name not in local and is_proposition(statement)
                    )
        index = (environment, tuple(sorted(looked_up)), outside)  # the pool, in any order
        ranking = self._rankings.get(index)
        if ranking is None:
            ranking = self._rankings[index] = Ranking(
                f for c in index[1] for f in self._cache[(environment, c, outside)] or ())
            if len(self._rankings) > MAX_RANKINGS:
                del self._rankings[next(iter(self._rankings))]  # the oldest
        self.ranked += 1
        return ranking.top(state, own, limit)


_DECLARATION = re.compile(
    r"\s*(?:#\[[^\]]*\]\s*)?(?:Local\s+|Global\s+)?(?:Lemma|Theorem|Fact|Remark|Corollary|"
    r"Proposition|Example|Goal|Definition|Fixpoint|Instance|Program)\b"
)
_CLOSED = re.compile(r"\s*(?:Qed|Defined|Admitted|Save|Abort)\b")


def environment(sentences: tuple[str, ...]) -> tuple[str, ...]:
    """The sentences before the last declaration (the one being proved): what `Search` sees,
    so goals of one file, or of files with the same imports, share retrieval answers."""
    last = max((i for i, s in enumerate(sentences) if _DECLARATION.match(s)), default=None)
    if last is None or any(_CLOSED.match(s) for s in sentences[last + 1 :]):
        return sentences  # no declaration open at the end (a negation is stated after them)
    return sentences[:last]
