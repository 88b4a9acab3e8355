"""The model source a configuration names: Gemini's SDK or any OpenAI-compatible server."""

from __future__ import annotations

from typing import Any

from alphaquant.tactics.model.config import LLMConfig
from alphaquant.tactics.model.gemini_source import GeminiSource
from alphaquant.tactics.model.openai_source import OpenAISource


def make_source(config: LLMConfig, **kwargs: Any) -> GeminiSource | OpenAISource:
    """The model source ``config`` names (no network until its first proposal)."""
    return GeminiSource(config, **kwargs) if config.provider == "gemini" else OpenAISource(
        config, **kwargs
    )
