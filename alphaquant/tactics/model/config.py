"""How tactics are asked of a model: the command line's model choice, the ``[llm]`` table as a
frozen LLMConfig, the providers' constants, and whether an SDK is installed (without importing it).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from alphaquant.errors import InputError
from alphaquant.values import AT_LEAST_1, NOT_NEGATIVE, POSITIVE, Range, check_fields, unknown_keys

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

PROVIDERS = ("gemini", "openai")
DEFAULT_MODELS = {"gemini": "gemini-2.5-flash"}  # openai: the server's first listed model
# Gemini 2.5 counts thinking against the limit; small local servers reject prompt + limit > context.
DEFAULT_OUTPUT_TOKENS = {"gemini": 8192, "openai": 1024}
KEY_VARIABLES = {"gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "openai": ("OPENAI_API_KEY",)}
SDK_MODULES = {"gemini": "google.genai", "openai": "openai"}
GEMINI_API_VERSION = "v1beta"  # REST path: {base_url}/v1beta/models/{model}:generateContent
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FATAL_STATUS = frozenset({401, 403, 404})  # a key or model problem: retrying will not help
FAILURES_TO_OPEN = 3  # consecutive non-retryable failures that open the circuit


# What the user asked for on the command line about models.
@dataclass(frozen=True)
class ModelChoice:
    provider: str | None = None  # None: from config; "gemini" | "openai"
    base_url: str | None = None
    model: str | None = None
    use_cache: bool = True


def retryable(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


# How tactics are asked of a model, and what a run may spend on it. Loaded from the [llm] table.
@dataclass(frozen=True)
class LLMConfig:
    provider: str = "gemini"  # "gemini" | "openai"
    model: str | None = None  # None: gemini-2.5-flash; openai: the server's first listed model
    base_url: str | None = None  # None: the provider's public endpoint
    api_key_env: str | None = None  # None: GEMINI_API_KEY, GOOGLE_API_KEY / OPENAI_API_KEY
    temperature: float = 0.7
    k: int = 8  # tactics asked per call (at most the search's own k)
    max_calls: int = 500  # model calls per run (cache hits are free)
    max_tokens: int = 2_000_000  # tokens per run, prompt and answer
    max_output_tokens: int | None = None  # per answer; None: 8192 Gemini (thinking counts), 1024
    thinking_budget: int | None = None  # Gemini thinking tokens; None: the model's default
    logprobs: bool = True  # ask OpenAI-compatible servers for token logprobs (priors)
    retries: int = 3  # attempts after the first, on 408/429/5xx/timeouts/connection errors
    backoff_base: float = 1.0  # seconds before the first retry; doubles each time
    backoff_max: float = 30.0
    weight_llm: float = 0.6  # share of the prior mass for model candidates in MixedSource
    weight_heuristic: float = 0.4
    cache_path: Path | None = None  # None: <user cache dir>/llm_cache.sqlite
    use_cache: bool = True
    timeout: float = 60.0  # seconds per HTTP request
    wait_share: float = 0.25  # of a search's time left, what the search waits for one call

    def __post_init__(self) -> None:
        check_fields(
            self, "llm", provider=PROVIDERS, k=AT_LEAST_1, max_calls=AT_LEAST_1,
            max_tokens=AT_LEAST_1, max_output_tokens=AT_LEAST_1, thinking_budget=NOT_NEGATIVE,
            retries=NOT_NEGATIVE, backoff_base=NOT_NEGATIVE, backoff_max=NOT_NEGATIVE,
            weight_llm=NOT_NEGATIVE, weight_heuristic=NOT_NEGATIVE, timeout=POSITIVE,
            temperature=Range(0, 2), wait_share=Range(0, 1, low_open=True),
        )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], **overrides: Any) -> LLMConfig:
        """A config from an ``[llm]`` TOML table, then ``overrides`` (None means: keep)."""
        names = {f.name for f in fields(cls)}
        values = {**table, **{k: v for k, v in overrides.items() if v is not None}}
        unknown_keys("llm", values, names)
        if isinstance(values.get("cache_path"), str | Path):
            values["cache_path"] = Path(values["cache_path"]).expanduser()
        try:
            return cls(**values)
        except TypeError as e:
            raise InputError(f"[llm]: {e}") from None

    @property
    def output_tokens(self) -> int:
        """Tokens one answer may take: the setting, or the provider's default."""
        return self.max_output_tokens or DEFAULT_OUTPUT_TOKENS[self.provider]

    @property
    def model_name(self) -> str | None:
        """The configured model, or the provider's default (None: ask the server)."""
        return self.model or DEFAULT_MODELS.get(self.provider)

    def key_variables(self) -> tuple[str, ...]:
        """The environment variables the API key is read from, in order."""
        return (self.api_key_env,) if self.api_key_env else KEY_VARIABLES[self.provider]

    def api_key(self) -> tuple[str | None, str | None]:
        """(key, variable it came from), or (None, None)."""
        for name in self.key_variables():
            value = os.environ.get(name, "").strip()
            if value:
                return value, name
        return None, None


def openai_base_url(base_url: str | None) -> str | None:
    """``base_url`` with ``/v1`` added when it names a server only (``http://host:port``)."""
    if not base_url:
        return None
    parts = urlsplit(base_url.rstrip("/"))
    if parts.path in ("", "/"):
        parts = parts._replace(path="/v1")
    return urlunsplit(parts)


def sdk_available(provider: str) -> bool:
    """Whether the SDK of ``provider`` is installed (the ``llm`` extra), without importing it."""
    try:
        return importlib.util.find_spec(SDK_MODULES[provider]) is not None
    except (ImportError, ValueError):
        return False




def llm_config(table: Mapping[str, Any], choice: ModelChoice | None = None) -> LLMConfig:
    """The run's LLMConfig: the ``[llm]`` table, then the command line's choice.

    A provider chosen on the command line that differs from the table's drops the table's
    model, base_url and api_key_env, which belong to the other provider.
    """
    table = dict(table)
    provider = getattr(choice, "provider", None)
    if provider and provider != table.get("provider", "gemini"):
        for name in ("model", "base_url", "api_key_env"):
            table.pop(name, None)
    overrides: dict[str, Any] = {
        "provider": provider,
        "base_url": getattr(choice, "base_url", None),
        "model": getattr(choice, "model", None),
    }
    if choice is not None and not choice.use_cache:
        overrides["use_cache"] = False
    return LLMConfig.from_table(table, **overrides)
