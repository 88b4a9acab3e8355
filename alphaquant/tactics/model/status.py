"""What `alphaquant doctor` shows about the model: SDK, key, and whether the endpoint answers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from alphaquant.tactics.model.choose import make_source
from alphaquant.tactics.model.config import LLMConfig, sdk_available

log = logging.getLogger(__name__)


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
