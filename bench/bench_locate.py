"""Goal location on big files: seconds (CPU and wall) to locate 1,000, 4,000 and 60,000 goals of
generated Coq and Lean files, and the time per goal, which stays flat when location is linear.

Usage: python bench/bench_locate.py [--sizes 1000,4000,60000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alphaquant.goals import locate  # noqa: E402

GOALS = {
    Path("Big.v"): ("Lemma g{i} : forall n : nat, n + {i} = {i} + n.\nProof.\n"
                    "  intros n. (* a comment *)\nAdmitted.\n"),
    Path("Big.lean"): ("/-- doc -/\ntheorem g{i} (n : Nat) : n + {i} = {i} + n := by\n"
                       "  intro -- c\n  sorry\n"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,4000,60000", help="goal counts, comma-separated")
    sizes = [int(n) for n in parser.parse_args().sizes.split(",")]
    for path, goal in GOALS.items():
        for n in sizes:
            text = "".join(goal.format(i=i) for i in range(n))
            cpu, wall = time.process_time(), time.perf_counter()
            found = len(locate(text, path))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(f"locate {path.suffix:5} {n:>6} goals ({len(text) / 1e6:.1f} MB): {found} found, "
                  f"{cpu:.2f} s CPU, {wall:.2f} s wall, {1e6 * cpu / n:.0f} µs CPU per goal")


if __name__ == "__main__":
    main()
