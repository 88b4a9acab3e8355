"""Strong automation and library premises as candidates, each heavy one with its own time limit.

Coq only (Lean's counterparts are in configs/tactics/lean.toml). Three kinds:

- CoqHammer (Debian ``libcoq-hammer``): the search session loads it whether or not the file
  imports it (provers/coq/requires.py). ``hammer`` (with an external prover on PATH: eprover,
  vampire, z3, cvc4) finds premises; the Coq backend turns what it found into steps the file's
  own imports compile (``eauto using …``, rewriting then ``lia``), else hands back the
  reconstruction (``hfcrush use: …``), so a written proof never needs the external provers.
  ``sauto``/``hauto``/``qauto`` and a reconstruction need ``From Hammer Require Import
  Tactics.`` in the written file: the run adds that one line and says so, unless new imports
  are refused (``--no-new-imports``), in which case they are not offered (``hammer`` still is,
  for its premises).
- The domain's automation where the goal's shape fits (``domain``): ``interval``, ``gappa``,
  ``field_simplify; nra``, each with its own limit; imports as for CoqHammer.
- Structural tactics chosen from the goal's text: case analysis on the scrutinee of each
  ``if``/``match`` it shows (after unfolding, ``if Rle_dec a b then …`` gives
  ``destruct (Rle_dec a b)``), ``induction x; simpl`` on each variable that is not a real, a
  proposition or a function, ``discriminate``/``injection``/``inversion`` on equations between
  constructor terms, ``f_equal`` on an equation of two applications of one head.
- Premises retrieved from the prover's library (``ProposalRequest.premises``), ranked there:
  ``apply L``, ``eapply L``, ``exact L``, ``rewrite L``, ``rewrite <- L``, ``apply L in H``; and
  ``hauto use: L1, L2, L3`` when CoqHammer is loaded.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from alphaquant.provers.base import Premise, ProofState
from alphaquant.provers.coq.hammer import loaded_modules
from alphaquant.provers.coq.premises import BINDERS, conclusion, is_equation, symbols
from alphaquant.provers.coq.requires import (
    GAPPA,
    HAMMER,
    INTERVAL,
    installed,
    provides,
    session_loads,
)
from alphaquant.tactics.rules.statements import unfixed_binders, unmet_conditions

# One candidate: tactic text, weight, its own time limit (None: the search's).
Proposal = tuple[str, float, "float | None"]

ATPS = ("eprover", "vampire", "z3", "cvc4", "z3_tptp")
RECONSTRUCTION_SECONDS = 6.0  # sauto / hauto / qauto
HAMMER_SECONDS = 20.0  # hammer: premise selection, the ATPs, then reconstruction
DOMAIN_SECONDS = 4.0  # interval, gappa, nra after field_simplify
NOT_INDUCTIVE = frozenset({"R", "Prop", "Type", "Set", "SProp"})
IDENT = re.compile(r"[A-Za-z_][\w']*")
INSTALL = "apt-get install -y libcoq-hammer eprover z3 cvc4 (or `make install`)"

log = logging.getLogger(__name__)


@functools.cache
def atps() -> tuple[str, ...]:
    """The external provers CoqHammer's ``hammer`` can call, found on PATH."""
    return tuple(a for a in ATPS if shutil.which(a))


def hammer_library() -> Path | None:
    """Where CoqHammer's compiled library is, or None."""
    return installed(HAMMER)


@functools.cache
def _say_once(message: str) -> None:
    log.info(message)


def hammer_level(file_text: str, new_imports: bool = True) -> str:
    """What of CoqHammer the search itself offers, by what the file imports (its session loads
    no more: CoqHammer's load slows every `Search` and widens what retrieval finds):
    "hammer" (``hammer`` and sauto/hauto/qauto), "tactics" (sauto/hauto/qauto), or ""."""
    if hammer_library() is None:
        _say_once(f"CoqHammer not installed: sauto/hauto/qauto/hammer not offered; {INSTALL}")
        return ""
    names = loaded_modules(file_text)
    if "Hammer" in names and atps():
        return "hammer"
    if names & {"Hammer", "Tactics"}:
        return "tactics"
    return ""


def beside_tactics(file_text: str, new_imports: bool = True
                   ) -> tuple[tuple[str, float | None], ...]:
    """What the session beside the search runs at the root (it loads CoqHammer whatever the file
    imports): ``sauto`` under its own limit where the written file may gain its import, then
    ``hammer`` with the time left (its premises become import-free steps first)."""
    if hammer_library() is None:
        return ()
    out: list[tuple[str, float | None]] = []
    if new_imports or provides(file_text, HAMMER):
        out.append(("sauto.", RECONSTRUCTION_SECONDS))
    if atps():
        out.append(("hammer.", None))
    return tuple(out)


def domain(state: ProofState, file_text: str, new_imports: bool = True) -> list[Proposal]:
    """Closers of the goal's own domain where its shape fits, each with its own time limit:
    ``interval`` (Coq Interval) for a real bound over functions it evaluates, ``gappa`` for
    bounds where the file works with Flocq's rounding, and nonlinear real arithmetic after
    clearing fractions (``field_simplify``, ``nra``) for a real bound with a division."""
    if not state.goals:
        return []
    concl = state.goals[0].conclusion
    out: list[Proposal] = []
    real = re.search(r"\bR\b|%R|\bIZR\b|\bINR\b|\bRabs\b|\bsqrt\b|\bexp\b|\bln\b|\bPI\b",
                     concl + " ".join(state.goals[0].hypotheses))
    bound = re.search(r"<=|<|>=|>", concl)
    if not (real and bound):
        return out
    if "/" in concl:
        out.append(("intros; field_simplify; nra.", 0.6, DOMAIN_SECONDS))
    out.append(("intros; nra.", 0.5, DOMAIN_SECONDS))
    for lib, tactic in ((INTERVAL, "interval."), (GAPPA, "gappa.")):
        wanted = lib.session in session_loads(file_text, concl) or provides(file_text, lib)
        if wanted and (new_imports or provides(file_text, lib)):
            out.append((f"intros; {tactic}", 1.0, DOMAIN_SECONDS))
    return out


def _balanced(text: str, start: int, stop: str) -> str | None:
    """The text from ``start`` to the first top-level word ``stop``, or None."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth < 0:
            return None
        if depth == 0 and re.match(rf"\b{stop}\b", text[i:]) and (i == 0 or not
                                                                   text[i - 1].isalnum()):
            return " ".join(text[start:i].split())
    return None


def _bound_names(text: str) -> set[str]:
    """The variables ``forall``/``fun``/``exists`` bind in ``text`` (not their types)."""
    names: set[str] = set()
    for binders in BINDERS.findall(text):
        groups = re.findall(r"\(([^()]*)\)", binders) or [binders]
        for group in groups:
            names.update(IDENT.findall(group.partition(":")[0]))
    return names


def scrutinees(text: str) -> list[str]:
    """The terms an ``if`` or a ``match`` of ``text`` branches on, in order, without repeats;
    not those that mention a variable bound in ``text`` (``forall i j, if Rcase_abs (A i j)
    …``): a case split on them splits nothing that is there, and each split adds a hypothesis,
    so it would be "progress" without end."""
    found: list[str] = []
    bound = _bound_names(text)
    for m in re.finditer(r"\b(if|match)\s", text):
        term = _balanced(text, m.end(), "then" if m.group(1) == "if" else "with")
        if term is None:
            continue
        term = re.split(r"\s+(?:as|in|return)\s", term)[0].strip()
        if term and len(term) < 200 and term not in found and not set(IDENT.findall(term)) & bound:
            found.append(term)
    return found


def _variables(state: ProofState) -> list[str]:
    """Variables of the first goal that may be of an inductive type: hypotheses ``x : T`` and
    the conclusion's leading binders, with T not a real, sort or function type."""
    goal = state.goals[0]
    found: list[str] = []
    for line in goal.hypotheses:
        names, sep, typ = line.partition(" : ")
        if sep and typ.strip() not in NOT_INDUCTIVE and "->" not in typ and not re.search(
            r"[=<>~]|/\\|\\/", typ
        ):
            found += [n.strip() for n in names.split(",") if IDENT.fullmatch(n.strip())]
    m = re.match(r"\s*forall\s+(.*?),", goal.conclusion, flags=re.DOTALL)
    if m:
        for group in re.findall(r"\(([^()]*)\)|([^()\s][^()]*)", m.group(1)):
            part = group[0] or group[1]
            names, sep, typ = part.partition(":")
            if sep and typ.strip() not in NOT_INDUCTIVE and "->" not in typ:
                found += IDENT.findall(names)
    return list(dict.fromkeys(found))


def structural(state: ProofState) -> list[Proposal]:
    """Case analysis, induction and constructor reasoning read off the first goal."""
    if not state.goals:
        return []
    goal = state.goals[0]
    out: list[Proposal] = []
    texts = [goal.conclusion, *(h.partition(" : ")[2] for h in goal.hypotheses)]
    terms = [t for text in texts for t in scrutinees(text)]
    for term in list(dict.fromkeys(terms))[:4]:
        wrapped = term if IDENT.fullmatch(term) else f"({term})"
        out.append((f"destruct {wrapped}.", 1.5, None))
        out.append((f"destruct {wrapped} eqn:?.", 0.8, None))
    inducted = {line.partition(" : ")[0].strip()[2:] for line in goal.hypotheses
                if re.match(r"IH[A-Za-z_]", line)}
    introduced = {n.strip() for line in goal.hypotheses
                  for n in line.partition(" : ")[0].split(",")}
    for name in [v for v in _variables(state) if v not in inducted][:4]:
        # Not again on a variable whose induction hypothesis is in sight (``IHn`` for ``n``):
        # that is the case of an induction already under way. On a binder not yet
        # introduced, rarely: `intros` first reaches the same cases with fewer twins.
        w = 1.0 if name in introduced else 0.3
        out.append((f"induction {name}; simpl.", 0.6 * w, None))
        out.append((f"induction {name}.", 0.3 * w, None))
        out.append((f"destruct {name}.", 0.3 * w, None))
    for line in goal.hypotheses:
        name, sep, typ = line.partition(" : ")
        if not sep or not IDENT.fullmatch(name.strip()):
            continue
        name = name.strip()
        sides = re.fullmatch(r"\s*(.+?)\s+=\s+(.+?)\s*", typ)
        if sides and all(re.match(r"[A-Za-z_][\w']*\s|\S+\s*::", s) for s in sides.groups()):
            out += [(f"discriminate {name}.", 0.5, None), (f"injection {name}.", 0.5, None),
                    (f"inversion {name}.", 0.5, None)]
        elif re.match(r"\s*[A-Za-z_][\w'.]*\s", typ) and not re.search(r"[=<>~]|/\\|\\/|->", typ):
            out.append((f"inversion {name}.", 0.4, None))  # an inductive predicate
    concl = goal.conclusion
    sides = re.fullmatch(r"\s*([A-Za-z_][\w'.]*)\s+(.+?)\s+=\s+([A-Za-z_][\w'.]*)\s+(.+?)\s*",
                         concl, flags=re.DOTALL)
    if sides and sides.group(1) == sides.group(3):
        out.append(("f_equal.", 0.8, None))
    if "<>" in concl or "~" in concl:
        out.append(("discriminate.", 0.4, None))
    return out


def _generic(concl: str, statement: str) -> bool:
    """Whether a conclusion relates bare bound variables (``r1 <= r3``): it fits any goal of
    that relation, whatever the goal's head."""
    m = re.fullmatch(r"\(?\s*([A-Za-z_][\w']*)\s*(?:<=|<|>=|>|=)\s*([A-Za-z_][\w']*)\s*\)?"
                     r"(?:%\w+)?", concl.strip())
    return bool(m) and {m.group(1), m.group(2)} <= _bound_names(statement)


def _head(proposition: str) -> str:
    """The first symbol of a proposition as printed (``Rabs`` of ``Rabs (x - y) <= e``)."""
    m = re.match(r"[\s(]*([A-Za-z_][\w'.]*|\d+)", proposition)
    return m.group(1) if m else ""


def hammer_family(level: str) -> list[Proposal]:
    """CoqHammer's tactics, by what the file imports."""
    out: list[Proposal] = []
    if level in ("hammer", "tactics"):
        out += [("sauto.", 1.5, RECONSTRUCTION_SECONDS), ("hauto.", 1.0, RECONSTRUCTION_SECONDS),
                ("qauto.", 1.0, RECONSTRUCTION_SECONDS)]
    if level == "hammer":
        out.append(("hammer.", 0.8, HAMMER_SECONDS))
    return out


def from_premises(
    state: ProofState, premises: Iterable[Premise], level: str = ""
) -> list[Proposal]:
    """Tactics that use retrieved lemmas, weighted by their rank (the project's own higher)."""
    ranked = list(premises)
    if not ranked or not state.goals:
        return []
    top = max(p.score for p in ranked) or 1.0
    hyps = [(n.strip(), t) for n, sep, t in (h.partition(" : ") for h in state.goals[0].hypotheses)
            if sep and IDENT.fullmatch(n.strip())]
    out: list[Proposal] = []
    goal_head = _head(state.goals[0].conclusion)
    facts = [t for _, t in hyps]
    for p in ranked:
        w = 1.2 * (p.score / top) * (1.5 if p.local else 1.0)
        statement = p.statement
        concl = conclusion(statement)
        premised = "->" in statement[: len(statement) - len(concl)] or "forall" in statement
        # `apply` fits a goal with the conclusion's head symbol, or any goal when that head is
        # a bound variable (``r1 <= r3``); another head fits only through unfolding.
        head = _head(concl)
        reach = 1.0 if head in (goal_head, "") or _generic(concl, statement) else 0.4
        if is_equation(statement):
            # As in the goal-aware rules: a conditional equation whose premise nothing in sight
            # has the shape of most often leaves a false side goal.
            unmet = 0.3 if unmet_conditions(statement, facts) else 1.0
            out += [(f"rewrite {p.name}.", w * unmet, None),
                    (f"rewrite <- {p.name}.", 0.5 * w * unmet, None)]
            if "<->" in concl:
                out.append((f"apply {p.name}.", 0.8 * w * reach, None))
        elif unfixed_binders(statement):
            # Variables the conclusion does not fix: only `eapply` applies it. A bare
            # transitivity (``r1 <= r3`` through an unknown ``r2``) fits every goal of its
            # relation and decides nothing: the step with the lemma that fixes the middle term
            # is the goal-aware rules' (``eapply Rle_trans; [apply L|]``).
            bare = 0.3 if _generic(concl, statement) else 1.0
            out.append((f"eapply {p.name}.", w * reach * bare, None))
            out.append((f"apply {p.name}.", 0.25 * w * reach, None))
        else:
            out.append((f"apply {p.name}.", w * reach, None))
            if premised:
                out.append((f"eapply {p.name}.", 0.4 * w * reach, None))
            else:
                out.append((f"exact {p.name}.", w * reach, None))
        if "->" in statement:
            first = statement.split("->")[0]
            wanted = symbols(first)
            for h, typ in hyps:
                if len(symbols(typ) & wanted) >= 2:
                    out.append((f"apply {p.name} in {h}.", 0.5 * w, None))
    if level in ("hammer", "tactics"):
        names = ", ".join(p.name for p in ranked[:3])
        out.append((f"hauto use: {names}.", 0.8, RECONSTRUCTION_SECONDS))
    return out
