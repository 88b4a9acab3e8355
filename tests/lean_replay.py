"""The Lean backend over the replay REPL (tests/replay_repl.py), through lean-interact.

lean-interact starts ``<lake> env <repl>`` in the project; here ``<lake>`` is a shim that runs the
replay on the given transcripts instead, so the library's real process handling (pipes, framing,
timeouts, kills, restarts, its session cache) runs against recorded answers.
"""

from __future__ import annotations

import itertools
import shlex
import sys
import tempfile
from pathlib import Path

from alphaquant.provers.lean.options import LeanConfig
from alphaquant.provers.lean.prover import LeanProver
from alphaquant.provers.lean.session import LeanSession

REPLAY = Path(__file__).with_name("replay_repl.py")
_TMP = tempfile.TemporaryDirectory(prefix="aq-lean-replay-")
_COUNT = itertools.count()
# The transcripts have no options command and no heartbeat limit: replay without them.
REPLAY_CONFIG = LeanConfig(max_heartbeats=None, command_timeout=20.0)


def replay_project(*names: str, flags: tuple[str, ...] = (), lakefile: str = "",
                   toolchain: str = "v4.34.0") -> Path:
    """A project folder (lean-toolchain, a lakefile, and a ``lake`` shim that replays)."""
    folder = Path(_TMP.name) / f"p{next(_COUNT)}"
    folder.mkdir()
    (folder / "lean-toolchain").write_text(f"leanprover/lean4:{toolchain}\n")
    (folder / "lakefile.toml").write_text(lakefile or 'name = "T"\n')
    transcripts = [arg for name in names for arg in ("--transcript", name)]
    args = [sys.executable, str(REPLAY), *transcripts, *flags]
    shim = folder / "lake"
    shim.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(a) for a in args) + "\n")
    shim.chmod(0o755)
    return folder


def replay_session(*names: str, flags: tuple[str, ...] = (),
                   config: LeanConfig | None = None, project: Path | None = None) -> LeanSession:
    folder = project or replay_project(*names, flags=flags)
    return LeanSession(folder, folder, config or REPLAY_CONFIG, lake=str(folder / "lake"))


def replay_prover(*names: str, flags: tuple[str, ...] = (), config: LeanConfig | None = None,
                  lakefile: str = "", toolchain: str = "v4.34.0") -> LeanProver:
    folder = replay_project(*names, flags=flags, lakefile=lakefile, toolchain=toolchain)
    session = replay_session(config=config, project=folder)
    return LeanProver(session, project=folder)
