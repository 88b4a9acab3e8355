"""Which Coq is installed: its commands, its version, where its libraries live.

Coq 8 installs ``coqtop``, ``coqc`` and ``coqdep``. Rocq 9 installs ``rocq`` with subcommands
(``rocq repl``, ``rocq compile``, ``rocq dep``) and may install the old names as well (Debian's
9.2 package does). The old names are used where they exist (they are the only
ones Coq 8 has), ``rocq``'s subcommands otherwise. The version is read once per PATH from
``coqc --version`` ("The Coq Proof Assistant, version 8.16.1", "The Rocq Prover, version 9.2").

Rocq 9 renamed the standard library's logical root: ``Coq`` became ``Corelib`` (the prelude,
under ``coqc -where``/theories) and ``Stdlib`` (under user-contrib/Stdlib); ``From Coq`` still
loads with a deprecation warning, as do names such as ``Coq.Init.Logic.not``. Text the tool
writes names the roots the prover uses (``stdlib_root``, ``prelude_root``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The seconds a ``--version`` or ``-where`` query may take.
QUERY_SECONDS = 20.0


# The commands of one installation, each an argv prefix, and what they say about themselves.
@dataclass(frozen=True)
class Toolchain:
    coqtop: tuple[str, ...]  # the interactive toplevel (``coqtop`` / ``rocq repl``)
    coqc: tuple[str, ...]  # the compiler (``coqc`` / ``rocq compile``)
    coqdep: tuple[str, ...]  # the dependency lister (``coqdep`` / ``rocq dep``)
    coqchk: tuple[str, ...]  # the standalone checker (``coqchk`` / ``rocq check``)
    version: tuple[int, ...]  # (8, 16, 1), (9, 2); () when it could not be read
    version_text: str  # as printed: "8.16.1", "9.2"
    where: Path | None  # ``coqc -where``: the folder of the installed libraries

    @property
    def rocq(self) -> bool:
        """Rocq 9 or later (``Stdlib``/``Corelib`` roots, ``From Stdlib``)."""
        return self.version >= (9,)

    @property
    def stdlib_root(self) -> str:
        """The logical root to write in ``From … Require`` for the standard library."""
        return "Stdlib" if self.rocq else "Coq"

    @property
    def prelude_root(self) -> str:
        """The logical root of the prelude (``Init``, ``Classes``): ``Corelib`` from Rocq 9, for
        fully qualified names such as ``Corelib.Init.Logic.not`` in generated text."""
        return "Corelib" if self.rocq else "Coq"

    def stdlib_folders(self) -> tuple[Path, ...]:
        """The folders of the standard library's ``.vo`` files: ``theories`` under
        ``coqc -where`` (all of it up to Coq 8, the prelude ``Corelib`` from Rocq 9) and, from
        Rocq 9, ``user-contrib/Stdlib``; other packages in user-contrib (CoqHammer, …) are not
        the standard library."""
        if self.where is None:
            return ()
        found = (self.where / "theories", self.where / "user-contrib" / "Stdlib")
        return tuple(f.resolve() for f in found if f.is_dir())


def parse_version(text: str) -> tuple[tuple[int, ...], str]:
    """(numbers, as printed) of a ``--version`` answer; ((), "") when it names none."""
    found = re.search(r"version\s+(\d+(?:\.\d+)*)", text)
    if found is None:
        return (), ""
    return tuple(int(n) for n in found.group(1).split(".")), found.group(1)


def _commands() -> tuple[tuple[str, ...], ...] | None:
    """(coqtop, coqc, coqdep, coqchk) argv prefixes, or None."""
    old = [shutil.which(n) for n in ("coqtop", "coqc", "coqdep", "coqchk")]
    if old[0] is not None and old[1] is not None:
        return (old[0],), (old[1],), (old[2] or "coqdep",), (old[3] or "coqchk",)
    rocq = shutil.which("rocq")
    if rocq is None:
        return None
    return (rocq, "repl"), (rocq, "compile"), (rocq, "dep"), (rocq, "check")


def _ask(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=QUERY_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr if done.returncode == 0 else ""


@functools.lru_cache(maxsize=8)
def _toolchain(path: str) -> Toolchain | None:
    commands = _commands()
    if commands is None:
        return None
    coqtop, coqc, coqdep, coqchk = commands
    version, text = parse_version(_ask([*coqc, "--version"]))
    where = _ask([*coqc, "-where"]).strip()
    return Toolchain(coqtop, coqc, coqdep, coqchk, version, text,
                     Path(where) if where and Path(where).is_dir() else None)


def toolchain() -> Toolchain | None:
    """The Coq on PATH (asked once per PATH), or None when neither ``coqtop``/``coqc`` nor
    ``rocq`` is there. An answer whose toplevel has since gone from disk is asked again."""
    path = os.environ.get("PATH", "")
    found = _toolchain(path)
    if found is not None and not os.path.exists(found.coqtop[0]):
        _toolchain.cache_clear()
        found = _toolchain(path)
    return found


def stdlib_root() -> str:
    """``Stdlib`` on Rocq 9 and later, ``Coq`` before (and when no Coq is found)."""
    found = toolchain()
    return found.stdlib_root if found is not None else "Coq"


def prelude_root() -> str:
    """``Corelib`` on Rocq 9 and later, ``Coq`` before (and when no Coq is found)."""
    found = toolchain()
    return found.prelude_root if found is not None else "Coq"
