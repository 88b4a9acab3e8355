"""Gemini through the google-genai SDK (imported late: the core install does not need it)."""

from __future__ import annotations

import logging
from typing import Any

from alphaquant.tactics.model.cache import Answer
from alphaquant.tactics.model.config import GEMINI_API_VERSION, retryable
from alphaquant.tactics.model.prompt import Prompt
from alphaquant.tactics.model.source import ModelSource, Trouble, transport_error

log = logging.getLogger(__name__)


class GeminiSource(ModelSource):
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

    def _classify(self, error: BaseException) -> Trouble:
        return _classify_gemini(error)

    def endpoint(self) -> str:
        return self.config.base_url or "generativelanguage.googleapis.com"


class _NoKey(Exception):
    """No API key where one is needed (a configuration problem: opens the circuit)."""


def _classify_gemini(error: BaseException) -> Trouble:
    from google.genai import errors

    if isinstance(error, _NoKey):
        return Trouble(401, False, str(error))
    if isinstance(error, errors.APIError):
        code = int(error.code or 0)
        message = " ".join(str(error.message or error.status or "").split())[:200]
        return Trouble(code, retryable(code), f"HTTP {code} {message}".strip())
    if transport_error(error):
        return Trouble(None, True, f"{type(error).__name__}: {error}")
    return Trouble(None, False, f"{type(error).__name__}: {error}")
