"""Aggregate speed of many networks in one pass: SlicingVectorEnv against Gymnasium's vector envs.

    python benchmarks/vector_speed.py                      # paper and 19 sites, N up to 256
    python benchmarks/vector_speed.py --sizes 1,4 --periods 4 --runs 1 --layouts paper

For each layout (`paper`: 4 sites, 12 cells; 19 sites, 57 cells) and N replicas it reports, in one
run and interleaved:

* the aggregate periods/s of ``SlicingVectorEnv(N)`` (every replica's period in one window),
* Gymnasium's ``SyncVectorEnv`` of N ``SlicingEnv`` (one after the other, same process) and
  ``AsyncVectorEnv`` of 2 ``SlicingEnv`` (two worker processes: the most two cores give by
  running whole envs in parallel), and one ``SlicingEnv`` alone,
* memory per replica (peak RSS of a fresh process with N replicas, less that with 1, over N - 1),
* the cost per user-epoch of a batched step against a floor: ``epoch_step``'s arithmetic alone,
  re-run on the same preallocated arrays (the last epoch of the run, captured).

Every variant steps the same periods of `paper`'s day: ``--warmup`` steps first (30: to 07:30,
where the morning traffic rises), then ``--periods`` timed steps; the median of ``--runs``
interleaved runs. Every env runs equal shares.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import gymnasium as gym
import numpy as np

import slicesim
from slicesim.envs import SlicingEnv, SlicingVectorEnv
from slicesim.sim import window

LAYOUTS = {"paper": 4, "19 sites": 19}
MAX_REPLICAS = {"paper": 256, "19 sites": 64}  # a 19-site replica holds about 60 MB of gains


def config_of(layout: str) -> slicesim.ScenarioConfig:
    return slicesim.load_scenario("paper", {"layout.n_sites": LAYOUTS[layout]})


def equal_actions(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, 1.0 / shape[-1], dtype=np.float32)


SETTINGS = {"warmup": 30}  # steps before each timing (--warmup)


def timed(envs: Any, n: int, periods: int) -> float:
    """Periods/s of ``n`` networks over ``periods`` steps after the warm-up, equal shares."""
    envs.reset(seed=0)
    a = equal_actions(envs.action_space.shape)
    for _ in range(SETTINGS["warmup"]):
        envs.step(a)
    start = time.perf_counter()
    for _ in range(periods):
        envs.step(a)
    return n * periods / (time.perf_counter() - start)


def rate_vector(layout: str, n: int, periods: int) -> float:
    return timed(SlicingVectorEnv(n, config_of(layout)), n, periods)


def rate_gym(layout: str, n: int, periods: int, kind: str) -> float:
    config = config_of(layout)
    fns = [lambda: SlicingEnv(config) for _ in range(n)]
    envs = gym.vector.SyncVectorEnv(fns) if kind == "sync" else gym.vector.AsyncVectorEnv(fns)
    try:
        return timed(envs, n, periods)
    finally:
        envs.close()


def floor_per_user_epoch(layout: str, n: int, runs: int) -> tuple[float, float, int]:
    """(s per user-epoch of the whole step, of epoch_step alone, users per epoch)."""
    captured: dict[str, Any] = {}
    original = window.epoch_step

    def capture(world: Any, users: Any, budget: np.ndarray) -> Any:
        captured["args"] = (world, users, budget)
        return original(world, users, budget)

    envs = SlicingVectorEnv(n, config_of(layout))
    envs.reset(seed=0)
    a = equal_actions(envs.action_space.shape)  # type: ignore[arg-type]
    for _ in range(max(SETTINGS["warmup"], 1)):
        envs.step(a)
    start = time.perf_counter()
    envs.step(a)
    step_s = time.perf_counter() - start
    # the floor: the reference epoch's arithmetic (the compiled engine bypasses epoch_step), on
    # the arrays of one more step taken on the reference engine
    window.epoch_step = capture  # type: ignore[assignment]
    for net in envs.networks:
        net.world = dataclasses.replace(net.world, engine="reference")
    try:
        envs.step(a)
    finally:
        window.epoch_step = original  # type: ignore[assignment]
    world, users, budget = captured["args"]
    n_users = len(users.group)
    times = []
    for _ in range(max(runs, 3)):
        start = time.perf_counter()
        original(world, users, budget)
        times.append(time.perf_counter() - start)
    epochs = envs.config.sim.n_epochs
    return step_s / (n_users * epochs), statistics.median(times) / n_users, n_users


def peak_mb(layout: str, n: int) -> float:
    """Peak RSS (MB, VmHWM: ru_maxrss would count the forking parent's) of a fresh process
    that builds N replicas and steps them 3 times."""
    code = (
        "import numpy as np\n"
        "import slicesim\n"
        "from slicesim.envs import SlicingVectorEnv\n"
        f"config = slicesim.load_scenario('paper', {{'layout.n_sites': {LAYOUTS[layout]}}})\n"
        f"envs = SlicingVectorEnv({n}, config)\n"
        "envs.reset(seed=0)\n"
        "a = np.full(envs.action_space.shape, 0.25, np.float32)\n"
        "for _ in range(3):\n"
        "    envs.step(a)\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]) / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,4,16,64,256", help="replica counts N")
    parser.add_argument("--layouts", default="paper,19 sites")
    parser.add_argument("--periods", type=int, default=10, help="steps per timing")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=30, help="steps before each timing")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    SETTINGS["warmup"] = args.warmup
    all_sizes = [int(s) for s in args.sizes.split(",")]
    layouts = args.layouts.split(",")
    start = time.perf_counter()
    results: dict[str, Any] = {}
    for layout in layouts:
        rows: dict[str, list[float]] = {}
        sizes = [n for n in all_sizes if n <= MAX_REPLICAS[layout]]
        for _ in range(args.runs):  # interleaved: every variant once per run
            # the baselines over more periods: their rates are the ratios' denominators
            rows.setdefault("single", []).append(rate_gym(layout, 1, args.periods, "sync"))
            rows.setdefault("async2", []).append(rate_gym(layout, 2, args.periods, "async"))
            for n in sizes:
                rows.setdefault(f"vec{n}", []).append(rate_vector(layout, n, args.periods))
                if 1 < n <= 64:
                    rows.setdefault(f"sync{n}", []).append(
                        rate_gym(layout, n, args.periods, "sync")
                    )
        med = {k: statistics.median(v) for k, v in rows.items()}
        mem1 = peak_mb(layout, 1)
        per = {}
        for n in sizes:
            total, floor, users = floor_per_user_epoch(layout, n, args.runs)
            per[n] = {
                "vector": med[f"vec{n}"],
                "sync": med.get(f"sync{n}"),
                "mem_mb": peak_mb(layout, n) if n > 1 else mem1,
                "us_user_epoch": total * 1e6,
                "floor_us": floor * 1e6,
                "users": users,
            }
        results[layout] = {"single": med["single"], "async2": med["async2"], "sizes": per}
        print(f"\n{layout}: one SlicingEnv {med['single']:.0f} periods/s, "
              f"AsyncVectorEnv of 2 (2 workers) {med['async2']:.0f} periods/s")  # fmt: skip
        print(
            "| N | SlicingVectorEnv periods/s | vs one env | vs async 2 | SyncVectorEnv(N) "
            "| peak MB | MB per replica | us per user-epoch | floor us | step / floor |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, r in per.items():
            sync = "-" if r["sync"] is None else f"{r['sync']:.0f}"
            mb = "-" if n == 1 else f"{(r['mem_mb'] - mem1) / (n - 1):.2f}"
            print(f"| {n} | {r['vector']:.0f} | {r['vector'] / med['single']:.1f}x "
                  f"| {r['vector'] / med['async2']:.1f}x | {sync} | {r['mem_mb']:.0f} | {mb} "
                  f"| {r['us_user_epoch']:.3f} | {r['floor_us']:.3f} "
                  f"| {r['us_user_epoch'] / r['floor_us']:.1f} |")  # fmt: skip
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
