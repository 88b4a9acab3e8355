"""What `alphaquant batch` was asked to do: the options, checked, and the settings they select.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaquant.config import CONFIG_DIR, Settings, apply_overrides, load_settings
from alphaquant.errors import InputError

log = logging.getLogger(__name__)




# What `alphaquant batch` was asked to do.
@dataclass(frozen=True)
class BatchOptions:
    project: Path | None = None  # None only with resume
    config: Path | None = None  # None: configs/overnight.toml (a resume: the run's own)
    run_dir: Path | None = None  # None: runs/<timestamp> under runs_root
    resume: Path | None = None
    budget_per_goal: float | None = None
    write: bool = False
    offline: bool = False
    force: bool = False  # continue a run directory made with another config
    runs_root: Path = Path("runs")
    # None for these five: as the run's first session had them (on a resume), else the default.
    workers: int | None = None  # default: os.cpu_count() (Ray: the cluster's CPUs)
    hours: float | None = None  # a deadline for each session
    executor: str | None = None  # local (default) | ray
    ray_address: str | None = None
    second_pass: float | None = None  # budget factor of the second pass (default 3; 0: off)
    learn_exclude: tuple[str, ...] = ()  # files or modules not to learn from (adds to config)


def settings_for(options: BatchOptions, stored: Settings | None) -> tuple[Settings, str]:
    """(settings, config text) the options ask for; a resume without --config keeps ``stored``."""
    if stored is not None and options.config is None:
        base, text = stored, ""
    else:
        path = options.config or CONFIG_DIR / "overnight.toml"
        base = load_settings(path)
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
    settings = apply_overrides(
        base, budget_seconds=options.budget_per_goal, offline=True if options.offline else None,
    )
    if settings.search.budget_seconds <= 0:
        raise InputError(f"budget per goal must be positive, got {settings.search.budget_seconds}")
    if options.learn_exclude:
        settings = dataclasses.replace(settings, learn=dataclasses.replace(
            settings.learn, exclude=(*settings.learn.exclude, *options.learn_exclude)))
    return settings, text


INHERITED = ("workers", "hours", "executor", "ray_address", "second_pass")
DEFAULTS = {"executor": "local", "second_pass": 3.0}


def resolve_options(options: BatchOptions, stored: dict[str, Any]) -> BatchOptions:
    """``options`` with each unset run option (workers, hours, executor, Ray address, second
    pass) taken from the run's first session, else its default; checked."""
    values = {k: getattr(options, k) for k in INHERITED}
    for key, value in values.items():
        if value is None:
            values[key] = stored.get(key, DEFAULTS.get(key))
    options = dataclasses.replace(options, **values)
    if options.executor not in ("local", "ray"):
        raise InputError(f"--executor must be local or ray, got {options.executor!r}")
    if options.workers is not None and options.workers < 1:
        raise InputError(f"--workers must be at least 1, got {options.workers}")
    if options.hours is not None and options.hours <= 0:
        raise InputError(f"--hours must be positive, got {options.hours:g}")
    if options.second_pass is None or options.second_pass < 0:
        raise InputError(f"--second-pass must be 0 or more, got {options.second_pass}")
    return options


def options_json(options: BatchOptions) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(options).items()}
