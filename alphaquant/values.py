"""Checked config values: each field of a frozen config dataclass has its declared type and lies
in its range, checked when the value is made (``__post_init__``), so a bad value is one line
naming the key, the value and what is allowed, whatever read it (a config file, a flag, a run
store). A leaf: only errors below it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaquant.errors import InputError


# A closed or open interval of numbers (None: unbounded on that side).
@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def words(self) -> str:
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
        high = None if self.high is None else f"{'<' if self.high_open else '<='} {self.high:g}"
        return " and ".join(w for w in (low, high) if w)


POSITIVE = Range(0, None, low_open=True)
NOT_NEGATIVE = Range(0)
AT_LEAST_1 = Range(1)
SHARE = Range(0, 1)  # a fraction of something, 0 to 1


def _shown(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _allowed(kind: Any, where: Range | tuple[str, ...] | None) -> tuple[bool, str]:
    """(whether None is allowed, what is allowed in words) for a field of type ``kind``."""
    args = typing.get_args(kind)
    optional = (typing.get_origin(kind) in (typing.Union, types.UnionType)
                and type(None) in args)
    base = next((a for a in args if a is not type(None)), kind) if optional else kind
    if isinstance(where, tuple):
        words = "one of " + ", ".join(where)
    elif base is bool:
        words = "true or false"
    elif base is int:
        words = "a whole number" + (f" {where.words()}" if where else "")
    elif base is float:
        words = "a finite number" + (f" {where.words()}" if where else "")
    elif base is Path:
        words = "a path (a string)"
    elif base is str:
        words = "a string"
    else:
        words = str(base)
    return optional, words + (" (or left out)" if optional else "")


def _ok(value: Any, kind: Any, where: Range | tuple[str, ...] | None) -> bool:
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        if value is None:
            return type(None) in args
        kind = next(a for a in args if a is not type(None))
    if isinstance(where, tuple):
        return isinstance(value, str) and value in where
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        return where is None or value in where
    if kind is Path:
        return isinstance(value, (str, Path))
    if kind is str:
        return isinstance(value, str)
    return True  # a type this checker does not know: its own code checks it


def check_fields(obj: Any, table: str, **ranges: Range | tuple[str, ...]) -> None:
    """Check every field of the dataclass ``obj`` against its annotated type (bool, int, float,
    str, Path, or those or None), numbers finite and within ``ranges[name]``, strings among
    ``ranges[name]`` when that is a tuple.

    Raises:
      InputError: ``[table] key = value: allowed: …`` for the first field that fails.
    """
    cls: type = type(obj)
    hints = _hints(cls)
    for f in dataclasses.fields(obj):
        value, where = getattr(obj, f.name), ranges.get(f.name)
        if not _ok(value, hints[f.name], where):
            _, words = _allowed(hints[f.name], where)
            key = f"[{table}] {f.name}" if table else f.name
            raise InputError(f"{key} = {_shown(value)}: allowed: {words}")


def unknown_keys(table: str, given: typing.Iterable[str], known: typing.Iterable[str]) -> None:
    """An InputError naming the keys of ``given`` that are not ``known``, and the known ones."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        keys = "key" if len(unknown) == 1 else "keys"
        where = f"[{table}]: unknown" if table else "unknown top-level"
        raise InputError(f"{where} {keys} {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(known))})")
