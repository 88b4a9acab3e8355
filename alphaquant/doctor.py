"""What `alphaquant doctor` checks: provers, Lean pieces, the language model."""

from __future__ import annotations

import shutil
from pathlib import Path

from alphaquant.checks import Check, tool_check
from alphaquant.config import Settings


def model_check(settings: Settings) -> Check:
    """Whether a model key is set and its endpoint answers (a cheap request, no tokens)."""
    try:
        from alphaquant.tactics.model.config import LLMConfig
        from alphaquant.tactics.model.status import status
    except ImportError as e:
        return Check("language model", False, "", f"pip install '.[llm]' ({e})")
    state = status(LLMConfig.from_table(settings.llm), probe=True, timeout=5.0)
    fix = "" if state.ok else "export GEMINI_API_KEY=… (or --llm openai --base-url URL)"
    return Check("language model", state.ok, state.summary(), fix)


def hammer_checks() -> list[Check]:
    """CoqHammer, the external provers its `hammer` calls, Coq Interval and Gappa (optional:
    without them the search offers none of their tactics, and says so in its log)."""
    from alphaquant.provers.coq.requires import GAPPA, HAMMER, INTERVAL, installed

    fix = "make install (apt-get install -y libcoq-hammer eprover z3 cvc4)"
    checks = []
    for lib, package in ((HAMMER, "libcoq-hammer"), (INTERVAL, "libcoq-interval"),
                         (GAPPA, "libcoq-gappa gappa libcoq-flocq")):
        where = installed(lib)
        checks.append(Check(lib.name, where is not None, str(where) if where else "",
                            "" if where else f"make install (apt-get install -y {package})"))
    return [
        *checks[:1],
        tool_check("eprover", "eprover", ["--version"], fix),
        tool_check("z3", "z3", ["--version"], fix),
        tool_check("cvc4", "cvc4", ["--version"], fix),
        *checks[1:],
        tool_check("gappa", "gappa", ["--version"], "make install (apt-get install -y gappa)"),
    ]


def trust_checks() -> list[Check]:
    """What the Coq acceptance rule needs besides coqc: dpdgraph (the dependency graph of a
    proof) and coqchk (the kernel names of what it rests on). Without them no proof counts."""
    from alphaquant.provers.coq.trust import dpdgraph_installed

    fix = "make install (apt-get install -y libcoq-dpdgraph coq)"
    found = dpdgraph_installed()
    return [Check("coq-dpdgraph", found is not None, str(found or ""), "" if found else fix),
            coqchk_check(fix)]


def coqchk_check(fix: str) -> Check:
    """The standalone checker: ``coqchk``, or ``rocq check`` where Rocq 9 has no old names."""
    from alphaquant.provers.coq.toolchain import toolchain

    tools = toolchain()
    if tools is None or shutil.which(tools.coqchk[0]) is None:
        return Check("coqchk", False, "", fix)
    return Check("coqchk", True, " ".join([Path(tools.coqchk[0]).name, *tools.coqchk[1:]]), "")


def coq_checks() -> list[Check]:
    """Coq's toplevel and compiler: the command that runs each (``coqtop``, or ``rocq repl``
    where Rocq 9 is installed without the old names) and the version."""
    from alphaquant.provers.coq.toolchain import toolchain

    fix = "apt-get install -y coq"
    tools = toolchain()
    if tools is None:
        return [Check("coqtop", False, "", fix), Check("coqc", False, "", fix)]

    def shown(argv: tuple[str, ...]) -> str:
        return " ".join([Path(argv[0]).name, *argv[1:]])

    version = tools.version_text or "version unknown"
    return [Check("coqtop", True, f"{version} ({shown(tools.coqtop)})", ""),
            Check("coqc", True, f"{version} ({shown(tools.coqc)})", "")]


def learning_check(settings: Settings) -> Check:
    """Whether suggestions learned from finished proofs are available: scipy (extra `learn`)
    and a recorded corpus (`alphaquant learn`)."""
    from alphaquant.tactics.learned.index import available

    missing = available()
    if missing is not None:
        return Check("learned tactics", False, "", f"pip install '.[learn]' ({missing})")
    if not settings.learn.enabled:
        return Check("learned tactics", True, "off (learn.enabled = false)", "")
    from alphaquant.provers.coq.record import coq_version
    from alphaquant.tactics.learned.corpus import Corpus, corpus_path

    path = settings.learn.corpus or corpus_path("coq", coq_version())
    if not path.is_file():
        return Check("learned tactics", False, "no corpus recorded",
                     "alphaquant learn Reals ZArith Arith Lists Bool (or your project)")
    files = Corpus(path).files()
    steps = sum(r.steps for r in files.values())
    return Check("learned tactics", True, f"{steps} steps from {len(files)} files", "")


def doctor_checks(settings: Settings) -> list[Check]:
    """Every prover and tool alphaquant can use, found or not, with the command that fixes it."""
    checks = [
        *coq_checks(),
        *trust_checks(),
        *hammer_checks(),
    ]
    try:
        from alphaquant.provers.lean.setup import lean_checks

        checks.extend(lean_checks())
    except ImportError:
        checks.extend([
            tool_check("elan", "elan", ["--version"], "make lean"),
            tool_check("lake", "lake", ["--version"], "make lean"),
        ])
    checks.append(learning_check(settings))
    checks.append(model_check(settings))
    return checks
