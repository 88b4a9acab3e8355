"""Search contracts: the evaluator, the budgets, the events a run emits, and its result."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alphaquant.errors import InputError
from alphaquant.provers.base import ProofState, Prover
from alphaquant.script import Script
from alphaquant.search.value import goal_size_value
from alphaquant.tactics.base import TacticSource
from alphaquant.values import AT_LEAST_1, NOT_NEGATIVE, POSITIVE, SHARE, Range, check_fields

if TYPE_CHECKING:
    from alphaquant.search.tree import Action, Node

# Value estimate of a newly reached state, in [0, 1]; a solved state is worth 1.
Evaluator = Callable[[ProofState], float]

# Gate every tactic passes before a prover sees it: None to allow, else the refusal reason.
Gate = Callable[[str], "str | None"]

# The acceptance rule, asked of every proof the prover calls complete (from the search's root, as
# a Script: its tactics and the goals each left): None to accept it, else why it is refused (then
# a failed edge).
Acceptor = Callable[[Script], "str | None"]

# The selection rule: the score of one action of a node; the walk takes the highest.
SelectionRule = Callable[["Action", "Node", "SearchConfig"], float]


# Why a search stopped (a StrEnum: each member is its own word in JSON and messages).
class StopReason(enum.StrEnum):
    SOLVED = "solved"  # an accepted proof
    EXHAUSTED = "exhausted"  # no candidate left anywhere
    TIME = "time"  # the wall-clock budget ran out
    EXPANSIONS = "expansions"  # the budget of tactic applications ran out


# What one tactic sent to the prover came to.
class TrialOutcome(enum.StrEnum):
    SOLVED = "solved"  # it closed every goal and the acceptance rule took the path
    PROGRESS = "progress"  # new goals
    ERROR = "error"  # the prover refused it (or it changed nothing, or closed a cycle)
    TIMEOUT = "timeout"
    REJECTED = "rejected"  # complete, but the acceptance rule refused the path


# Budgets and constants of one search. Frozen: a run's settings are a value.
@dataclass(frozen=True)
class SearchConfig:
    budget_seconds: float = 60.0  # wall-clock budget for the whole search
    max_expansions: int = 10_000  # prover calls at most
    tactic_timeout: float = 5.0  # per tactic, seconds
    candidates: int = 24  # candidates asked of the source per node
    max_children: int = 8  # progressive widening cap: at most this many tried per node...
    widening_alpha: float = 0.5  # ...and at most ceil(visits ** alpha) + 1 before that
    c_puct: float = 1.5
    max_depth: int = 24  # a path longer than this is not expanded further
    seed: int = 0
    product_nodes: bool = True  # independent goals searched apart, when the prover can focus
    timeout_retries: int = 2  # a timed-out tactic is tried again this often, each time at 2x
    proposal_rounds: int = 3  # a state whose candidates ran out is asked again this often
    premises: int = 12  # lemmas retrieved per state at first (more with depth and rounds)
    heavy_share: float = 0.3  # a tactic with its own limit gets at most this share of the budget
    failure_share: float = 0.5  # a rejected tactic backs up this share of its state's value
    # A tactic's first try runs at most max(this, TYPICAL_MULTIPLE x the mean successful step of
    # the search so far) once steps have succeeded, and at most this long anywhere once it
    # timed out elsewhere; a timeout there queues it again at the whole limit (grow.py).
    first_timeout: float = 1.0
    # Names no proof may use (``--avoid``): no candidate names them, and the acceptance rule
    # refuses a proof whose dependencies reach them.
    avoid: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.avoid, str) or not all(isinstance(a, str) and a.strip()
                                                  for a in self.avoid):
            raise InputError("search.avoid must be a list of names, e.g. [\"classic\"]")
        object.__setattr__(self, "avoid", tuple(a.strip() for a in self.avoid))
        check_fields(
            self, "search", budget_seconds=POSITIVE, max_expansions=AT_LEAST_1,
            tactic_timeout=POSITIVE, candidates=AT_LEAST_1, max_children=AT_LEAST_1,
            widening_alpha=SHARE, c_puct=NOT_NEGATIVE, max_depth=AT_LEAST_1,
            timeout_retries=NOT_NEGATIVE, proposal_rounds=NOT_NEGATIVE, premises=NOT_NEGATIVE,
            heavy_share=Range(0, 1, low_open=True), failure_share=SHARE,
            first_timeout=POSITIVE,
        )


# What a search talks to. Frozen: the parts of a run are fixed for its length.
@dataclass(frozen=True)
class SearchParts:
    prover: Prover  # judges every tactic
    source: TacticSource  # proposes candidates with priors
    gate: Gate  # refuses unsafe tactic text before the prover sees it
    accept: Acceptor | None = None  # asked of every complete path; None accepts what Coq/Lean do
    evaluator: Evaluator = goal_size_value  # value estimate of new states
    rule: SelectionRule | None = None  # None: PUCT (search/walk.py puct_rule)


# The goal as the tactic source sees it, besides its state.
@dataclass(frozen=True)
class GoalContext:
    language: str  # "coq" or "lean"
    file_text: str = ""  # the file (and what it imports), as context
    theorem: str = ""  # the declaration's name


# A progress event, emitted to a callback; the library never prints.
@dataclass(frozen=True)
class SearchEvent:
    kind: str  # "expand" | "solved" | "finished"
    expansions: int
    elapsed: float
    nodes: int
    detail: str = ""


EventSink = Callable[[SearchEvent], None]


# One tactic the search sent to the prover, and what came of it.
@dataclass(frozen=True)
class Trial:
    state: ProofState
    tactic: str
    outcome: TrialOutcome
    seconds: float


# What a search found and what it cost.
@dataclass(frozen=True)
class SearchResult:
    proved: bool
    proof: tuple[str, ...] | None  # tactic path root -> solved, flat (``script.tactics()``)
    expansions: int  # tactic applications sent to the prover
    seconds: float
    prover_seconds: float  # time spent waiting on the prover (tactics, focusing, retrieval, checks)
    nodes: int
    stop_reason: StopReason
    stop_detail: str = ""  # why it stopped, in a sentence
    errors: int = 0  # tactics the prover rejected
    timeouts: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # sanitizer refusals by reason
    rejected: int = 0  # complete tactic paths the acceptance rule refused
    tried: tuple[Trial, ...] = ()  # every tactic sent to the prover, in order
    retried: int = 0  # timed-out tactics queued again with a longer limit
    products: int = 0  # states split into independent subproblems
    reproposals: int = 0  # states asked for more candidates after theirs ran out
    tree: dict[str, Any] | None = None  # the tree as plain data (search/export.py)
    script: Script | None = None  # the proof with its structure: one script per goal a step left
