"""Tactic candidates from language models: Gemini (google-genai) and OpenAI-compatible servers.

Both sources ask for ``k`` tactics as a JSON list (tactics/llm_prompt.py builds the prompt and
parses the answer), answer repeated prompts from a SQLite cache (tactics/llm_cache.py), and never
raise for model trouble: they return fewer candidates, or none. ``MixedSource`` merges them with
the offline heuristics into one prior distribution.

Failure policy, in one place:
  * The SDKs' own retries are switched off (google-genai: ``HttpRetryOptions(attempts=1)``;
    openai: ``max_retries=0``). This module alone retries, so attempts never multiply: up to
    ``retries`` more attempts after 408/429/5xx answers, timeouts and connection errors, waiting
    ``backoff_base · 2**attempt`` seconds (capped at ``backoff_max``, with up to 25 % jitter).
  * When retries are spent, or the server answers 401/403/404 (a key or model problem that
    will not go away), or three calls in a row fail otherwise, the circuit opens: ONE warning is
    logged and every later call returns [] at once, so the heuristics carry the search.
  * A run may make at most ``max_calls`` model calls and spend ``max_tokens`` tokens (prompt and
    answer, as the server reports them); past that, calls return [] (one warning).
  * Answers already cached are served even when the circuit is open or the budget is spent.

The SDKs are imported inside the classes, so importing this module needs only the core install.
Nothing here prints; everything is logged through ``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from alphaquant.errors import InputError
from alphaquant.tactics.base import Candidate, ProposalRequest, TacticSource, normalise
from alphaquant.tactics.llm_cache import Answer, AnswerCache, cache_key
from alphaquant.tactics.llm_prompt import Prompt, build_prompt, parse_tactics

if TYPE_CHECKING:
    from alphaquant.config import Settings

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


def _retryable(status: int) -> bool:
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

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise InputError(f"[llm] provider must be gemini or openai, got {self.provider!r}")
        for name in ("k", "max_calls", "max_tokens", "max_output_tokens"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(f"[llm] {name} must be at least 1, got {getattr(self, name)}")
        for name in ("retries", "backoff_base", "backoff_max", "weight_llm", "weight_heuristic"):
            if getattr(self, name) < 0:
                raise InputError(f"[llm] {name} must not be negative, got {getattr(self, name)}")
        if self.timeout <= 0:
            raise InputError(f"[llm] timeout must be positive, got {self.timeout}")
        if not 0 <= self.temperature <= 2:
            raise InputError(f"[llm] temperature must be within 0..2, got {self.temperature}")

    @classmethod
    def from_table(cls, table: Mapping[str, Any], **overrides: Any) -> LLMConfig:
        """A config from an ``[llm]`` TOML table, then ``overrides`` (None means: keep)."""
        names = {f.name for f in fields(cls)}
        values = {**table, **{k: v for k, v in overrides.items() if v is not None}}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"[llm]: unknown setting(s) {', '.join(unknown)}")
        if values.get("cache_path") is not None:
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


# ---------------------------------------------------------------------------------------------
# Priors


def rank_priors(n: int) -> list[float]:
    """Priors from rank alone: 1, 1/2, 1/3, … (the model lists the most promising first)."""
    return [1.0 / (i + 1) for i in range(n)]


def logprob_priors(
    text: str, token_logprobs: Sequence[tuple[str, float]], tactics: Sequence[str]
) -> list[float] | None:
    """exp(mean token logprob) of each tactic's span in ``text``; None if spans can't be found.

    The tokens must spell ``text`` exactly. A tactic is looked for as written, then JSON-escaped;
    one not found gets half the smallest prior found.
    """
    if "".join(t for t, _ in token_logprobs) != text:
        return None
    starts, pos = [], 0
    for token, _ in token_logprobs:
        starts.append(pos)
        pos += len(token)
    found: list[float | None] = []
    cursor = 0
    for tactic in tactics:
        span = None
        for needle in dict.fromkeys((tactic, _json_escaped(tactic))):
            at = text.find(needle, cursor)
            if at < 0:
                at = text.find(needle)
            if at >= 0:
                span = (at, at + len(needle))
                break
        if span is None:
            found.append(None)
            continue
        cursor = span[1]
        values = [
            lp for (tok, lp), s in zip(token_logprobs, starts, strict=True)
            if s < span[1] and s + len(tok) > span[0] and math.isfinite(lp)
        ]
        found.append(math.exp(sum(values) / len(values)) if values else None)
    known = [p for p in found if p is not None and p > 0]
    if not known:
        return None
    floor = min(known) / 2
    return [p if p is not None and p > 0 else floor for p in found]


def _json_escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


# ---------------------------------------------------------------------------------------------
# The sources


# What went wrong with one request: HTTP status (None: no answer) and whether to retry.
@dataclass(frozen=True)
class _Trouble:
    status: int | None
    retryable: bool
    summary: str


def _transport_error(e: BaseException) -> bool:
    """Timeouts and connection failures of any HTTP stack the SDKs use."""
    module = type(e).__module__ or ""
    return isinstance(e, (ConnectionError, TimeoutError)) or module.startswith(
        ("httpx", "httpcore", "aiohttp", "requests", "urllib3")
    )


class _ModelSource:
    """The part both providers share: prompt, cache, budget, retries, circuit, priors."""

    provider = ""

    def __init__(
        self,
        config: LLMConfig,
        *,
        cache: AnswerCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.cache = cache if cache is not None else (
            AnswerCache(config.cache_path) if config.use_cache else None
        )
        self._sleep = sleep
        self._lock = threading.Lock()
        self._client: Any = None
        self.calls = 0  # model calls made (not counting retries and cache hits)
        self.requests = 0  # HTTP requests made, retries included
        self.tokens = 0
        self.cache_hits = 0
        self.circuit_open = False
        self._budget_warned = False
        self._failures_in_row = 0

    # -- the TacticSource contract ------------------------------------------------------------

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        """Up to k candidates for ``request``; [] on any model trouble (never raises for it)."""
        try:
            return self._propose(request)
        except Exception as e:  # a surprise from an SDK or a bug here must not stop the search
            log.debug("%s source failed unexpectedly", self.provider, exc_info=True)
            self._open_circuit(f"unexpected {type(e).__name__}: {e}")
            return []

    def _propose(self, request: ProposalRequest) -> list[Candidate]:
        k = min(self.config.k, request.k) if request.k > 0 else self.config.k
        prompt = build_prompt(request, k)
        model = self._model()
        if model is None:
            return []
        key = cache_key(self.provider, model, prompt.key_text(), self._sampling(k))
        answer = self.cache.get(key) if self.cache is not None else None
        if answer is not None:
            with self._lock:
                self.cache_hits += 1
            return self._candidates(answer, request.language)
        if not self._admit():
            return []
        answer = self._call_with_retries(prompt, model, k)
        if answer is None:
            return []
        candidates = self._candidates(answer, request.language)
        if candidates and self.cache is not None:  # an unusable answer is not kept
            self.cache.put(key, self.provider, model, answer)
        return candidates

    # -- what subclasses provide --------------------------------------------------------------

    def _make_client(self) -> Any:
        raise NotImplementedError

    def _request(self, prompt: Prompt, model: str, k: int) -> Answer:
        raise NotImplementedError

    def _classify(self, error: BaseException) -> _Trouble:
        raise NotImplementedError

    def _sampling(self, k: int) -> dict[str, Any]:
        """Everything besides the prompt that shapes the answer (part of the cache key)."""
        c = self.config
        return {"temperature": c.temperature, "k": k, "max_output_tokens": c.output_tokens}

    def _model(self) -> str | None:
        return self.config.model_name

    def endpoint(self) -> str:
        """Where requests go, for messages."""
        return self.config.base_url or "the provider's public endpoint"

    # -- machinery ----------------------------------------------------------------------------

    def client(self) -> Any:
        """The SDK client, made on first use (no connection is opened before a request)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _admit(self) -> bool:
        """Count one call against the run's budget; False if the circuit is open or it is spent."""
        with self._lock:
            if self.circuit_open:
                return False
            c = self.config
            if self.calls >= c.max_calls or self.tokens >= c.max_tokens:
                if not self._budget_warned:
                    self._budget_warned = True
                    log.warning(
                        "%s: model budget spent (%d calls, %d tokens; limits %d, %d): "
                        "heuristic tactics only from here", self.provider, self.calls,
                        self.tokens, c.max_calls, c.max_tokens,
                    )
                return False
            self.calls += 1
            return True

    def _call_with_retries(self, prompt: Prompt, model: str, k: int) -> Answer | None:
        """One model call with retries; None (and maybe an open circuit) if it failed."""
        for attempt in range(self.config.retries + 1):
            with self._lock:
                if self.circuit_open:
                    return None
                self.requests += 1
            try:
                answer = self._request(prompt, model, k)
            except Exception as e:
                trouble = self._classify(e)
                if trouble.retryable and attempt < self.config.retries:
                    delay = self._backoff(attempt)
                    log.info(
                        "%s: %s; retry %d of %d in %.2fs", self.provider, trouble.summary,
                        attempt + 1, self.config.retries, delay,
                    )
                    self._sleep(delay)
                    continue
                self._failed(trouble, attempt + 1)
                return None
            with self._lock:
                self.tokens += answer.tokens
                self._failures_in_row = 0
            return answer
        return None

    def _backoff(self, attempt: int) -> float:
        base = min(self.config.backoff_max, self.config.backoff_base * 2.0**attempt)
        return float(base * (1 + 0.25 * random.random()))

    def _failed(self, trouble: _Trouble, attempts: int) -> None:
        if trouble.retryable or trouble.status in FATAL_STATUS:
            self._open_circuit(f"{trouble.summary} after {attempts} attempt(s)")
            return
        with self._lock:
            self._failures_in_row += 1
            persistent = self._failures_in_row >= FAILURES_TO_OPEN
        if persistent:
            self._open_circuit(f"{FAILURES_TO_OPEN} calls in a row failed, last: {trouble.summary}")
        else:
            log.debug("%s: call failed (%s); no candidates this time", self.provider,
                      trouble.summary)

    def _open_circuit(self, reason: str) -> None:
        """Stop calling the model for the rest of the run; warn once."""
        with self._lock:
            if self.circuit_open:
                return
            self.circuit_open = True
        log.warning(
            "%s model %s at %s is failing (%s): heuristic tactics only for the rest of this run",
            self.provider, self.config.model_name or "(server default)", self.endpoint(), reason,
        )

    def _candidates(self, answer: Answer, language: str) -> list[Candidate]:
        tactics = parse_tactics(answer.text, language)
        priors = None
        if answer.token_logprobs:
            priors = logprob_priors(answer.text, answer.token_logprobs, tactics)
        if priors is None:
            priors = rank_priors(len(tactics))
        return [Candidate(t, p, self.provider) for t, p in zip(tactics, priors, strict=True)]


class GeminiSource(_ModelSource):
    """Gemini through the google-genai SDK (``generateContent``, JSON-list answers, rank priors).

    The key comes from GEMINI_API_KEY or GOOGLE_API_KEY (or ``api_key_env``); a custom
    ``base_url`` (a proxy, a test server) may go without one.
    """

    provider = "gemini"

    def _make_client(self) -> Any:
        from google import genai
        from google.genai import types

        key, _ = self.config.api_key()
        if key is None:
            if not self.config.base_url:
                names = " or ".join(self.config.key_variables())
                raise _NoKey(f"no API key: set {names}")
            key = "unused"  # a custom endpoint may need none; the SDK insists on one
        http = types.HttpOptions(
            base_url=self.config.base_url,
            api_version=GEMINI_API_VERSION,
            timeout=int(self.config.timeout * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # retries are ours
        )
        return genai.Client(api_key=key, vertexai=False, http_options=http)

    def _request(self, prompt: Prompt, model: str, k: int) -> Answer:
        from google.genai import types

        c = self.config
        config = types.GenerateContentConfig(
            system_instruction=prompt.system,
            temperature=c.temperature,
            max_output_tokens=c.output_tokens,
            candidate_count=1,
            response_mime_type="application/json",
            response_schema=types.Schema(
                type=types.Type.ARRAY, items=types.Schema(type=types.Type.STRING)
            ),
            thinking_config=(
                None if c.thinking_budget is None
                else types.ThinkingConfig(thinking_budget=c.thinking_budget)
            ),
        )
        response = self.client().models.generate_content(
            model=model, contents=prompt.user, config=config
        )
        text = ""
        if response.candidates:
            content = response.candidates[0].content
            parts = (content.parts if content is not None else None) or []
            text = "".join(p.text for p in parts if p.text and not p.thought)
        usage = response.usage_metadata
        tokens = (usage.total_token_count or 0) if usage is not None else 0
        return Answer(text=text, tokens=tokens)

    def _sampling(self, k: int) -> dict[str, Any]:
        return {**super()._sampling(k), "thinking_budget": self.config.thinking_budget}

    def _classify(self, error: BaseException) -> _Trouble:
        return _classify_gemini(error)

    def endpoint(self) -> str:
        return self.config.base_url or "generativelanguage.googleapis.com"


class _NoKey(Exception):
    """No API key where one is needed (a configuration problem: opens the circuit)."""


def _classify_gemini(error: BaseException) -> _Trouble:
    from google.genai import errors

    if isinstance(error, _NoKey):
        return _Trouble(401, False, str(error))
    if isinstance(error, errors.APIError):
        code = int(error.code or 0)
        message = " ".join(str(error.message or error.status or "").split())[:200]
        return _Trouble(code, _retryable(code), f"HTTP {code} {message}".strip())
    if _transport_error(error):
        return _Trouble(None, True, f"{type(error).__name__}: {error}")
    return _Trouble(None, False, f"{type(error).__name__}: {error}")


class OpenAISource(_ModelSource):
    """Any OpenAI-compatible chat server (vLLM, Ollama, llama.cpp, OpenAI) via the openai SDK.

    ``base_url`` may name the server only (``http://127.0.0.1:8000``: ``/v1`` is added). The key
    is OPENAI_API_KEY (or ``api_key_env``); local servers need none. Token logprobs are asked for
    and become priors (exp of each tactic's mean token logprob); a server that rejects the
    request for them (HTTP 400) is asked again without, and rank priors are used.
    """

    provider = "openai"

    def __init__(self, config: LLMConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._logprobs = config.logprobs
        self._resolved_model: str | None = None

    def _make_client(self) -> Any:
        import openai

        key, _ = self.config.api_key()
        return openai.OpenAI(
            api_key=key or "EMPTY",
            base_url=openai_base_url(self.config.base_url),
            max_retries=0,  # retries are ours
            timeout=self.config.timeout,
        )

    def _model(self) -> str | None:
        """The configured model, or the first the server lists (asked once)."""
        if self.config.model:
            return self.config.model
        if self._resolved_model is None and not self.circuit_open:
            try:
                listed = [m.id for m in self.client().models.list()]
            except Exception as e:
                self._open_circuit(f"no model given and listing models failed: "
                                   f"{self._classify(e).summary}")
                return None
            if not listed:
                self._open_circuit("no model given and the server lists none: pass --model")
                return None
            self._resolved_model = listed[0]
            log.info("openai: using the server's model %s", listed[0])
        return self._resolved_model

    def _sampling(self, k: int) -> dict[str, Any]:
        return {**super()._sampling(k), "logprobs": self._logprobs}

    def _request(self, prompt: Prompt, model: str, k: int) -> Answer:
        import openai

        messages = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]
        kwargs: dict[str, Any] = {
            "model": model, "messages": messages, "temperature": self.config.temperature,
            "max_tokens": self.config.output_tokens,
        }
        try:
            response = self.client().chat.completions.create(**kwargs, logprobs=self._logprobs)
        except openai.BadRequestError:
            if not self._logprobs:
                raise
            log.info("openai: the server refused a request with logprobs; asking without")
            self._logprobs = False
            response = self.client().chat.completions.create(**kwargs)
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice is not None else ""
        token_logprobs = None
        content = choice.logprobs.content if choice is not None and choice.logprobs else None
        if content:
            token_logprobs = tuple((t.token, float(t.logprob)) for t in content)
        tokens = (response.usage.total_tokens or 0) if response.usage is not None else 0
        return Answer(text=text, token_logprobs=token_logprobs, tokens=tokens)

    def _classify(self, error: BaseException) -> _Trouble:
        import openai

        if isinstance(error, openai.APIStatusError):
            code = int(error.status_code)
            message = " ".join(str(error.message).split())[:200]
            return _Trouble(code, _retryable(code), f"HTTP {code} {message}".strip())
        if isinstance(error, (openai.APITimeoutError, openai.APIConnectionError)):
            return _Trouble(None, True, f"{type(error).__name__}: {error}")
        if _transport_error(error):
            return _Trouble(None, True, f"{type(error).__name__}: {error}")
        return _Trouble(None, False, f"{type(error).__name__}: {error}")

    def endpoint(self) -> str:
        return openai_base_url(self.config.base_url) or "api.openai.com"


# ---------------------------------------------------------------------------------------------
# Mixing


class MixedSource:
    """Several sources as one prior distribution.

    Each source's priors are normalised to sum 1, scaled by its weight, summed over sources for
    the same (whitespace-normalised) tactic, and scaled to sum 1 again. A source with weight 0
    is never asked. A source with no candidates leaves the others' shares as they are, so when a
    model is down the heuristics alone make the distribution.
    """

    def __init__(self, sources: Sequence[tuple[TacticSource, float]]) -> None:
        if any(w < 0 for _, w in sources) or not any(w > 0 for _, w in sources):
            raise InputError("source weights must be non-negative and not all zero")
        self.sources = tuple(sources)

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        """The merged candidates, highest prior first (ties in source order)."""
        mass: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        for source, weight in self.sources:
            if weight <= 0:
                continue
            for c in normalise(source.propose(request)):
                share = c.prior * weight
                mass[c.tactic] = mass.get(c.tactic, 0.0) + share
                if c.tactic not in best or share > best[c.tactic][0]:
                    best[c.tactic] = (share, c.source)
        total = sum(mass.values())
        if total <= 0:
            return []
        merged = [Candidate(t, m / total, best[t][1]) for t, m in mass.items()]
        return sorted(merged, key=lambda c: -c.prior)


# ---------------------------------------------------------------------------------------------
# Building, and the doctor's view


def make_source(config: LLMConfig, **kwargs: Any) -> GeminiSource | OpenAISource:
    """The model source ``config`` names (no network until its first proposal)."""
    return GeminiSource(config, **kwargs) if config.provider == "gemini" else OpenAISource(
        config, **kwargs
    )


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
    return MixedSource([(model, config.weight_llm), (heuristics, config.weight_heuristic)]), None


# What `alphaquant doctor` shows about the model: SDK, key, and whether the endpoint answers.
@dataclass(frozen=True)
class LLMStatus:
    provider: str
    model: str | None
    endpoint: str
    sdk_installed: bool
    key_set: bool
    key_variable: str | None  # where the key was found (or the first place looked)
    reachable: bool | None  # an HTTP answer came back; None: not probed
    ok: bool | None  # that answer was a success; None: not probed
    detail: str

    def summary(self) -> str:
        """One line for a table."""
        key = f"key in {self.key_variable}" if self.key_set else "no key"
        return f"{self.provider} {self.model or '(server default)'} at {self.endpoint}: " \
               f"{key}; {self.detail}"


def status(
    config: LLMConfig | None = None, *, probe: bool = True, timeout: float = 5.0
) -> LLMStatus:
    """Whether a key is set and, if ``probe``, whether the endpoint answers a cheap request.

    The cheap request lists models (OpenAI-compatible) or gets the model (Gemini): no tokens
    are spent. It has a short timeout and no retries; it never raises.
    """
    config = replace(config or LLMConfig(), timeout=timeout, retries=0, use_cache=False)
    key, variable = config.api_key()
    source = make_source(config)
    found = LLMStatus(
        provider=config.provider, model=config.model_name, endpoint=source.endpoint(),
        sdk_installed=sdk_available(config.provider), key_set=key is not None,
        key_variable=variable or config.key_variables()[0], reachable=None, ok=None, detail="",
    )
    if not found.sdk_installed:
        return replace(found, detail="SDK not installed: pip install 'alphaquant[llm]'")
    if config.provider == "gemini" and key is None and not config.base_url:
        return replace(found, detail=f"set {' or '.join(config.key_variables())}")
    if not probe:
        return replace(found, detail="not probed")
    try:
        client = source.client()
        if config.provider == "gemini":
            client.models.get(model=config.model_name)
        else:
            listed = [m.id for m in client.models.list()]
            if config.model is None and listed:
                found = replace(found, model=listed[0])
    except Exception as e:
        trouble = source._classify(e)
        answered = trouble.status is not None
        return replace(found, reachable=answered, ok=False, detail=trouble.summary)
    return replace(found, reachable=True, ok=True, detail="endpoint answers")
