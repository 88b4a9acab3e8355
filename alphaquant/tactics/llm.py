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

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alphaquant.tactics.base import Candidate, ProposalRequest, TacticSource
from alphaquant.tactics.llm_cache import Answer, AnswerCache, cache_key
from alphaquant.tactics.llm_prompt import Prompt, build_prompt, parse_tactics

if TYPE_CHECKING:
    from alphaquant.config import Settings

from alphaquant.tactics.llm_config import (
    FAILURES_TO_OPEN,
    FATAL_STATUS,
    GEMINI_API_VERSION,
    LLMConfig,
    ModelChoice,
    llm_config,
    openai_base_url,
    retryable,
    sdk_available,
)
from alphaquant.tactics.llm_priors import logprob_priors, rank_priors
from alphaquant.tactics.mixed import MixedSource

log = logging.getLogger(__name__)

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
        return _Trouble(code, retryable(code), f"HTTP {code} {message}".strip())
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
            return _Trouble(code, retryable(code), f"HTTP {code} {message}".strip())
        if isinstance(error, (openai.APITimeoutError, openai.APIConnectionError)):
            return _Trouble(None, True, f"{type(error).__name__}: {error}")
        if _transport_error(error):
            return _Trouble(None, True, f"{type(error).__name__}: {error}")
        return _Trouble(None, False, f"{type(error).__name__}: {error}")

    def endpoint(self) -> str:
        return openai_base_url(self.config.base_url) or "api.openai.com"


# ---------------------------------------------------------------------------------------------
# Building, and the doctor's view


def make_source(config: LLMConfig, **kwargs: Any) -> GeminiSource | OpenAISource:
    """The model source ``config`` names (no network until its first proposal)."""
    return GeminiSource(config, **kwargs) if config.provider == "gemini" else OpenAISource(
        config, **kwargs
    )


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


