"""Build the tactic source a run asks for: heuristics offline, mixed with a model online."""

from __future__ import annotations

import logging
import os

from alphaquant.config import Settings
from alphaquant.tactics.base import TacticSource
from alphaquant.tactics.learned.corpus import corpus_path
from alphaquant.tactics.learned.index import load_index
from alphaquant.tactics.learned.memory import TacticMemory, open_memory
from alphaquant.tactics.learned.source import LearnedSource, WithLearned
from alphaquant.tactics.mixed import MixedSource
from alphaquant.tactics.model.choose import make_source
from alphaquant.tactics.model.config import (
    KEY_VARIABLES,
    ModelChoice,
    llm_config,
    sdk_available,
)
from alphaquant.tactics.rules.heuristic import HeuristicSource, load_tactic_list

log = logging.getLogger(__name__)

def open_run_memory(settings: Settings, language: str) -> TacticMemory | None:
    """The learned-priors record, when the settings enable it."""
    if not settings.tactics.learned_priors:
        return None
    return open_memory(settings.tactics.memory_path, language)


def heuristic_source(
    settings: Settings, language: str, memory: TacticMemory | None = None
) -> HeuristicSource:
    """The offline source for ``language``, reweighed by ``memory`` when given."""
    path = settings.tactics.coq if language == "coq" else settings.tactics.lean
    return HeuristicSource(
        load_tactic_list(path), goal_aware_weight=settings.tactics.goal_aware_weight,
        reweigh=memory.reweigh if memory is not None else None,
        new_imports=settings.new_imports,
    )


def learned_source(settings: Settings, language: str,
                   exclude: tuple[str, ...] = ()) -> LearnedSource | None:
    """The suggestions of the nearest recorded states, when learning is on, a corpus was
    recorded (`alphaquant learn`) and scikit-learn is installed; ``exclude`` adds to
    ``learn.exclude``."""
    learn = settings.learn
    if not learn.enabled or learn.weight <= 0 or language != "coq":
        return None
    from alphaquant.provers.coq.record import coq_version

    path = learn.corpus or corpus_path(language, coq_version())
    index = load_index(path, tuple(sorted({*learn.exclude, *exclude})))
    if index is None:
        return None
    return LearnedSource(index, language, neighbours=learn.neighbours,
                         candidates=learn.candidates)


def with_learning(settings: Settings, language: str, source: TacticSource,
                  exclude: tuple[str, ...] = ()) -> TacticSource:
    """``source`` with the learned suggestions added (WithLearned, ``learn.weight``), or
    alone."""
    learned = learned_source(settings, language, exclude)
    if learned is None:
        return source
    return WithLearned(source, learned, settings.learn.weight)


def build_source(
    settings: Settings,
    language: str,
    choice: ModelChoice | None = None,
    memory: TacticMemory | None = None,
) -> tuple[TacticSource, str | None]:
    """The run's tactic source and, when it fell back to heuristics, a one-line notice why."""
    choice = choice or ModelChoice()
    heuristics = with_learning(settings, language, heuristic_source(settings, language, memory))
    if settings.offline:
        return heuristics, None
    provider = choice.provider or settings.llm.get("provider", "gemini")
    if provider == "gemini" and not choice.base_url and not any(
        os.environ.get(k) for k in KEY_VARIABLES["gemini"]
    ):
        return heuristics, (
            "no GEMINI_API_KEY or GOOGLE_API_KEY set: using heuristic tactics only "
            "(pass --offline to silence this)"
        )
    try:
        return build_llm_source(settings, language, choice, heuristics)
    except ImportError as e:
        return heuristics, f"language models unavailable ({e}): using heuristic tactics only"


def build_llm_source(
    settings: Settings, language: str, choice: ModelChoice, heuristics: TacticSource
) -> tuple[TacticSource, str | None]:
    """The run's source: the model mixed with ``heuristics``, or heuristics alone and why."""
    config = llm_config(settings.llm, choice)
    if not sdk_available(config.provider):
        return heuristics, (
            f"the {config.provider} SDK is not installed (pip install 'alphaquant[llm]'): "
            "using heuristic tactics only"
        )
    if config.weight_llm <= 0:
        return heuristics, None
    model = make_source(config)
    model.warm()  # the SDK imported while the file is opened, not in a goal's time
    return MixedSource([(model, config.weight_llm), (heuristics, config.weight_heuristic)],
                       wait_share=config.wait_share), None
