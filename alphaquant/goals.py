"""Open goals located in Lean and Coq text.

Contract: ``locate(text, path)`` lists every open goal of a file in source order;
``find_goals(path)`` reads the file and does the same; ``declaration_names(text, path)`` lists
the file's declared names. Comments, strings and identifiers that merely contain
``sorry``/``admit`` are ignored. The language is the file's suffix (sites/site.py
``language_of``); the goal kinds of each language are described by its locator,
sites/coq.py and sites/lean.py, and what a GoalSite holds by sites/site.py.
"""

from __future__ import annotations

from pathlib import Path

from alphaquant import file_text
from alphaquant.errors import InputError
from alphaquant.sites import coq, lean
from alphaquant.sites.site import GoalSite, language_of


def read_proof_file(path: Path) -> str:
    """The text of the .v or .lean file at ``path``: LF line endings, no byte-order mark
    (file_text.py: a write-back puts back the file's own).

    Raises:
      InputError: another suffix, no such file, a directory, or not UTF-8 text.
    """
    language_of(path)
    try:
        return file_text.read_text(path)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a proof file") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset "
                         f"{e.start}); save it as UTF-8") from None


def find_goals(path: Path) -> list[GoalSite]:
    """The open goals of the file at ``path``; a missing or unreadable file is an InputError."""
    return locate(read_proof_file(path), path)


def locate(text: str, path: Path) -> list[GoalSite]:
    """Every open goal of ``text`` (the contents of ``path``) in source order."""
    if language_of(path) == "coq":
        return coq.locate(text, path)
    return lean.locate(text, path)


def declaration_names(text: str, path: Path) -> list[str]:
    """The names of the file's named declarations, in order, each once."""
    decls = coq.declarations(text) if language_of(path) == "coq" else lean.declarations(text)
    return list(dict.fromkeys(d.name for d in decls if d.name))
