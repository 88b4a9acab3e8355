"""Build the tactic source a run asks for: heuristics offline, mixed with a model online."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from alphaquant.config import Settings
from alphaquant.tactics.base import TacticSource
from alphaquant.tactics.heuristic import HeuristicSource, load_tactic_list

log = logging.getLogger(__name__)

KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


# What the user asked for on the command line about models.
@dataclass(frozen=True)
class ModelChoice:
    provider: str | None = None  # None: from config; "gemini" | "openai"
    base_url: str | None = None
    model: str | None = None
    use_cache: bool = True


def heuristic_source(settings: Settings, language: str) -> HeuristicSource:
    """The offline source for ``language``, with learned priors when enabled."""
    path = settings.tactics.coq if language == "coq" else settings.tactics.lean
    reweigh = None
    if settings.tactics.learned_priors:
        try:
            from alphaquant.tactics.memory import open_memory

            reweigh = open_memory(settings.tactics.memory_path, language).reweigh
        except ImportError:
            reweigh = None
    return HeuristicSource(
        load_tactic_list(path), goal_aware_weight=settings.tactics.goal_aware_weight,
        reweigh=reweigh,
    )


def build_source(
    settings: Settings, language: str, choice: ModelChoice = ModelChoice()
) -> tuple[TacticSource, str | None]:
    """The run's tactic source and, when it fell back to heuristics, a one-line notice why."""
    heuristics = heuristic_source(settings, language)
    if settings.offline:
        return heuristics, None
    provider = choice.provider or settings.llm.get("provider", "gemini")
    if provider == "gemini" and not choice.base_url and not any(
        os.environ.get(k) for k in KEY_VARIABLES
    ):
        return heuristics, (
            "no GEMINI_API_KEY or GOOGLE_API_KEY set: using heuristic tactics only "
            "(pass --offline to silence this)"
        )
    try:
        from alphaquant.tactics.llm import build_llm_source
    except ImportError as e:
        return heuristics, f"language models unavailable ({e}): using heuristic tactics only"
    return build_llm_source(settings, language, choice, heuristics)
