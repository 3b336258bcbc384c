"""IDLA decision latency, 12 to 100 000 cells: ``agents.idla.solve`` (the agent's default), the
paper's primal-dual solver (``idla-paper``) and the estimator oracle's grid search.

Usage: python benchmarks/idla_speed.py [--runs 9] [--sizes 12 1000 10000 100000] [--slow-max N]
       [--estimator paper|idla]

Synthetic observations (4 slices, all active, random z, x0 = equal shares) and the paper's estimator
(:class:`agents.idla.estimator.QosEstimator`, MLP 13 -> 36 -> 24 -> 16 -> 16 -> 1) with random
weights. Reports the median latency of several runs (fewer for large sizes), the model rows each
decision processes (counted in one extra run), the floor those rows would take at the MLP's raw rate
(forward+backward for gradient rows, forward only for the rest; measured on 16 k row chunks in the
same process, before and after each timing) and the ratio latency / floor, and the peak memory.
Targets (issue 10): solve <= 5 ms at 12 cells and <= 3 s at 100 000 cells, memory under 4 GB.

``--estimator idla`` times ``solve`` on ``idla``'s own estimator instead
(:data:`agents.idla.config.ESTIMATOR`: five monotone headroom curves, mean - 1 std; random
weights, a context with the load column), without the floor (its members are no ``nn.Sequential``).
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from agents.idla.config import ESTIMATOR
from agents.idla.ensemble import EnsembleEstimator, Headroom
from agents.idla.estimator import CHUNK_ROWS, QosEstimator
from agents.idla.oracle import grid_search
from agents.idla.search import solve
from agents.idla.solver import LagrangianSolver

N_SLICES = 4
FLOOR_ROWS = CHUNK_ROWS  # the chunk the solver uses
TARGETS_S = {("solve", 12): 0.005, ("solve", 100_000): 3.0}


def paper_mlp(seed: int) -> QosEstimator:
    """The paper's estimator architecture (Section V-B) with random initial weights."""
    torch.manual_seed(seed)
    return QosEstimator().eval()


def idla_ensemble(seed: int) -> EnsembleEstimator:
    """``idla``'s estimator (H = 5, a context of 13 with the load) with random initial weights;
    the headroom's scales are ``paper``'s (need 2 Mbit/s, a cell's peak 100 Mbit/s)."""
    return EnsembleEstimator(1 + CONTEXT["idla"], ESTIMATOR, Headroom(5, 2.0, 100.0), seed=seed)


CONTEXT = {"paper": 12, "idla": 13}
"""The context width W of each estimator (H = 5)."""


class Counting(nn.Module):
    """The estimator, counting the rows it evaluates (forward and the solver's grid path)."""

    def __init__(self, model: QosEstimator | EnsembleEstimator) -> None:
        super().__init__()
        self.model = model
        self.rows = [0, 0]  # with grad, without

    def forward(self, rows: Tensor) -> Tensor:
        self.rows[0 if torch.is_grad_enabled() else 1] += rows.shape[0]
        return self.model(rows)

    def grid_log_values(self, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS) -> Tensor:
        self.rows[1] += x.numel()
        return self.model.grid_log_values(z, x, chunk_rows)

    def __deepcopy__(self, memo: dict) -> Counting:
        """The paper's solver searches a frozen copy: the copy keeps counting into ``rows``."""
        twin = Counting(copy.deepcopy(self.model, memo))
        twin.rows = self.rows
        return twin.train(self.training)


def observations(n_cells: int, seed: int, width: int = 12) -> tuple[Tensor, Tensor, Tensor]:
    """Random features z, every slice active, equal start shares."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n_cells, N_SLICES, width, generator=gen)
    active = torch.ones(n_cells, N_SLICES, dtype=torch.bool)
    return z, active, torch.full((n_cells, N_SLICES), 1.0 / N_SLICES)


def floor_rates(model: nn.Module, reps: int = 20) -> tuple[float, float]:
    """Raw rows/s of the MLP on CHUNK_ROWS-row chunks: (forward+backward wrt x, forward only)."""
    frozen = nn.Sequential(*model.net).requires_grad_(False)
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


def count_rows(
    model: QosEstimator | EnsembleEstimator, fn: Callable[[nn.Module], object]
) -> tuple[int, int]:
    """Model rows run by ``fn``: (with grad, without)."""
    counter = Counting(model).eval()  # a module in training mode would be searched as a copy
    fn(counter)
    return counter.rows[0], counter.rows[1]


def deciders(z: Tensor, active: Tensor, x0: Tensor) -> dict[str, Callable[[nn.Module], object]]:
    """The decision functions for one batch of cells."""
    paper = LagrangianSolver(curvature_rates=False)
    gen = torch.Generator()
    return {
        "solve": lambda m: solve(m, z, active, x0),
        "primal-dual (paper)": lambda m: paper.solve(m, z, active, x0, gen.manual_seed(0)),
        "grid oracle": lambda m: grid_search(m, z, active),
    }


def measure(
    model: QosEstimator | EnsembleEstimator,
    sizes: list[int],
    runs: int,
    slow_max: int,
    width: int = 12,
) -> list[dict]:
    """One result row per (method, size): latency, rows processed, runs, and the floor rates.

    The machine may be shared, so the floor is measured right before and after each timing and
    the ratio uses their mean: both see the same contention. An estimator that is no
    :class:`QosEstimator` (idla's ensemble) is timed with ``solve`` only and without a floor.
    """
    results = []
    mlp = isinstance(model, QosEstimator)
    for n_cells in sizes:
        z, active, x0 = observations(n_cells, seed=n_cells, width=width)
        n_runs = max(3, min(runs, runs * 1000 // n_cells))
        for name, fn in deciders(z, active, x0).items():
            if name != "solve" and (n_cells > slow_max or not mlp):
                continue
            grad_rows, fwd_rows = count_rows(model, fn)
            before = floor_rates(model, reps=7) if mlp else (float("nan"), float("nan"))
            latency = _median_time(lambda fn=fn: fn(model), n_runs)
            after = floor_rates(model, reps=7) if mlp else (float("nan"), float("nan"))
            results.append(
                {
                    "method": name,
                    "cells": n_cells,
                    "latency": latency,
                    "runs": n_runs,
                    "grad_rows": grad_rows,
                    "fwd_rows": fwd_rows,
                    "fb_rate": (before[0] + after[0]) / 2,
                    "fwd_rate": (before[1] + after[1]) / 2,
                }
            )
            print(f"  {name:20s} {n_cells:>7d} cells: {_fmt_time(latency)}", flush=True)
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
        if r["fwd_rate"] != r["fwd_rate"]:  # no floor (NaN rates)
            lines.append(
                f"| {r['method']} | {r['cells']:,} | {_fmt_time(r['latency'])} | {r['runs']} "
                f"| {r['grad_rows']:,} | {r['fwd_rows']:,} | n/a | n/a | n/a | |"
            )
            continue
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
    parser.add_argument(
        "--slow-max",
        type=int,
        default=10_000,
        help="largest batch for the primal-dual solver and the grid oracle",
    )
    parser.add_argument(
        "--estimator",
        choices=sorted(CONTEXT),
        default="paper",
        help="the paper's MLP (default) or idla's ensemble (solve only, no floor)",
    )
    args = parser.parse_args()
    model = paper_mlp(seed=0) if args.estimator == "paper" else idla_ensemble(seed=0).eval()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    results = measure(model, args.sizes, args.runs, args.slow_max, CONTEXT[args.estimator])
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"\nload average {os.getloadavg()[0]:.2f}; floor rates: MLP rows/s on {FLOOR_ROWS:,}-row"
        f" chunks, forward+backward / forward, measured around each timing; peak memory of the"
        f" process {peak_gb:.2f} GB (limit 4 GB)\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
