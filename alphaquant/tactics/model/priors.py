"""Priors for a model's answer: from rank alone, or from the tokens' log-probabilities.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

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
