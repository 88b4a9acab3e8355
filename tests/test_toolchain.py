"""Which Coq is installed: the commands (coq* or rocq's subcommands), the version, the standard
library's root; on the real installation (Coq 8.16 here, Rocq 9.2 in `make test-rocq`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from alphaquant import proof
from alphaquant.provers.base import Solved
from alphaquant.provers.coq.toolchain import parse_version, toolchain
from alphaquant.provers.negation import coq_negation
from tests.conftest import needs_coq
from tests.test_coq_prover import site, write


def test_parse_version_of_both_banners() -> None:
    assert parse_version("The Coq Proof Assistant, version 8.16.1\ncompiled with OCaml 4.14.1"
                         ) == ((8, 16, 1), "8.16.1")
    assert parse_version("The Rocq Prover, version 9.2\ncompiled with OCaml 5.4.1"
                         ) == ((9, 2), "9.2")
    assert parse_version("coqc: unknown option") == ((), "")


def test_nothing_on_path_is_no_toolchain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert toolchain() is None


@pytest.mark.coq
@needs_coq
def test_the_standard_library_root_loads_without_a_warning(tmp_path: Path) -> None:
    """What the tool writes for the standard library (``From <root> Require``, the prelude's
    qualified names, a negation's statement) compiles on this Coq and draws no deprecation
    warning (Rocq 9 warns on ``From Coq`` and ``Coq.Init.…``)."""
    tools = toolchain()
    assert tools is not None and tools.version >= (8,)
    assert tools.stdlib_root == ("Stdlib" if tools.version >= (9,) else "Coq")
    assert tools.where is not None and tools.where.is_dir()
    # the prelude's .vo lies in a standard library folder, CoqHammer's (if here) in none
    logic = next(f for f in tools.stdlib_folders() if (f / "Init" / "Logic.vo").exists())
    assert logic.is_relative_to(tools.where.resolve())
    hammer = tools.where / "user-contrib" / "Hammer"
    assert not any(hammer.resolve().is_relative_to(f) for f in tools.stdlib_folders())
    assert tools.prelude_root == ("Corelib" if tools.version >= (9,) else "Coq")
    write(tmp_path, "R.v", f"From {tools.stdlib_root} Require Import Arith Lia.\n"
                           "Lemma r : forall n : nat, n + 0 = n.\nProof. lia. Qed.\n"
                           f"Check ({tools.prelude_root}.Init.Logic.not (r = r)).\n"
                           f"Lemma neg : {coq_negation('Lemma two : 1 + 1 = 3.')}.\n"
                           "Proof. discriminate. Qed.\n")
    done = subprocess.run([*tools.coqc, "R.v"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "deprecated" not in done.stdout + done.stderr


@pytest.mark.coq
@pytest.mark.skipif(shutil.which("rocq") is None, reason="no `rocq` command (Coq before 9)")
def test_rocq_alone_runs_the_prover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Rocq 9 with only ``rocq`` and ``rocqchk`` on PATH (rocq-core without the coq* names;
    ``rocq check`` runs the ``rocqchk`` beside it): its subcommands serve."""
    only = tmp_path / "bin"
    only.mkdir()
    for name in ("rocq", "rocqchk"):
        (only / name).symlink_to(shutil.which(name) or "")
    monkeypatch.setenv("PATH", str(only))
    tools = toolchain()
    assert tools is not None and tools.coqtop[1:] == ("repl",) and tools.version >= (9,)
    assert tools.coqc[1:] == ("compile",) and tools.coqchk[1:] == ("check",)
    from alphaquant.provers.coq.prover import CoqProver

    text = "Lemma one : 1 + 1 = 2.\nProof.\nAdmitted.\n"
    path = write(tmp_path, "One.v", text)
    with CoqProver() as prover:
        root = prover.open(site(path, text, "one"), text)
        assert prover.apply(root, "reflexivity.", 5) == Solved(("reflexivity.",))
        proved = text.replace("Admitted.", "reflexivity.\nQed.")
        assert prover.check_file(path, proved).ok
        assert not prover.check_file(path, text.replace("2.", "3.", 1).replace(
            "Admitted.", "reflexivity.\nQed.")).ok
        # the acceptance rule (rocq compile, then rocq check) passes an honest proof and
        # refuses one through an Admitted lemma
        assert proof.verify(prover, path, text, proved, ("reflexivity.",), 0).ok
        cheat = "Lemma two : 1 + 1 = 2.\nProof.\nAdmitted.\n" + text
        path.write_text(cheat, encoding="utf-8")
        at = cheat.index("Lemma one")
        head, _, tail = cheat.rpartition("Admitted.")
        spliced = head + "exact two.\nQed." + tail
        assert not proof.verify(prover, path, cheat, spliced, ("exact two.",), at).ok
