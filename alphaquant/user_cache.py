"""alphaquant's user cache directory: answers, learned corpora and priors live under it."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """alphaquant's user cache directory ($ALPHAQUANT_CACHE_DIR overrides it)."""
    override = os.environ.get("ALPHAQUANT_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("alphaquant"))
