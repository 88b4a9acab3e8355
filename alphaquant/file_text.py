"""A user's file as bytes on disk and as the text the tool works on.

The text is UTF-8 with LF line endings and no byte-order mark: what the locators, the provers'
sessions (coqtop refuses a BOM that coqc accepts) and the splices expect. ``decode`` sets aside
what the file had (a BOM; CRLF endings, when every line ends so), and ``encode`` puts it back, so
``encode(*decode(data)) == data`` for any UTF-8 ``data``: a file's bytes change only where a
proof was spliced. A file that mixes LF and CRLF is read as it is (its CR characters are blanks
to the locators and to coqc), and a spliced line ends in LF.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BOM = "\ufeff"


# How a file's text is laid out in its bytes, besides UTF-8.
@dataclass(frozen=True)
class Layout:
    bom: bool = False  # the file starts with a UTF-8 byte-order mark
    crlf: bool = False  # every line ends in CRLF (the text holds LF)


def decode(data: bytes) -> tuple[str, Layout]:
    """The text of a file's bytes and how they lay it out.

    Raises:
      UnicodeDecodeError: not UTF-8.
    """
    text = data.decode("utf-8")
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    lines = text.count("\n")
    crlf = lines > 0 and text.count("\r\n") == lines
    if crlf:
        text = text.replace("\r\n", "\n")
    return text, Layout(bom, crlf)


def encode(text: str, layout: Layout) -> bytes:
    """The bytes of ``text`` laid out as ``layout`` says (``decode``'s inverse)."""
    if layout.crlf:
        text = text.replace("\n", "\r\n")
    return ((BOM if layout.bom else "") + text).encode("utf-8")


def read_text(path: Path) -> str:
    """The text of the file at ``path`` (OSError and UnicodeDecodeError as reading raises them)."""
    return decode(path.read_bytes())[0]
