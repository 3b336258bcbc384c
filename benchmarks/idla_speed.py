"""IDLA decision latency: the Lagrangian solver and the oracle grid search, 12 to 100 000 cells.

Usage: python benchmarks/idla_speed.py [--runs 9] [--sizes 12 1000 10000 100000] [--oracle-max N]

Synthetic observations (4 slices, all active, random z, x0 = equal shares) and the paper's estimator
(MLP 13 -> 36 -> 24 -> 16 -> 16 -> 1, ReLU, sigmoid output) with random weights. Reports the median
latency of several runs (fewer for large sizes), the model rows each decision processes (counted
with a forward hook in one extra run), the floor those rows would take at the MLP's raw rate
(forward+backward for the solver's gradient rows, forward only for utility rows; measured on 32 k
row chunks in the same process, before and after the timings) and the ratio latency / floor.
Targets (project issue): IDLA < 50 ms at 12 cells and < 30 s at 100 000 cells; oracle < 20 ms at
12 cells.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from agents.idla.oracle import grid_search
from agents.idla.solver import LagrangianSolver

N_SLICES = 4
FLOOR_ROWS = 32768
TARGETS_S = {("IDLA", 12): 0.050, ("IDLA", 100_000): 30.0, ("Oracle", 12): 0.020}


def paper_mlp(seed: int) -> nn.Module:
    """The paper's estimator architecture (Section V-B) with random initial weights."""
    torch.manual_seed(seed)
    widths = [13, 36, 24, 16, 16]
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(widths):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], 1), nn.Sigmoid())


def observations(n_cells: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Random features z, every slice active, equal start shares."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n_cells, N_SLICES, 12, generator=gen)
    active = torch.ones(n_cells, N_SLICES, dtype=torch.bool)
    return z, active, torch.full((n_cells, N_SLICES), 1.0 / N_SLICES)


def floor_rates(model: nn.Module, reps: int = 20) -> tuple[float, float]:
    """Raw rows/s of the MLP on 32 k-row chunks: (forward+backward wrt x, forward only)."""
    frozen = nn.Sequential(*model.children()).requires_grad_(False)
    rows = torch.rand(FLOOR_ROWS, 13)

    def backward() -> None:
        x = rows[:, :1].clone().requires_grad_(True)
        out = torch.log1p(frozen(torch.cat([x, rows[:, 1:]], 1))).sum()
        torch.autograd.grad(out, x)

    def forward() -> None:
        with torch.no_grad():
            frozen(rows)

    return FLOOR_ROWS / _median_time(backward, reps), FLOOR_ROWS / _median_time(forward, reps)


def _median_time(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def count_rows(model: nn.Module, fn: Callable[[], object]) -> tuple[int, int]:
    """Model rows run by ``fn``: (with grad, without); the hook survives the solver's model copy."""
    counts = [0, 0]

    def hook(_module: nn.Module, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
        counts[0 if torch.is_grad_enabled() else 1] += inputs[0].shape[0]

    handle = model.register_forward_hook(hook)
    try:
        fn()
    finally:
        handle.remove()
    return counts[0], counts[1]


def deciders(model: nn.Module, z: Tensor, active: Tensor, x0: Tensor) -> dict[str, Callable]:
    """The two decision functions for one batch of cells."""
    solver = LagrangianSolver()
    return {
        "IDLA": lambda: solver.solve(model, z, active, x0, torch.Generator().manual_seed(0)),
        "Oracle": lambda: grid_search(model, z, active),
    }


def measure(model: nn.Module, sizes: list[int], runs: int, oracle_max: int) -> list[dict]:
    """One result row per (method, size): latency, rows processed, runs, and the floor rates.

    The machine may be shared, so the floor is measured right before and after each timing and
    the ratio uses their mean: both see the same contention.
    """
    results = []
    for n_cells in sizes:
        z, active, x0 = observations(n_cells, seed=n_cells)
        n_runs = max(3, min(runs, runs * 1000 // n_cells))
        for name, fn in deciders(model, z, active, x0).items():
            if name == "Oracle" and n_cells > oracle_max:
                continue
            grad_rows, fwd_rows = count_rows(model, fn)
            before = floor_rates(model, reps=7)
            latency = _median_time(fn, n_runs)
            after = floor_rates(model, reps=7)
            results.append(
                {"method": name, "cells": n_cells, "latency": latency, "runs": n_runs,
                 "grad_rows": grad_rows, "fwd_rows": fwd_rows,
                 "fb_rate": (before[0] + after[0]) / 2, "fwd_rate": (before[1] + after[1]) / 2}
            )  # fmt: skip
            print(f"  {name:6s} {n_cells:>7d} cells: {_fmt_time(latency)}", flush=True)
    return results


def _fmt_time(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def table(results: list[dict]) -> str:
    """Markdown table of the results against the floor and the targets."""
    lines = [
        "| method | cells | median latency | runs | grad rows | fwd rows | floor rate fb / fwd"
        " | floor | latency/floor | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        floor = r["grad_rows"] / r["fb_rate"] + r["fwd_rows"] / r["fwd_rate"]
        target = TARGETS_S.get((r["method"], r["cells"]))
        verdict = (
            ""
            if target is None
            else f"< {_fmt_time(target)}: " + ("met" if r["latency"] < target else "MISSED")
        )
        lines.append(
            f"| {r['method']} | {r['cells']:,} | {_fmt_time(r['latency'])} | {r['runs']} "
            f"| {r['grad_rows']:,} | {r['fwd_rows']:,} "
            f"| {r['fb_rate'] / 1e6:.2f} / {r['fwd_rate'] / 1e6:.2f} M/s | {_fmt_time(floor)} "
            f"| {r['latency'] / floor:.2f} | {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs at <= 1000 cells (fewer above)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 1000, 10_000, 100_000])
    parser.add_argument("--oracle-max", type=int, default=100_000, help="largest oracle batch")
    args = parser.parse_args()
    model = paper_mlp(seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    results = measure(model, args.sizes, args.runs, args.oracle_max)
    print(
        f"\nload average {os.getloadavg()[0]:.2f}; floor rates: MLP rows/s on {FLOOR_ROWS:,}-row"
        " chunks, forward+backward / forward, measured around each timing\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
