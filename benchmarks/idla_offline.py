"""Why the paper's IDLA loses to equal shares after slice 3 joins: estimator bias and its causes.

Usage: python benchmarks/idla_offline.py [--seed 0] [--every 10] [--epochs 200]

(``benchmarks/idla_diagnose.py`` until issue 28; that name now diagnoses ``idla`` itself.)

One ``paper`` run (5000 periods): H0 explores random allocations (IDLA's collection); from H1 on
the network runs equal shares, and every ``every``-th period its state and observation are kept;
in H2 every ``every``-th period (offset by half) plays random allocations instead, whose samples are
held out: they show the estimator's error on the new slice set. Then, for each estimator variant:

* per slice type, the MAE and bias (prediction - truth) on the held-out H2 samples;
* the bias at equal shares in the kept busy H2 states (top quarter of the expected demand; truth
  from a replay of that very period, ``Network.replay``);
* the decisions' quality: utility of the variant's shares minus equal shares' on the kept states
  (each replayed on its own draw), in H1 and H2, all and busy periods.

Variants: the paper's estimator (target r, MAE) with the paper's primal-dual solver and with the
exact solver; the expected-utility estimator (squared error on log(1 + r)) with the exact solver,
with and without the trust region of ``idla``; and that estimator trained with the held-out H2
samples too (what the unseen slice type costs).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from agents.base import SlicingSpec
from agents.idla.dataset import SampleBuffer, augment, context
from agents.idla.estimator import QosEstimator, TrainConfig, fit
from agents.idla.search import solve
from agents.idla.solver import LagrangianSolver
from slicesim import Network, load_scenario
from slicesim.envs import make_env
from slicesim.experiments.metrics import busy_periods
from slicesim.sim import equal_split


@dataclass
class Collected:
    """What one run keeps: H0 samples, held-out H2 samples, states of H1 and H2."""

    h0: SampleBuffer
    h2: SampleBuffer
    states: list[tuple[int, dict[str, Any], np.ndarray, np.ndarray]] = field(default_factory=list)
    net_seed: int = 0


def collect(seed: int, every: int, overrides: dict[str, Any]) -> Collected:
    env = make_env("paper", overrides)
    spec = SlicingSpec.from_env(env)
    base: Any = env.unwrapped
    rng = np.random.default_rng(seed)
    out = Collected(SampleBuffer(spec), SampleBuffer(spec))
    obs, info = env.reset(seed=seed)
    h1, h2 = spec.config.timeline.phases[1].start, spec.config.timeline.phases[2].start
    for t in range(spec.config.timeline.n_periods):
        active = info["active_next"]
        held_out = t >= h2 and t % every == every // 2
        if t >= h1 and t % every == 0:
            out.states.append((t, base.net.get_state(), obs.copy(), active.copy()))
        if t < h1 or held_out:
            x = rng.dirichlet(np.ones(active.shape[1]), size=active.shape[0]) * active
        else:
            x = equal_split(active)
        next_obs, _, _, _, next_info = env.step(x)
        if t < h1:
            out.h0.add(obs, next_info)
        elif held_out:
            out.h2.add(obs, next_info)
        obs, info = next_obs, next_info
    out.net_seed = base.net.seed
    return out


def train(data: list[SampleBuffer], target: str, epochs: int) -> QosEstimator:
    parts = [b.arrays() for b in data]
    inputs, targets, achieved = (np.concatenate([p[i] for p in parts]) for i in range(3))
    inputs, targets = augment(inputs, targets, achieved, np.random.default_rng(0))
    model, report = fit(inputs, targets, TrainConfig(target=target, epochs=epochs))
    print(f"  trained ({target}): test MAE {report.test_mae:.4f} (own units)", flush=True)
    return model


def log_utility(model: QosEstimator, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """log(1 + f) of rows (x, z) as the decision sees it."""
    rows = torch.from_numpy(np.column_stack([x, z]).astype(np.float32))
    with torch.no_grad():
        return torch.log1p(model(rows)).numpy()


def held_out_errors(model: QosEstimator, h2: SampleBuffer) -> dict[float, tuple[float, float]]:
    """Per slice type (thr* as a fraction of the largest): MAE and bias of log(1 + r)."""
    inputs, targets, _ = h2.arrays()
    err = log_utility(model, inputs[:, 0], inputs[:, 1:]) - np.log1p(targets)
    out = {}
    for need in np.unique(inputs[:, -2]):
        sel = inputs[:, -2] == need
        out[round(float(need), 2)] = (float(np.abs(err[sel]).mean()), float(err[sel].mean()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument(
        "--periods",
        type=int,
        default=None,
        help="compress paper's timeline to N periods (phases scaled)",
    )
    args = parser.parse_args()
    config = load_scenario("paper")
    overrides = {} if args.periods is None else config.timeline_overrides(args.periods)
    config = config.replace(overrides)
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = collect(args.seed, args.every, overrides)
    spec = SlicingSpec.from_env(make_env("paper", overrides))
    net = Network(config, seed=data.net_seed)
    print(
        f"collected in {time.perf_counter() - start:.0f} s: {len(data.h0)} H0 samples, "
        f"{len(data.h2)} held-out H2 samples, {len(data.states)} states",
        flush=True,
    )
    models = {
        "paper (r, MAE)": train([data.h0], "r", args.epochs),
        "utility": train([data.h0], "utility", args.epochs),
        "utility + H2 samples": train([data.h0, data.h2], "utility", args.epochs),
    }
    paper = LagrangianSolver(curvature_rates=False)

    def trusted(m: QosEstimator, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        equal = torch.from_numpy(equal_split(a.numpy()))
        return solve(m, z, a, lower=(equal - 0.15).clamp(min=0), upper=equal + 0.15)

    deciders = {
        "paper estimator + primal-dual (idla-paper)": (
            models["paper (r, MAE)"],
            lambda m, z, a: paper.solve(
                m,
                z,
                a,
                torch.from_numpy(equal_split(a.numpy())).float(),
                torch.Generator().manual_seed(0),
            ),
        ),
        "paper estimator + exact solver": (models["paper (r, MAE)"], solve),
        "utility estimator + exact solver": (models["utility"], solve),
        "utility estimator + trust region 0.15": (models["utility"], trusted),
        "utility + H2 samples + exact solver": (models["utility + H2 samples"], solve),
    }
    periods = np.array([s[0] for s in data.states])
    demand = np.array([net.expected_demand_mbps(p).sum() for p in periods])
    h2_start = config.timeline.phases[2].start
    in_h2 = periods >= h2_start
    busy_h2 = busy_periods(demand, in_h2)
    print(
        "\n| estimator | H2 held-out MAE / bias of log(1 + r), per slice (thr*/max) | "
        "bias at equal shares, busy H2, per slice |"
    )
    print("|---|---|---|")
    for name, model in models.items():
        errors = held_out_errors(model, data.h2)
        bias = []
        for _t, state, obs, active in (s for s, b in zip(data.states, busy_h2, strict=True) if b):
            equal = equal_split(active)
            truth = np.log1p(net.replay(equal[None], states=[state]).r[0, 0])
            pred = np.zeros(active.shape)
            pred[active] = log_utility(model, equal[active], context(obs, spec)[active])
            bias.append(np.where(active, pred - truth, np.nan))
        per_slice = np.nanmean(np.stack(bias), axis=(0, 1))
        text = ", ".join(f"{k}: {v[0]:.3f} / {v[1]:+.3f}" for k, v in errors.items())
        print(f"| {name} | {text} | {np.round(per_slice, 3).tolist()} |")
    gains: dict[str, list[float]] = {"equal": []}
    for name in deciders:
        gains[name] = []
    for _t, state, obs, active in data.states:
        z, a = torch.from_numpy(context(obs, spec)), torch.from_numpy(active)
        xs = [equal_split(active)]
        xs += [fn(model, z, a).numpy().astype(float) for model, fn in deciders.values()]
        utility = net.replay(np.stack(xs), states=[state]).utility[0]
        for name, u in zip(gains, utility, strict=True):
            gains[name].append(float(u))
    base = np.array(gains.pop("equal"))
    in_h1 = ~in_h2
    busy_h1 = busy_periods(demand, in_h1)
    print("\n| decision | ΔU vs equal H1 | busy H1 | H2 | busy H2 |\n|---|---|---|---|---|")
    for name, values in gains.items():
        d = np.array(values) - base
        cells = [f"{d[sel].mean():+.3f}" for sel in (in_h1, busy_h1, in_h2, busy_h2)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
