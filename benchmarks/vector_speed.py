"""Speed of one env and of many networks in one pass, on each engine, in one interleaved run.

    python benchmarks/vector_speed.py                       # paper and 19 sites, N up to 256
    python benchmarks/vector_speed.py --release-python /path/to/slicesim-0.2/bin/python
    python benchmarks/vector_speed.py --sizes 4 --periods 3 --runs 1 --layouts paper

For each layout (`paper`: 4 sites, 12 cells; 19 sites, 57 cells) it times, interleaved (every
variant once per run, the median of ``--runs``):

* one ``SlicingEnv`` on the reference engine (SimPy + numpy: the yardstick of every ratio) and
  on the compiled engine (the default),
* with ``--release-python``: one ``SlicingEnv`` of another installation (e.g. slicesim 0.2,
  installed apart), same periods, in that interpreter - for the record,
* Gymnasium's ``AsyncVectorEnv`` of 2 compiled ``SlicingEnv`` (two worker processes),
* ``SlicingVectorEnv(N)`` for each N of ``--sizes`` (compiled, several threads),

as periods/s (wall) and periods per CPU-second (the CPU of every thread and worker process),
the cost per user-epoch (users in session times epochs) against the arithmetic floor of about
15 ns (one scalar core, ``FLOOR_NS``), and memory per replica (peak RSS of a fresh process with N
replicas, less that with 1, over N - 1).

Every variant steps the same periods of the layout's day: ``--warmup`` steps (30: to 07:30, the
morning rise), then ``--periods`` timed steps, equal shares.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import slicesim
from slicesim.envs import SlicingEnv, SlicingVectorEnv

LAYOUTS = {"paper": 4, "19 sites": 19}
MAX_REPLICAS = {"paper": 256, "19 sites": 64}  # a 19-site replica holds about 30 MB of gains
FLOOR_NS = 15.0
"""The arithmetic of a user-epoch (some 45-50 flops, six of them divisions, the interference
product, a CQI search) on one scalar core: about 15 ns (shared/reviews/speed-profile.md)."""

SETTINGS = {"warmup": 30}  # steps before each timing (--warmup)

_SINGLE = """
import json, sys, time
import numpy as np
import slicesim
from slicesim.envs import SlicingEnv
config = slicesim.load_scenario("paper", {{"layout.n_sites": {sites}}})
env = SlicingEnv(config)
env.reset(seed=0)
a = np.full(env.action_space.shape, 1.0 / env.action_space.shape[-1], dtype=np.float32)
for _ in range({warmup}):
    env.step(a)
start, cpu = time.perf_counter(), time.process_time()
for _ in range({periods}):
    env.step(a)
print(json.dumps([time.perf_counter() - start, time.process_time() - cpu, slicesim.__version__]))
"""


def config_of(layout: str, engine: str = "compiled") -> slicesim.ScenarioConfig:
    return slicesim.load_scenario(
        "paper", {"layout.n_sites": LAYOUTS[layout], "sim.engine": engine}
    )


def equal_actions(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, 1.0 / shape[-1], dtype=np.float32)


def _children_cpu(envs: Any) -> float:
    """CPU seconds of an AsyncVectorEnv's worker processes so far (0 for other envs)."""
    total = 0.0
    for proc in getattr(envs, "processes", []):
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks
    return total


def timed(envs: Any, n: int, periods: int, config: slicesim.ScenarioConfig) -> dict[str, float]:
    """Periods/s, periods per CPU-second and user-epochs per period of ``n`` networks over
    ``periods`` steps after the warm-up, equal shares."""
    envs.reset(seed=0)
    a = equal_actions(envs.action_space.shape)
    for _ in range(SETTINGS["warmup"]):
        envs.step(a)
    epochs = config.sim.window_s / config.sim.epoch_s
    user_epochs = 0.0
    start, cpu, child = time.perf_counter(), time.process_time(), _children_cpu(envs)
    for _ in range(periods):
        info = envs.step(a)[-1]
        user_epochs += float(np.sum(info["kpi"]["users"])) * epochs
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu + _children_cpu(envs) - child
    return {"rate": n * periods / wall, "cpu_rate": n * periods / cpu,
            "user_epochs": user_epochs / (n * periods)}  # fmt: skip


def rate_single(layout: str, engine: str, periods: int) -> dict[str, float]:
    config = config_of(layout, engine)
    return timed(SlicingEnv(config), 1, periods, config)


def rate_vector(layout: str, n: int, periods: int) -> dict[str, float]:
    config = config_of(layout)
    return timed(SlicingVectorEnv(n, config), n, periods, config)


def rate_async(layout: str, periods: int) -> dict[str, float]:
    config = config_of(layout)
    envs = gym.vector.AsyncVectorEnv([lambda: SlicingEnv(config) for _ in range(2)])
    try:
        return timed(envs, 2, periods, config)
    finally:
        envs.close()


def rate_release(python: str, layout: str, periods: int) -> dict[str, Any]:
    """One SlicingEnv of the installation behind ``python`` (another venv)."""
    code = _SINGLE.format(sites=LAYOUTS[layout], warmup=SETTINGS["warmup"], periods=periods)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(  # from another folder: not the checkout's slicesim
        [python, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
        env=env,
    )
    wall, cpu, version = json.loads(done.stdout.strip().splitlines()[-1])
    return {"rate": periods / wall, "cpu_rate": periods / cpu, "version": version}


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


def measure(layout: str, sizes: list[int], args: argparse.Namespace) -> dict[str, Any]:
    """Every variant of ``layout``, interleaved ``args.runs`` times; the medians."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.runs):
        rows.setdefault("reference", []).append(rate_single(layout, "reference", args.periods))
        rows.setdefault("compiled", []).append(rate_single(layout, "compiled", args.periods))
        if args.release_python:
            rows.setdefault("release", []).append(
                rate_release(args.release_python, layout, args.periods)
            )
        rows.setdefault("async2", []).append(rate_async(layout, args.periods))
        for n in sizes:
            rows.setdefault(f"vec{n}", []).append(rate_vector(layout, n, args.periods))
    med = {}
    for key, runs in rows.items():
        med[key] = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "version"}
        if "version" in runs[0]:
            med[key]["version"] = runs[0]["version"]
    mem1 = peak_mb(layout, 1)
    for n in sizes:
        med[f"vec{n}"]["mem_mb"] = (peak_mb(layout, n) - mem1) / (n - 1) if n > 1 else mem1
    return med


def table(layout: str, med: dict[str, Any], sizes: list[int]) -> list[str]:
    """The layout's markdown table (ratios against the reference and the compiled one env)."""
    ref, one = med["reference"]["rate"], med["compiled"]["rate"]
    lines = [
        f"\n{layout}:",
        "| variant | periods/s | vs reference env | vs compiled env | periods per CPU-s "
        "| ns per user-epoch (CPU) | / floor | MB per replica |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"reference": "one SlicingEnv, reference engine",
             "compiled": "one SlicingEnv, compiled engine",
             "release": f"one SlicingEnv, slicesim {med.get('release', {}).get('version')}",
             "async2": "AsyncVectorEnv of 2 compiled SlicingEnv"}  # fmt: skip
    for key in [*names, *(f"vec{n}" for n in sizes)]:
        if key not in med:
            continue
        r = med[key]
        label = names.get(key, f"SlicingVectorEnv({key[3:]})")
        ns = 1e9 / (r["cpu_rate"] * r["user_epochs"]) if r.get("user_epochs") else float("nan")
        mem = f"{r['mem_mb']:.2f}" if "mem_mb" in r else "-"
        lines.append(f"| {label} | {r['rate']:.0f} | {r['rate'] / ref:.1f}x "
                     f"| {r['rate'] / one:.2f}x | {r['cpu_rate']:.0f} | {ns:.0f} "
                     f"| {ns / FLOOR_NS:.1f} | {mem} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="16,64,256", help="replica counts N")
    parser.add_argument("--layouts", default="paper,19 sites")
    parser.add_argument("--periods", type=int, default=20, help="steps per timing")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=30, help="steps before each timing")
    parser.add_argument("--release-python", help="a python whose slicesim to time beside")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    SETTINGS["warmup"] = args.warmup
    all_sizes = [int(s) for s in args.sizes.split(",")]
    start = time.perf_counter()
    results: dict[str, Any] = {}
    for layout in args.layouts.split(","):
        sizes = [n for n in all_sizes if n <= MAX_REPLICAS[layout]]
        results[layout] = measure(layout, sizes, args)
        print("\n".join(table(layout, results[layout], sizes)), flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
