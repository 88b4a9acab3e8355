"""Batch throughput on coq_project: goals per hour with 1 and with 2 workers, and their ratio.

Each run works on a fresh copy of coq_project (so the repository's files and build products are
left alone), offline, with an empty learned-priors record, and without the second pass, so both
runs do the same work. Usage: python bench/bench_batch.py [--budget S] [--project DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alphaquant.provers.coq.toolchain import toolchain  # noqa: E402
from alphaquant.runs.batch import run_batch  # noqa: E402
from alphaquant.runs.driver import BatchSummary  # noqa: E402
from alphaquant.runs.options import BatchOptions  # noqa: E402

BUILD_PRODUCTS = ("*.vo", "*.vok", "*.vos", "*.glob", ".*.aux", "*.orig.bak")


def one_run(project: Path, workers: int, budget: float, scratch: Path) -> BatchSummary:
    copy = scratch / f"project-{workers}"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(*BUILD_PRODUCTS))
    os.environ["ALPHAQUANT_CACHE_DIR"] = str(scratch / f"cache-{workers}")
    return run_batch(BatchOptions(
        project=copy, run_dir=scratch / f"run-{workers}", workers=workers,
        budget_per_goal=budget, offline=True, second_pass=0,
    ))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per goal")
    parser.add_argument("--project", type=Path, default=ROOT / "coq_project")
    args = parser.parse_args()
    if toolchain() is None:
        sys.exit("bench_batch: Coq is not installed (apt-get install -y coq)")
    rates = {}
    with tempfile.TemporaryDirectory(prefix="aq-bench-batch-") as tmp:
        for workers in (1, 2):
            started = time.monotonic()
            summary = one_run(args.project, workers, args.budget, Path(tmp))
            seconds = time.monotonic() - started
            c = summary.counts
            rates[workers] = c.done / seconds * 3600
            print(f"batch, {workers} worker{'s' if workers > 1 else ''}: {c.done} goals in "
                  f"{seconds:.1f}s = {rates[workers]:.0f} goals/hour ({c.proved} proved, "
                  f"{c.disproved} disproved, {c.open} open, {c.error} error; budget "
                  f"{args.budget:g}s/goal)")
    print(f"batch speed-up, 2 workers over 1: {rates[2] / rates[1]:.2f}x "
          f"(cpu count {os.cpu_count()})")


if __name__ == "__main__":
    main()
