"""A Lean file cut where the REPL needs it: the import header, sent once, and the body after it.

Pure text (no process): the REPL backend sends the header in a fresh session (``import`` needs
one) and the body in the header's environment; probes insert top-level text at ``body_start``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


# A Lean file cut where the REPL needs it: the header starts a session, the body runs in it.
@dataclass(frozen=True)
class Source:
    header: str  # comments, imports and leading `open`s; "" if none
    body: str  # the rest; its line 1 is the file's line ``line_offset + 1``, columns unchanged
    line_offset: int
    body_start: int  # offset in the file of the body's first character (after the padding)
    padding: int  # spaces put before the body to keep the columns of its first line


_SPACE = re.compile(r"\s+|--[^\n]*|/-")
_HEADER_COMMAND = re.compile(
    r"(?:module|prelude)\b"
    r"|(?:(?:public|private)\s+)?(?:meta\s+)?import\s+(?:all\s+)?[^\s/]+"
    r"|open\s+[^\n]*"
)


def split_source(text: str) -> Source:
    """Cut a file after its imports and the `open` lines right after them.

    The header is sent once without an environment (``import`` needs a fresh session); the body
    is sent with the header's environment, with its positions mapped back by ``line_offset``.
    """
    i = end = 0
    while True:
        i = _skip_space(text, i)
        m = _HEADER_COMMAND.match(text, i)
        if m is None or (m[0].startswith("open") and re.search(r"\bin\s*(--.*)?$", m[0])):
            break
        i = end = m.end()
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[end:line_end]
    if not rest.strip() or rest.strip().startswith("--"):
        start, padding = min(line_end + 1, len(text)), 0
    else:
        start, padding = end, end - (text.rfind("\n", 0, end) + 1)
    if end == 0:
        start, padding = 0, 0
    return Source(
        header=text[:end],
        body=" " * padding + text[start:],
        line_offset=text.count("\n", 0, start),
        body_start=start,
        padding=padding,
    )


def _skip_space(text: str, i: int) -> int:
    """Past whitespace and comments (block comments nest)."""
    while m := _SPACE.match(text, i):
        if m[0] != "/-":
            i = m.end()
            continue
        depth, i = 1, m.end()
        while depth and i < len(text):
            if text.startswith("/-", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("-/", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
    return i


