"""Candidates built from the goal itself, per language: hypotheses, definitions, shapes.

Each rule set maps (state, file text) to (tactic, weight) pairs. These are the only places in the
tactic layer that read Coq or Lean goal syntax.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence, Set

from alphaquant.provers.base import ProofState, Subgoal
from alphaquant.provers.coq.premises import Found, Ranking, symbols
from alphaquant.tactics.rules import clamps, witness
from alphaquant.tactics.rules.statements import (
    IDENT,
    QUALIFIED,
    conclusion_shape,
    conclusion_symbols,
    defined_names,
    definition_bodies,
    hypothesis_names,
    lemma_conclusion,
    predicate_bodies,
    proof_fields,
    proved_lemmas,
    rewrite_head,
    sides,
    skeleton,
    unfixed_binders,
    unfolded_symbols,
    unfolds_to,
    unmet_conditions,
)
from alphaquant.tactics.rules.witness import arrows

Rules = Callable[[ProofState, str], list[tuple[str, float]]]

BASIC_TYPES = {"R", "nat", "Z", "N", "Prop", "Type", "Set", "bool"}
CAST_REWRITES = (
    (r"IZR \([^()]*\+", "rewrite plus_IZR."),
    (r"IZR \([^()]*\*", "rewrite mult_IZR."),
    (r"IZR \([^()]*-", "rewrite minus_IZR."),
    (r"INR \(S ", "rewrite S_INR."),
    (r"INR \([^()]*\+", "rewrite plus_INR."),
    (r"INR \([^()]*\*", "rewrite mult_INR."),
)
COMMON = {"R", "nat", "Z", "N", "x", "y", "n", "k", "i", "j", "p", "forall", "fun"}

# A conclusion about reals (lia cannot close it, whatever integers it mentions inside).
REAL = re.compile(r"\b(?:Rabs|IZR|INR|Rmax|Rmin|Rle|Rlt)\b")
# An existential variable of Coq (`?b`, `?M1870`) in a goal.
EVAR = re.compile(r"\?[A-Za-z_]")


def for_language(language: str) -> Rules:
    """The rule set for ``language`` ("coq" or "lean")."""
    return coq_rules if language == "coq" else lean_rules


def shape(state: ProofState) -> str:
    """A coarse, stable description of the first goal, used to key learned priors."""
    if not state.goals:
        return "none"
    concl = state.goals[0].conclusion
    head = concl.strip().split(" ", 1)[0] if concl.strip() else ""
    marks = [
        name
        for name, token in (
            ("forall", "forall"), ("forall", "∀"), ("not", "~"), ("not", "¬"), ("and", "/\\"),
            ("and", "∧"), ("or", "\\/"), ("or", "∨"), ("abs", "Rabs"), ("abs", "|"),
            ("max", "max"), ("le", "<="), ("le", "≤"), ("lt", "<"), ("eq", "="), ("sum", "∑"),
            ("sum", "sum"), ("real", "R"), ("real", "ℝ"),
        )
        if token in concl
    ]
    more = "multi" if len(state.goals) > 1 else "single"
    return "|".join([more, head[:12], *sorted(set(marks))])


def lemma_fit(state: ProofState, lemmas: Sequence[tuple[str, str]]) -> dict[str, float]:
    """How well each lemma fits the state, as a factor in [0.5, 1.5]: the idf-weighted overlap
    of its symbols with the state's (premises.rank, over the file's own lemmas), relative to the
    best. A lemma that shares only common symbols (``Rabs``, ``<=``) with the goal ranks below
    one that shares a rare one (the function the goal is about)."""
    ranking = _ranking(tuple(lemmas))
    ranked = ranking.top(state, set(), len(ranking.lemmas))
    top = max((p.score for p in ranked), default=0.0)
    if top <= 0:
        return {}
    return {p.name: 0.5 + p.score / top for p in ranked}


@functools.lru_cache(maxsize=16)
def _ranking(lemmas: tuple[tuple[str, str], ...]) -> Ranking:
    """The file's own lemmas indexed once (they are the same at every state of a search)."""
    return Ranking(Found(name, statement, symbols(statement)) for name, statement in lemmas)


# Transitivity by scope: (goal's relation, lemma's relation) -> the lemma to `eapply`.
BRIDGES = {
    "Z": {("<", "<="): "Z.le_lt_trans", ("<=", "<="): "Z.le_trans", ("<", "<"): "Z.lt_trans"},
    "nat": {("<", "<="): "Nat.le_lt_trans", ("<=", "<="): "Nat.le_trans",
            ("<", "<"): "Nat.lt_trans"},
    "R": {("<", "<="): "Rle_lt_trans", ("<=", "<="): "Rle_trans", ("<", "<"): "Rlt_trans"},
}


def bridge(goal_shape: tuple[str, str], lemma_shape: tuple[str, str], concl: str,
           file_text: str) -> str | None:
    """``eapply`` of the transitivity step that lets a lemma bounding the goal's left side
    (same head symbol) by some other bound serve: its first goal is then the lemma's shape,
    the second the comparison of the two bounds. None if the shapes do not allow it."""
    if not goal_shape[0] or goal_shape[0] != lemma_shape[0]:
        return None
    if "%Z" in concl:
        scope = "Z"
    elif "%nat" in concl:
        scope = "nat"
    elif "%R" in concl or re.search(r"Open\s+Scope\s+R_scope", file_text):
        scope = "R"
    else:
        scope = "nat"
    name = BRIDGES[scope].get((goal_shape[1], lemma_shape[1]))
    return f"eapply {name}." if name else None


def lemma_reach(goal_shape: tuple[str, str], concl: str, lemmas: Sequence[tuple[str, str]],
                fit: dict[str, float], unfoldable: Set[str], file_text: str,
                file_defs: Set[str]) -> tuple[dict[str, float], set[str]]:
    """What the lemmas of the goal's head symbol need that the goal does not show.

    Returns ({definition: weight}, {lemma}):
    - a definition of the goal whose body shows a constant that such a lemma's conclusion names
      and the goal lacks (``Rround`` of a rounding lemma, in the body of the ``quantize`` the
      goal mentions) earns the weight applying that lemma has: where `apply` does not see
      through the definition (a clamp around the rounding), unfolding it is the way to the
      lemma, and it should be tried before the widening has to pass every lemma that fails;
    - a lemma naming a library constant that neither the goal nor any unfolding of its
      definitions shows, however deep (``INR`` on a goal about codes), cannot be unified with
      it. The file's own definitions in a lemma are not counted (``apply`` unfolds those).
    """
    bodies = definition_bodies(file_text)
    shown = {name: unfolded_symbols(name, bodies, 1) for name in unfoldable}
    in_goal = set(QUALIFIED.findall(re.sub(r"%\w+", "", concl)))
    reachable = in_goal | file_defs | set().union(*(unfolded_symbols(name, bodies)
                                                    for name in unfoldable))
    meets: dict[str, float] = {}
    unreachable = set()
    for name, statement in lemmas:
        shape = conclusion_shape(lemma_conclusion(statement))
        if not goal_shape[0] or shape[0] != goal_shape[0]:
            continue
        missing = conclusion_symbols(statement) - in_goal
        if missing - reachable:
            unreachable.add(name)
            continue
        weight = (2.0 if shape == goal_shape else 1.0) * fit.get(name, 0.5)
        for definition, showing in shown.items():
            if showing & missing:
                meets[definition] = max(meets.get(definition, 0.0), weight)
    return meets, unreachable


def normalise_and_decide(goal: Subgoal, goal_shape: tuple[str, str], defined: list[str],
                         introducible: bool) -> str | None:
    """One candidate that does what a person does with arithmetic hidden behind definitions and
    equations: unfold the file's definitions in sight, rewrite with the hypotheses that are
    equations between terms (``n_bits p = 4``, each zero or more times), compute, and hand the
    rest to the decision procedure of the conclusion's type. One step where the search would
    otherwise need a chain of them in some order (and every order is its own state)."""
    if introducible or goal_shape[1] not in ("<", "<=", "=", ">", ">=") or "?" in goal.conclusion:
        return None
    equations = [
        name for name, typ in hypothesis_names(goal)
        if not typ.lstrip().startswith(("forall", "exists"))
        and re.fullmatch(r"[^=<>]+(?<![<>])=(?![>?])[^=<>]+", typ)
        and not IDENT.fullmatch(typ.split("=")[0].strip())  # `x = …` is for subst
    ]
    if not equations:
        return None  # with nothing to rewrite, the unfold and the decision are other candidates
    decide = "lra" if REAL.search(goal.conclusion) or (
        "%Z" not in goal.conclusion and "%nat" not in goal.conclusion
        and re.search(r"\b(?:R|Rabs|INR|IZR)\b", goal.render())) else "lia"
    unfold = [f"unfold {', '.join(defined)} in *"] if defined else []
    rewrite = "rewrite " + ", ".join(f"?{e}" for e in equations)
    return "; ".join([*unfold, rewrite, "simpl", decide]) + "."


def hypothesis_fit(typ: str, goal_shape: tuple[str, str], file_defs: Set[str],
                   goal_text: str = "",
                   bodies: dict[str, tuple[set[str], str]] | None = None) -> float:
    """The weight of ``apply H`` for a hypothesis of type ``typ``: 0 for a value that is no
    proposition (``p : QuantParams``), more when its conclusion has the goal's head symbol (and
    relation) or is a predicate whose body the goal is, less when it could fit only through
    unfolding."""
    concl = lemma_conclusion(typ)
    shape = conclusion_shape(concl)
    if " ".join(typ.split()) == goal_text:
        return 3.0  # the goal itself
    if skeleton(typ) == skeleton(goal_text):
        return 2.5  # the goal up to its numbers and existential variables
    if not shape[1] and shape[0] in (bodies or {}) and unfolds_to((bodies or {})[shape[0]],
                                                                  goal_text):
        return 2.5  # the goal is the predicate's body (`in_range x p` unfolded)
    if not shape[1] and not arrows(typ) and not typ.lstrip().startswith(("forall", "~")):
        if shape[0] in file_defs or shape[0] == goal_shape[0]:
            return 1.0  # a predicate (`in_range x p`): it may unfold to the goal
        return 0.0 if IDENT.fullmatch(typ.strip()) or not shape[0] else 0.3
    if shape[0] and shape[0] == goal_shape[0]:
        return 1.5 if shape == goal_shape else 1.0
    if goal_shape[0] in ("", "False") or (goal_shape[0] in file_defs and not goal_shape[1]) \
            or shape[0] in file_defs:
        return 0.6
    return 0.3


def coq_rules(state: ProofState, file_text: str) -> list[tuple[str, float]]:
    """Coq candidates for the first goal of ``state``."""
    if not state.goals:
        return []
    goal = state.goals[0]
    concl = goal.conclusion
    out: list[tuple[str, float]] = []
    add = out.append
    if concl.lstrip().startswith(("forall", "~")) or "->" in concl:
        add(("intros.", 3.0))
    if concl.lstrip().startswith("~"):
        add(("intro H.", 3.0))
    if "/\\" in concl:
        add(("split.", 2.0))
    if "\\/" in concl:
        add(("left.", 0.5))
        add(("right.", 0.5))
    # Before the binders are introduced, working on the conclusion is premature (after `intros`
    # the same step applies to the hypotheses too, and both orders reach twin states).
    introducible = concl.lstrip().startswith(("forall", "~")) or arrows(concl) > 0
    early = 0.2 if introducible else 1.0
    if "Rabs" in concl:
        add(("apply Rabs_le.", 1.5 * early))
        add(("unfold Rabs.", 0.5 * early))
    if "Rmax" in concl:
        # A maximum below a bound is bounded by parts; a bound below a maximum by one side.
        left, _, right = sides(concl)
        if "Rmax" in left:
            add(("apply Rmax_lub.", 1.5 * early))
        if "Rmax" in right:
            add(("apply Rmax_l.", 1.0 * early))
            add(("apply Rmax_r.", 1.0 * early))
        add(("unfold Rmax.", 1.0 * early))
    if ("Z.max" in concl or "Z.min" in concl) and not REAL.search(concl):
        add(("lia.", 2.0))
    absurd = concl.strip() == "False"
    file_defs = defined_names(file_text, "coq")
    fixpoints = set(re.findall(r"^\s*Fixpoint\s+([A-Za-z_][\w']*)", file_text, re.MULTILINE))
    bodies = predicate_bodies(file_text)
    goal_shape = conclusion_shape(concl)
    if absurd:
        add(("lia.", 1.0))
        add(("lra.", 1.0))
    for name, typ in hypothesis_names(goal):
        if typ in ("R", "nat", "Z", "Prop", "Type", "Set", "bool") or typ.startswith("nat ->"):
            continue
        # `apply H` can close False only through an implication or a negation; `rewrite H` needs
        # an equation (or an iff) somewhere in H.
        if not absurd or arrows(typ) or typ.lstrip().startswith(("~", "forall")):
            weight = hypothesis_fit(typ, goal_shape, file_defs, " ".join(concl.split()), bodies)
            if weight > 0:
                add((f"apply {name}.", weight))
        if re.search(r"(?<![<>])=(?![>?])|<->", typ):
            # Most useful when its left side is in the conclusion (`n_bits p = 4`), or at least
            # its head symbol (`forall a, dist a a = 0` on `dist x x`).
            lhs = " ".join(re.split(r"(?<![<>])=(?![>?])|<->", lemma_conclusion(typ), maxsplit=1)[0]
                           .split())
            flat = " ".join(concl.split())
            lhs_head = conclusion_shape(lhs)[0]
            add((f"rewrite {name}.", 1.5 if lhs and lhs in flat else
                 1.0 if lhs_head and lhs_head in IDENT.findall(concl) else 0.3))
        if "/\\" in typ or "\\/" in typ or typ.lstrip().startswith("exists"):
            add((f"destruct {name}.", 1.0))
        if "Rabs" in typ:
            add((f"apply Rabs_le_between in {name}.", 1.5 if concl.strip() == "False" else 0.5))
        if absurd:
            # simpl computes the file's definitions; on plain arithmetic over literals it only
            # unfolds unary numbers (slow) and lia/lra are the tools.
            computes = bool(set(IDENT.findall(typ)) & file_defs)
            plain = not typ.lstrip().startswith("forall") and computes
            add((f"simpl in {name}.", 1.5 if plain else 0.3))
        if "Rmax" in typ or "Rmin" in typ:
            for op in ("Rmax", "Rmin"):
                if op in typ:
                    add((f"unfold {op} in {name}.", 1.0))
        # Instantiating a universal hypothesis at a witness is how a disproof starts (goal
        # False); in a proof the hypothesis is usually wanted whole (`apply H`), for every value.
        for candidate, weight in witness.specialize_candidates(name, typ, file_text):
            add((candidate, (2.0 if absurd else 0.3) * weight))
        premise = witness.premise_candidate(name, typ)
        if premise is not None:
            add((premise, 1.5))
    # A conclusion about a recursive function of the file, applied to a variable of an
    # inductive type: induction on that variable is how such a function is reasoned about.
    if fixpoints & set(IDENT.findall(concl)):
        for name, typ in hypothesis_names(goal):
            if typ in ("nat", "N", "positive") or typ.startswith("list "):
                underway = any(h.startswith(f"IH{name} ") for h in goal.hypotheses)
                if re.search(rf"\b{re.escape(name)}\b", concl) and not underway:
                    add((f"induction {name}.", 1.2))
    # Such a function applied to a constructor (`forward (S L) f x`, `size (a :: l)`, `size nil`)
    # is a redex: compute it first. A lemma applied before unifies through the function's
    # unfolded `fix`, and the goals it leaves no longer match the induction hypothesis.
    redex = any(re.search(rf"\b{re.escape(f)}\s+(?:\((?:S\s|[^()]*::)|(?:0|O|nil)\b|\[\])", concl)
                for f in fixpoints)
    if redex:
        add(("simpl.", 3.0))
    # A case split on a decision procedure the goal or a hypothesis branches on (`if Rle_dec a b
    # then … else …`, e.g. after unfolding Rmax).
    for dec in sorted(set(re.findall(r"\bif\s+\(?\s*([A-Za-z_][\w.']*_dec)\b", state.text))):
        add((f"destruct ({dec} _ _).", 1.5))
    idents = set(IDENT.findall(state.text))
    in_goal = set(IDENT.findall(concl))
    hyp_types = {n: t for n, t in hypothesis_names(goal) if t not in BASIC_TYPES}
    defined = file_defs & idents
    lemmas = proved_lemmas(file_text)
    fit = lemma_fit(state, lemmas)
    meets, unreachable = lemma_reach(goal_shape, concl, lemmas, fit, defined & in_goal - fixpoints,
                                     file_text, file_defs)
    # Unfolding before `intros` is premature too; and the orders of several unfolds reach one
    # state by many paths, so each unfold's weight is shared among the names the goal mentions.
    unfold_goal = 0.3 if introducible else 1.5 * min(1.0, 2.0 / max(1, len(defined & in_goal)))
    for name in sorted(defined):
        # A recursive function is computed by `simpl` (its equations, one step at a time);
        # `unfold` shows its `fix` body, which neither a lemma nor an induction hypothesis
        # mentions any more.
        recursive = 0.3 if name in fixpoints else 1.0
        if name in in_goal:
            meet = 0.0 if introducible else meets.get(name, 0.0)
            add((f"unfold {name}.", max(unfold_goal * recursive, meet)))
        for h, typ in hyp_types.items():
            # Not under a binder: `apply H` unfolds by itself, and lia/lra cannot use a
            # universal hypothesis; the unfolded twin would only double the search below.
            if name in IDENT.findall(typ) and not typ.lstrip().startswith("forall"):
                share = min(1.0, 2.0 / max(1, len(defined & set(IDENT.findall(typ)))))
                add((f"unfold {name} in {h}.", 0.8 * share * recursive))
        add((f"unfold {name} in *.", 0.3 * recursive))
    if len(defined) > 1 and not introducible:
        # Every definition in sight at once: one step instead of one per name and place (the
        # branches of definitions that test the same condition then show side by side).
        add((f"unfold {', '.join(sorted(defined))} in *.", 1.2))
    qualified = set(QUALIFIED.findall(state.text))
    pending = EVAR.search(concl) is not None
    facts = [typ for _, typ in hypothesis_names(goal)]
    bridges: dict[str, float] = {}  # one transitivity step, however many lemmas it serves
    about_def = goal_shape[0] in file_defs and not goal_shape[1]  # a goal like `in_range x p`
    for name, statement in lemmas:
        head = rewrite_head(statement)
        shape = conclusion_shape(lemma_conclusion(statement))
        same_head = goal_shape[0] != "" and shape[0] == goal_shape[0]
        if not set(IDENT.findall(statement)) & defined and not same_head:
            # A lemma about library functions only (``Z.max a (Z.min q b) = q``): a rewrite
            # when its left side's head occurs in the goal, the more so when every constant of
            # its left side does (the nested pattern is there to rewrite).
            if head is not None and head in qualified and head not in COMMON:
                concl_q = set(QUALIFIED.findall(concl))
                left = conclusion_symbols(statement) & set(
                    QUALIFIED.findall(sides(lemma_conclusion(statement))[0]))
                unmet = 0.3 if unmet_conditions(statement, facts) else 1.0
                weight = 2.0 if len(left) > 1 and left <= concl_q else \
                    1.5 if head in concl_q else 0.3
                add((f"rewrite {name}.", weight * unmet))
                for h, typ in hyp_types.items():
                    if head in QUALIFIED.findall(typ):
                        add((f"rewrite {name} in {h}.", 1.0))
            continue
        # A lemma whose conclusion has the goal's head symbol and relation is likely to apply
        # (through definitions the goal has not unfolded yet: `apply` unfolds them).
        fits = same_head and shape == goal_shape
        # A lemma about a constant that neither the goal nor the definitions in it show cannot
        # be unified with it, however its head and relation agree.
        w = fit.get(name, 0.5) * (0.5 if redex else 1.0) * (0.5 if name in unreachable else 1.0)
        # `apply` unifies up to unfolding: another head fits only through a definition, most
        # often the goal's (a goal that is a defined predicate, a lemma about its body).
        reach = 2.0 if fits else 1.0 if same_head or about_def else \
            0.5 if shape[0] in file_defs else 0.3
        # A lemma with variables its conclusion does not fix (a middle term) only applies as
        # `eapply`: that form takes the weight, and `apply` keeps a little (it may still
        # work where the goal's hypotheses fix them by unification of the premises).
        loose = bool(unfixed_binders(statement))
        # On a goal that already has an existential variable, a step that opens more of them
        # (a loose lemma, a transitivity step) only moves: unification then takes whatever
        # fits, and it is the goals that fix the variables that make progress.
        opens = 0.3 if pending else 1.0
        add((f"apply {name}.", (0.25 if loose else 1.0) * reach * w))
        step = bridge(goal_shape, shape, concl, file_text)
        if step is not None:
            # The step and the lemma at once: the lemma fixes the middle term, so no
            # existential variable is left to tie the goals (they can then be split).
            add((f"{step[:-1]}; [{'eapply' if loose else 'apply'} {name}|].",
                 2.0 * w * (opens if loose else 1.0)))
            # The step alone fits every goal of its relation and decides nothing (the middle
            # term is left open): the last resort, when the lemma applies only after more work.
            bridges[step] = max(bridges.get(step, 0.0), 0.3 * w * opens)
        add((f"eapply {name}.", reach * w * opens if loose else (1.0 if fits else 0.5) * w))
        add((f"pose proof {name}.", 0.3))
        if head is None:
            continue
        # A conditional equation whose premise nothing in sight has the shape of leaves a side
        # goal that is most often false here (`clip x = hi` when x lies above `hi`).
        unmet = 0.3 if unmet_conditions(statement, facts) else 1.0
        add((f"rewrite {name}.", (1.5 if head in in_goal else 0.3) * w * unmet))
        for h, typ in hyp_types.items():
            if head in IDENT.findall(typ):
                add((f"rewrite {name} in {h}.", 1.5 * w))
    out.extend(bridges.items())
    closer = normalise_and_decide(goal, goal_shape, sorted(defined), introducible)
    if closer is not None:
        add((closer, 2.0))
    for field, typ in proof_fields(file_text):
        if set(IDENT.findall(typ)) & idents - COMMON:
            add((f"apply {field}.", 1.0))
    for pattern, tactic in CAST_REWRITES:
        if re.search(pattern, concl):
            add((tactic, 1.5))
    # A clamped code cast to a real: its bounds, stated where lra can use them. Each such step
    # succeeds and leaves the goal as it was plus one fact (a twin state), so it comes first
    # only where nothing else is left to do with the goal: a contradiction to find.
    for tactic in clamps.candidates("\n".join((*goal.hypotheses, concl))):
        add((tactic, (1.5 if absurd else 0.3) * early))
    if re.search(r"(?<![<>])=(?!>)", concl) and ("*" in concl or "+" in concl):
        add(("ring.", 1.5))
    return out


def lean_rules(state: ProofState, file_text: str) -> list[tuple[str, float]]:
    """Lean candidates for the first goal of ``state``."""
    if not state.goals:
        return []
    goal = state.goals[0]
    concl = goal.conclusion
    out: list[tuple[str, float]] = []
    add = out.append
    if concl.lstrip().startswith(("∀", "¬")) or "→" in concl:
        add(("intro", 3.0))
        add(("intros", 1.0))
    if "∧" in concl or "↔" in concl:
        add(("constructor", 2.0))
    if "∨" in concl:
        add(("left", 0.5))
        add(("right", 0.5))
    if "|" in concl:
        add(("rw [abs_le]", 1.5))
        add(("rw [abs_sub_comm]", 0.3))
    if "round" in concl:
        add(("exact abs_sub_round _", 1.5))
    if "max" in concl:
        add(("apply max_le", 1.0))
    hyps = []
    for name, typ in hypothesis_names(goal):
        if typ in ("ℝ", "ℕ", "ℤ", "Prop", "Type") :
            continue
        hyps.append(name)
        add((f"exact {name}", 1.0))
        add((f"rw [{name}]", 0.5))
        add((f"simp [{name}]", 0.5))
        if "∧" in typ or "∃" in typ or "∨" in typ:
            add((f"obtain ⟨_, _⟩ := {name}", 0.8))
    if hyps:
        add((f"linarith [{', '.join(hyps[:6])}]", 1.5))
        add((f"nlinarith [{', '.join(hyps[:6])}]", 0.8))
    idents = set(IDENT.findall(state.text))
    defs = sorted(defined_names(file_text, "lean") & idents)
    for name in defs:
        add((f"unfold {name}", 1.5))
    if defs:
        add((f"simp only [{', '.join(defs)}]", 1.5))
    return out
