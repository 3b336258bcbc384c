"""Training throughput of the cell-wise TD3: SB3 ``learn()`` on the per-cell VecEnv of ``paper``.

Usage: python benchmarks/td3_speed.py [--runs 3] [--periods 100] [--config FILE.yaml]

Rows (median of ``--runs`` runs of ``--periods`` VecEnv steps, each after a short warm-up):

* ``paper CellVecEnv``: stable-baselines3 TD3 ``learn()`` on :class:`slicesim.envs.CellVecEnv`
  behind :class:`agents.td3.ShareVecEnv` (12 cells -> 12 transitions a period), learning from the
  first step with the hyperparameters of ``--config``.
* ``trivial env``: the same TD3 on a trivial env of the same sizes (obs 64, action 4,
  n_envs = 12 in a ``DummyVecEnv``): SB3's own cost, measured in the same run as the reference.
* ``paper, no learning``: the per-cell VecEnv stepped with random weights (the simulator's share).

Periods/s = VecEnv steps per second; timesteps/s = periods/s x 12; updates/s = gradient steps.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from agents.td3.agent import build_model
from agents.td3.config import TD3Config
from agents.td3.vec_env import cell_vec_env
from slicesim.config import load_scenario

WARMUP_PERIODS = 5


class TrivialEnv(gym.Env):
    """Random observations in [0, 1]^obs_dim; reward = 1 - mean |action - 0.25|."""

    def __init__(self, obs_dim: int, act_dim: int) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, (obs_dim,), np.float32)
        self.action_space = spaces.Box(0.0, 1.0, (act_dim,), np.float32)

    def _obs(self) -> np.ndarray:
        return self.np_random.random(self.observation_space.shape, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        return self._obs(), float(1.0 - np.abs(action - 0.25).mean()), False, False, {}


def paper_env() -> VecEnv:
    return cell_vec_env(load_scenario("paper").compressed(500))


def trivial_env() -> VecEnv:
    return DummyVecEnv([lambda: TrivialEnv(64, 4) for _ in range(12)])


def time_learn(make: Callable[[], VecEnv], config: TD3Config, periods: int, seed: int) -> float:
    """Seconds per VecEnv step of ``learn()`` (learning from the first step) after a warm-up."""
    env = make()
    model = build_model(TD3Config(**{**config.__dict__, "learning_starts": 0}), env, seed)
    n = env.num_envs
    model.learn(WARMUP_PERIODS * n)  # first calls: allocations, lazy imports
    start = time.perf_counter()
    model.learn(periods * n, reset_num_timesteps=False)
    return (time.perf_counter() - start) / periods


def time_env(periods: int, seed: int) -> float:
    """Seconds per VecEnv step of the paper env with random weights (no learning)."""
    env = paper_env()
    env.seed(seed)
    env.reset()
    rng = np.random.default_rng(seed)
    for _ in range(WARMUP_PERIODS):
        env.step(rng.random((env.num_envs, 4)))
    start = time.perf_counter()
    for _ in range(periods):
        env.step(rng.random((env.num_envs, 4)))
    return (time.perf_counter() - start) / periods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--periods", type=int, default=100)
    parser.add_argument("--config", default=None, help="YAML overriding TD3Config defaults")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TD3Config.from_yaml(args.config) if args.config else TD3Config()
    per_step = config.gradient_steps / config.train_freq
    rows: dict[str, list[float]] = {
        "paper CellVecEnv": [],
        "trivial env": [],
        "paper, no learning": [],
    }
    for run in range(args.runs):  # interleaved, so load changes hit every row alike
        rows["paper CellVecEnv"].append(time_learn(paper_env, config, args.periods, run))
        rows["trivial env"].append(time_learn(trivial_env, config, args.periods, run))
        rows["paper, no learning"].append(time_env(args.periods, run))
    print(
        f"TD3 net {list(config.net_arch)}, batch {config.batch_size}, {per_step:g} updates a "
        f"period; median of {args.runs} runs x {args.periods} periods"
    )
    print("| setting | ms / period | periods/s | timesteps/s | updates/s |")
    print("|---|---|---|---|---|")
    for name, times in rows.items():
        s = statistics.median(times)
        updates = "-" if "no learning" in name else f"{per_step / s:.0f}"
        print(f"| {name} | {1e3 * s:.1f} | {1 / s:.1f} | {12 / s:.0f} | {updates} |")


if __name__ == "__main__":
    main()
