"""Peak memory of long runs: ``simulate``, ``run`` and ``bench`` at 500 and at 5000 periods.

Usage: python benchmarks/memory.py [--short 500] [--long 5000]

Each command runs in its own subprocess on ``paper`` (the timeline compressed to the number of
periods); the peak resident memory of that process and its children (``ru_maxrss``) is read when
it ends. Memory should stay flat: trajectories live in compact preallocated arrays
(``slicesim.rollout.Trajectory``), KPI tables are streamed to CSV, and the report reads each run
back from disk. Target (issue 12): the 5000-period peak within 1.3x of the 500-period one.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time

RUN = """
import sys
from agents import EqualAgent, run
from slicesim.envs import make_env
n = int(sys.argv[1])
env = make_env("paper", {"timeline.n_periods": n, "timeline.phases.1.start": n // 5,
                         "timeline.phases.2.start": 3 * n // 5})
run(env, EqualAgent(), progress=False, seed=0).save(sys.argv[2], csv=True)
"""


def commands(periods: int, folder: str) -> dict[str, list[str]]:
    return {
        "simulate": [
            "slicesim",
            "simulate",
            "--scenario",
            "paper",
            "--periods",
            str(periods),
            "--quiet",
            "--out",
            f"{folder}/simulate",
        ],
        "run": [sys.executable, "-c", RUN, str(periods), f"{folder}/run"],
        "bench": [
            "slicesim",
            "bench",
            "--scenario",
            "paper",
            "--agents",
            "equal,traffic",
            "--periods",
            str(periods),
            "--workers",
            "1",
            "--quiet",
            "--csv",
            "--out",
            f"{folder}/bench",
        ],
    }


PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_mb(command: list[str]) -> tuple[float, float]:
    """Peak RSS (MB) of ``command`` and its children, and its wall time (s)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PEAK, *command], check=True, capture_output=True, text=True
    ).stdout
    return int(out.strip().splitlines()[-1]) / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=500)
    parser.add_argument("--long", type=int, default=5000)
    args = parser.parse_args()
    short_n, long_n = args.short, args.long
    print(
        f"| command | peak MB, {short_n} periods | peak MB, {long_n} periods | ratio "
        f"| wall s ({long_n}) |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        short = commands(args.short, f"{tmp}/short")
        long = commands(args.long, f"{tmp}/long")
        for name in short:
            low, _ = peak_mb(short[name])
            high, seconds = peak_mb(long[name])
            print(
                f"| {name} | {low:.0f} | {high:.0f} | {high / low:.2f} | {seconds:.0f} |",
                flush=True,
            )
    print(f"\n(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
