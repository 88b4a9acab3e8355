"""Any OpenAI-compatible chat server through the openai SDK (imported late)."""

from __future__ import annotations

import logging
from typing import Any

from alphaquant.tactics.model.cache import Answer
from alphaquant.tactics.model.config import LLMConfig, openai_base_url, retryable
from alphaquant.tactics.model.prompt import Prompt
from alphaquant.tactics.model.source import ModelSource, Trouble, transport_error

log = logging.getLogger(__name__)


class OpenAISource(ModelSource):
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

    def _classify(self, error: BaseException) -> Trouble:
        import openai

        if isinstance(error, openai.APIStatusError):
            code = int(error.status_code)
            message = " ".join(str(error.message).split())[:200]
            return Trouble(code, retryable(code), f"HTTP {code} {message}".strip())
        if isinstance(error, (openai.APITimeoutError, openai.APIConnectionError)):
            return Trouble(None, True, f"{type(error).__name__}: {error}")
        if transport_error(error):
            return Trouble(None, True, f"{type(error).__name__}: {error}")
        return Trouble(None, False, f"{type(error).__name__}: {error}")

    def endpoint(self) -> str:
        return openai_base_url(self.config.base_url) or "api.openai.com"
