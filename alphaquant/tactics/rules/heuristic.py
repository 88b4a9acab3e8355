"""The offline tactic source: a configured weighted list plus candidates built from the goal.

The list lives in configs/tactics/{coq,lean}.toml (``[[tactic]] text = "lra." weight = 3.0``);
goal-aware rules (tactics/rules/goal_rules.py) add hypothesis-, definition- and shape-specific
candidates. Priors come from the weights, optionally reweighted by learned success rates.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import InputError
from alphaquant.tactics.base import Candidate, ProposalRequest
from alphaquant.tactics.rules import automation, goal_rules, statements

# Learned reweighting: (goal shape, tactic, configured weight) -> weight to use.
Reweigh = Callable[[str, str, float], float]


# One configured tactic, its weight, and its own time limit (heavy automation; None: the
# search's).
@dataclass(frozen=True)
class WeightedTactic:
    text: str
    weight: float
    timeout: float | None = None


def load_tactic_list(path: Path) -> tuple[WeightedTactic, ...]:
    """Read a ``[[tactic]]`` list from TOML; a malformed file is an InputError naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return tuple(
            WeightedTactic(str(t["text"]), float(t.get("weight", 1.0)),
                           float(t["timeout"]) if "timeout" in t else None)
            for t in data["tactic"]
        )
    except FileNotFoundError:
        raise InputError(f"tactic list not found: {path}") from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as e:
        raise InputError(f"bad tactic list {path}: {e}") from None


class HeuristicSource:
    """Proposes the configured list and the goal-aware candidates, weighted, never the network."""

    def __init__(
        self,
        tactics: tuple[WeightedTactic, ...],
        *,
        goal_aware_weight: float = 2.0,
        premise_weight: float = 2.5,
        premise_share: float = 0.35,
        reweigh: Reweigh | None = None,
        new_imports: bool = True,
    ) -> None:
        self.tactics = tactics
        self.goal_aware_weight = goal_aware_weight
        self.premise_weight = premise_weight
        self.premise_share = premise_share
        self.reweigh = reweigh
        self.new_imports = new_imports  # may a proof need an import line the file lacks

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        """Candidates for the request's state, the goal-aware ones first."""
        rules = goal_rules.for_language(request.language)
        built = rules(request.state, request.file_text)
        candidates = [Candidate(t, w * self.goal_aware_weight) for t, w in built]
        if request.language == "coq":
            level = automation.hammer_level(request.file_text, self.new_imports)
            extra = (automation.structural(request.state) + automation.hammer_family(level)
                     + automation.domain(request.state, request.file_text, self.new_imports))
            candidates += [Candidate(t, w * self.goal_aware_weight, "heuristic", limit)
                           for t, w, limit in extra]
            if request.premises is not None and self.premise_weight > 0:
                found = automation.from_premises(request.state, request.premises(), level)
                candidates += [Candidate(t, w * self.premise_weight, "premises", limit)
                               for t, w, limit in found]
        candidates += [Candidate(t.text, t.weight, "heuristic", t.timeout) for t in self.tactics]
        if request.language == "coq":
            unproved = statements.unproved_names(request.file_text)
            candidates = [c for c in candidates if not statements.names_any(c.tactic, unproved)]
        if request.avoid:  # qualified or not, an avoided name is matched by its last part
            avoided = frozenset(a.rsplit(".", 1)[-1] for a in request.avoid)
            candidates = [c for c in candidates if not statements.names_any(c.tactic, avoided)]
        if self.reweigh is not None:
            shape = goal_rules.shape(request.state)
            candidates = [
                Candidate(c.tactic, self.reweigh(shape, c.tactic, c.prior), c.source, c.timeout)
                for c in candidates
            ]
        return _capped(candidates, "premises", self.premise_share)


def _capped(candidates: list[Candidate], source: str, share: float) -> list[Candidate]:
    """``candidates`` with those of ``source`` scaled down, if need be, to at most ``share`` of
    the whole prior mass: retrieved lemmas compete with the configured and goal-aware tactics,
    however many are found, but never crowd them out of the widening limit."""
    mass = sum(c.prior for c in candidates if c.source == source)
    rest = sum(c.prior for c in candidates if c.source != source)
    if mass <= 0 or rest <= 0 or mass <= share / (1 - share) * rest:
        return candidates
    factor = share / (1 - share) * rest / mass
    return [Candidate(c.tactic, c.prior * factor, c.source, c.timeout) if c.source == source
            else c for c in candidates]
