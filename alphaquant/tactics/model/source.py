"""Tactic candidates from language models: the policy every model source shares (ModelSource);
Gemini (gemini_source.py) and OpenAI-compatible servers (openai_source.py) fill in the requests.

Both sources ask for ``k`` tactics as a JSON list (tactics/model/prompt.py builds the prompt and
parses the answer), answer repeated prompts from a SQLite cache (tactics/model/cache.py), and never
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
from typing import Any

from alphaquant.tactics.base import Candidate, ProposalRequest
from alphaquant.tactics.model.cache import Answer, AnswerCache, cache_key
from alphaquant.tactics.model.config import FAILURES_TO_OPEN, FATAL_STATUS, LLMConfig
from alphaquant.tactics.model.priors import logprob_priors, rank_priors
from alphaquant.tactics.model.prompt import Prompt, build_prompt, parse_tactics

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# The sources


# What went wrong with one request: HTTP status (None: no answer) and whether to retry.
@dataclass(frozen=True)
class Trouble:
    status: int | None
    retryable: bool
    summary: str


def transport_error(e: BaseException) -> bool:
    """Timeouts and connection failures of any HTTP stack the SDKs use."""
    module = type(e).__module__ or ""
    return isinstance(e, (ConnectionError, TimeoutError)) or module.startswith(
        ("httpx", "httpcore", "aiohttp", "requests", "urllib3")
    )


class ModelSource:
    """The part both providers share: prompt, cache, budget, retries, circuit, priors."""

    provider = ""
    remote = True  # behind a network: MixedSource waits for it only its share of the time

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
        self._client_lock = threading.Lock()  # the client is made once, by a warm-up or a call
        self._client: Any = None
        self.calls = 0  # model calls made (not counting retries and cache hits)
        self.requests = 0  # HTTP requests made, retries included
        self.tokens = 0
        self.cache_hits = 0
        self.answers = 0  # answers the model sent, turned into candidates (not cache hits)
        self.received = 0  # tactic texts those answers held, as parsed
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
            return self._candidates(answer, request.language, fresh=False)
        if not self._admit():
            return []
        answer = self._call_with_retries(prompt, model, k)
        if answer is None:
            return []
        candidates = self._candidates(answer, request.language)
        if candidates and self.cache is not None:  # an unusable answer is not kept
            self.cache.put(key, self.provider, model, answer)
        return candidates

    def counts(self) -> dict[str, int]:
        """What this source asked and received: for `search --json` (``model``)."""
        return {"calls": self.calls, "answers": self.answers, "received": self.received,
                "cache_hits": self.cache_hits}

    # -- what subclasses provide --------------------------------------------------------------

    def _make_client(self) -> Any:
        raise NotImplementedError

    def _request(self, prompt: Prompt, model: str, k: int) -> Answer:
        raise NotImplementedError

    def _classify(self, error: BaseException) -> Trouble:
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
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def warm(self) -> None:
        """Import the SDK and make the client on a thread of its own, now: the import takes a
        second or more on a loaded machine, and the first call would otherwise pay it out of a
        goal's time (the search waits for a model only its share). No request is sent."""

        def make() -> None:
            try:
                self.client()
            except Exception:  # noqa: BLE001 - the first call makes it again and says why
                log.debug("%s: making the client ahead failed", self.provider, exc_info=True)

        threading.Thread(target=make, name="alphaquant-model-warm", daemon=True).start()

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

    def _failed(self, trouble: Trouble, attempts: int) -> None:
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

    def _candidates(self, answer: Answer, language: str, *, fresh: bool = True) -> list[Candidate]:
        tactics = parse_tactics(answer.text, language)
        if fresh:
            with self._lock:
                self.answers += 1
                self.received += len(tactics)
        priors = None
        if answer.token_logprobs:
            priors = logprob_priors(answer.text, answer.token_logprobs, tactics)
        if priors is None:
            priors = rank_priors(len(tactics))
        return [Candidate(t, p, self.provider) for t, p in zip(tactics, priors, strict=True)]
