"""Configuration: frozen values loaded from configs/*.toml; command-line flags override the file.

Loading reads files and nothing else: no side effects, no network, no directories created.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphaquant.errors import InputError
from alphaquant.provers.lean.options import LeanConfig
from alphaquant.search.base import SearchConfig
from alphaquant.tactics.model.config import LLMConfig
from alphaquant.values import AT_LEAST_1, NOT_NEGATIVE, SHARE, check_fields, unknown_keys

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


# Where the offline tactic lists are, and how much the goal-aware candidates weigh.
@dataclass(frozen=True)
class TacticsConfig:
    coq: Path = CONFIG_DIR / "tactics" / "coq.toml"
    lean: Path = CONFIG_DIR / "tactics" / "lean.toml"
    goal_aware_weight: float = 2.0
    learned_priors: bool = False  # reweigh by success rates recorded in past runs (opt-in)
    memory_path: Path | None = None  # None: the user cache directory

    def __post_init__(self) -> None:
        check_fields(self, "tactics", goal_aware_weight=NOT_NEGATIVE)


# Suggestions learned from finished proofs (tactics/learned/): what the nearest recorded states
# did. Without a corpus (`alphaquant learn`) or scipy (extra `learn`), there are none.
@dataclass(frozen=True)
class LearnConfig:
    enabled: bool = True
    exclude: tuple[str, ...] = ()  # files or modules never learned from (corpus.excluded)
    neighbours: int = 24  # recorded states consulted per proof state
    candidates: int = 8  # distinct tactics suggested per proof state at most
    weight: float = 0.5  # learned mass: weight x best similarity squared, beside the heuristics' 1
    corpus: Path | None = None  # None: the user cache's, per prover version

    def __post_init__(self) -> None:
        check_fields(self, "learn", neighbours=AT_LEAST_1, candidates=AT_LEAST_1,
                     weight=NOT_NEGATIVE)
        if not isinstance(self.exclude, tuple) or not all(
                isinstance(p, str) for p in self.exclude):
            raise InputError(f"[learn] exclude = {self.exclude!r}: allowed: a list of strings "
                             "(file or module patterns)")


# Disproof: after a failed proof search, try to prove the statement's negation.
@dataclass(frozen=True)
class DisproofConfig:
    enabled: bool = True
    probe: float = 0.10  # share of a goal's budget for a first, short look at the negation
    share: float = 0.30  # share reserved for the negation after the proof search

    def __post_init__(self) -> None:
        check_fields(self, "disproof", probe=SHARE, share=SHARE)
        if self.probe + self.share >= 1:
            raise InputError(f"[disproof] probe + share = {self.probe + self.share:g}: allowed: "
                             "less than 1 (the proof search needs a share of the budget)")


PROVER_CHOICES = ("auto", "coq", "lean", "lean-dojo")
TABLES = ("search", "tactics", "disproof", "learn", "first_pass", "beside", "lean",
          "llm")  # a config file's tables
TOP_LEVEL = ("prover", "offline", "new_imports", *TABLES)


# A cheap first pass at a goal's root, before any probe or search: the closers that settle easy
# goals, each under a short limit, all within a small share of the budget.
@dataclass(frozen=True)
class FirstPassConfig:
    enabled: bool = True
    seconds: float = 1.0  # each tactic's limit
    share: float = 0.06  # of the goal's budget, at most, for the whole pass
    coq: tuple[str, ...] = (
        "intros; lra.", "intros; lia.", "intros; ring.", "intros; field.", "intros; tauto.",
        "intros; easy.", "intros; congruence.", "intros; auto.", "intros; nia.",
        "intuition.", "intros; nra.", "firstorder.",
    )
    lean: tuple[str, ...] = ("rfl", "decide", "omega", "linarith", "norm_num", "simp")


# CoqHammer (sauto, then hammer) at the root in a second prover session beside the proof search
# (runs/beside.py), where the proof search has at least ``min_seconds``.
@dataclass(frozen=True)
class BesideConfig:
    enabled: bool = True
    min_seconds: float = 10.0


# Everything one `alphaquant search` needs besides the file.
@dataclass(frozen=True)
class Settings:
    search: SearchConfig = field(default_factory=SearchConfig)
    tactics: TacticsConfig = field(default_factory=TacticsConfig)
    disproof: DisproofConfig = field(default_factory=DisproofConfig)
    learn: LearnConfig = field(default_factory=LearnConfig)
    first_pass: FirstPassConfig = field(default_factory=FirstPassConfig)
    beside: BesideConfig = field(default_factory=BesideConfig)
    lean: LeanConfig = field(default_factory=LeanConfig)
    prover: str = "auto"  # auto | coq | lean | lean-dojo
    offline: bool = False
    new_imports: bool = True  # a proof may add the one import line it needs (CoqHammer, …)
    llm: dict[str, Any] = field(default_factory=dict)  # raw [llm] table; tactics/model/ reads it
    source_file: Path | None = None  # the config file these came from

    def __post_init__(self) -> None:
        check_fields(self, "", prover=PROVER_CHOICES)


def _build(cls: type, table: Any, name: str, where: str) -> Any:
    """A dataclass from the TOML table ``[name]``, each value checked by the dataclass; an
    unknown key or a bad value is an InputError naming the file, the key and what is allowed."""
    if not isinstance(table, dict):
        raise InputError(f"{where}: {name} must be a table ([{name}]), got {table!r}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    try:
        unknown_keys(name, table, names)
        values = {k: (Path(v) if "Path" in str(names[k].type) and isinstance(v, str) else v)
                  for k, v in table.items()}
        return cls(**values)
    except InputError as e:
        raise InputError(f"{where}: {e}") from None


def _learn_table(table: Any, base: Path) -> Any:
    """The [learn] table with its list a tuple and a relative corpus path made absolute."""
    if not isinstance(table, dict):
        return table
    out = dict(table)
    if isinstance(out.get("exclude"), list):
        out["exclude"] = tuple(out["exclude"])
    if isinstance(out.get("corpus"), str) and not Path(out["corpus"]).is_absolute():
        out["corpus"] = str((base / out["corpus"]).resolve())
    return out


def _first_pass_table(table: Any) -> Any:
    """The [first_pass] table with its tactic lists as tuples."""
    if not isinstance(table, dict):
        return table
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``path`` (default: configs/default.toml if present), then ``overrides``.

    Overrides are flat names: any SearchConfig field (``budget_seconds``, ``seed``, …) or a
    Settings field (``prover``, ``offline``). None values are ignored.
    """
    data: dict[str, Any] = {}
    source = path or (CONFIG_DIR / "default.toml")
    if path is not None and not path.is_file():
        raise InputError(f"no such config file: {path}")
    if source.is_file():
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise InputError(f"{source}: {e}") from None
    base, where = source.parent, str(source)
    try:
        unknown_keys("", data, TOP_LEVEL)
        top = Settings(prover=data.get("prover", "auto"), offline=data.get("offline", False),
                       new_imports=data.get("new_imports", True))
    except InputError as e:
        raise InputError(f"{where}: {e}") from None
    tactics = data.get("tactics", {})
    if isinstance(tactics, dict):
        tactics = dict(tactics)
        for key in ("coq", "lean", "memory_path"):
            if isinstance(tactics.get(key), str) and not Path(tactics[key]).is_absolute():
                tactics[key] = str((base / tactics[key]).resolve())
    llm = data.get("llm", {})
    _build(LLMConfig, llm, "llm", where)  # checked now; tactics/model/ reads the raw table
    settings = dataclasses.replace(
        top,
        search=_build(SearchConfig, data.get("search", {}), "search", where),
        tactics=_build(TacticsConfig, tactics, "tactics", where),
        disproof=_build(DisproofConfig, data.get("disproof", {}), "disproof", where),
        learn=_build(LearnConfig, _learn_table(data.get("learn", {}), base), "learn", where),
        first_pass=_build(FirstPassConfig, _first_pass_table(data.get("first_pass", {})),
                          "first_pass", where),
        beside=_build(BesideConfig, data.get("beside", {}), "beside", where),
        lean=_build(LeanConfig, data.get("lean", {}), "lean", where),
        llm=dict(llm),
        source_file=source if source.is_file() else None,
    )
    return apply_overrides(settings, **overrides)


def apply_overrides(settings: Settings, **overrides: Any) -> Settings:
    """A copy of ``settings`` with flat overrides applied (None means: keep)."""
    search_names = {f.name for f in dataclasses.fields(SearchConfig)}
    search_changes = {k: v for k, v in overrides.items() if k in search_names and v is not None}
    top_changes = {
        k: v for k, v in overrides.items() if k not in search_names and v is not None
    }
    unknown = set(top_changes) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(sorted(unknown))}")
    search = dataclasses.replace(settings.search, **search_changes)
    return dataclasses.replace(settings, search=search, **top_changes)
