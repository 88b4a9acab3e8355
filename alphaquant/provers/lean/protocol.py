"""The Lean REPL's protocol (leanprover-community/repl, ``REPL/JSON.lean``): its framing, its
error, and the readers of JSON values that both directions share.

The models are named after their Lean structures: requests in ``requests.py``, responses in
``responses.py``, goal text in ``goals.py``. Wire keys are camelCase, fields there are
snake_case. ``requests.parse_request`` and ``responses.parse_response`` are the only places that
read the wire format; ``requests.encode_request`` the only place that writes it.

Framing (REPL ``Main.lean``): a request is JSON followed by a blank line; the REPL joins the lines
of a request, so a request must not rely on raw newlines. A response is pretty-printed JSON that
may span lines and ends with a blank line.
"""

from __future__ import annotations

import json
from typing import Any


class ProtocolError(ValueError):
    """A JSON value that is not one of the REPL's requests or responses."""


def json_object(obj: object, what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ProtocolError(f"a REPL {what} must be a JSON object, not {short(obj)}")
    return obj


def json_list(obj: object) -> list[Any]:
    if not isinstance(obj, list):
        raise ProtocolError(f"expected a JSON array, not {short(obj)}")
    return obj


def json_int(obj: object) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise ProtocolError(f"expected an integer, not {short(obj)}")
    return obj


def json_str(obj: object) -> str:
    if not isinstance(obj, str):
        raise ProtocolError(f"expected a string, not {short(obj)}")
    return obj


def has(o: dict[str, Any], **types: type) -> bool:
    """Every key is present with a value of its type (a bool is no int)."""
    return all(k in o and _is(o[k], t) for k, t in types.items())


def optional(o: dict[str, Any], key: str, t: type) -> Any:
    """``o[key]`` if it is present and not null, else None; a value of another type raises."""
    value = o.get(key)
    if value is not None and not _is(value, t):
        raise ProtocolError(f"{key!r} must be {t.__name__}, not {short(value)}")
    return value


def _is(value: object, t: type) -> bool:
    return isinstance(value, t) and (t is bool or not isinstance(value, bool))


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def short(obj: object) -> str:
    """A JSON value for an error message, at most 120 characters."""
    text = json.dumps(obj, ensure_ascii=False) if not isinstance(obj, str) else repr(obj)
    return text if len(text) <= 120 else text[:117] + "..."
