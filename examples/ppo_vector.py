"""PPO on many networks at once: 16 replicas of `paper` stepped in one pass, one policy per cell.

    python examples/ppo_vector.py                  # 16 replicas x 250 periods = 4000 periods
    python examples/ppo_vector.py --replicas 4 --periods 400

Every replica is a `paper` network with its own seed (drops, shadowing, traffic); each step runs
all their periods in one window (`slicesim.envs.sb3_vec_env`). The policy is shared by every
cell of every replica (the paper's cell-wise DRL): it sees its cell's block of the observation
and outputs one logit per slice; a softmax over the cell's active slices turns the logits into
PRB shares. After training, the policy and equal shares run one day (96 periods) on a held-out
seed and the script prints both mean utilities.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from slicesim.envs import SlicingEnv, sb3_vec_env


def softmax_shares(logits: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Shares over the active slices of each row (rows of inactive cells get zeros)."""
    z = np.where(active, logits, -np.inf)
    z = z - np.max(np.where(active, z, -1e9), axis=-1, keepdims=True)
    e = np.where(active, np.exp(z), 0.0)
    return e / np.maximum(e.sum(axis=-1, keepdims=True), 1e-12)


class SoftmaxShares(VecEnvWrapper):
    """Cell-wise actions as logits in [-3, 3] per slice; the env gets softmax shares."""

    def __init__(self, venv: VecEnv, n_features: int) -> None:
        n_slices = venv.action_space.shape[0]  # type: ignore[index]
        super().__init__(venv, action_space=spaces.Box(-3.0, 3.0, (n_slices,), np.float32))
        self.n_features = n_features
        self._active = np.zeros((venv.num_envs, n_slices), dtype=bool)

    def _remember(self, obs: np.ndarray) -> np.ndarray:
        self._active = obs.reshape(len(obs), -1, self.n_features)[:, :, 0] > 0.5
        return obs

    def reset(self) -> np.ndarray:
        return self._remember(self.venv.reset())

    def step_async(self, actions: np.ndarray) -> None:
        self.venv.step_async(softmax_shares(actions, self._active).astype(np.float32))

    def step_wait(self):  # type: ignore[no-untyped-def]
        obs, rewards, dones, infos = self.venv.step_wait()
        return self._remember(obs), rewards, dones, infos


def evaluate(model: PPO | None, seed: int, periods: int, window_s: float) -> float:
    """Mean utility over ``periods`` on a fresh `paper` network seeded ``seed`` (None: equal)."""
    env = SlicingEnv("paper", config={"sim.window_s": window_s})
    obs, info = env.reset(seed=seed)
    total = 0.0
    for _ in range(periods):
        active = info["active_next"]
        if model is None:
            x = softmax_shares(np.zeros(active.shape), active)
        else:
            logits, _ = model.predict(obs.reshape(env.n_cells, -1), deterministic=True)
            x = softmax_shares(logits, active)
        obs, reward, _, _, info = env.step(x.astype(np.float32))
        total += reward
    return total / periods


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--periods", type=int, default=4000, help="periods over all replicas")
    parser.add_argument("--eval-periods", type=int, default=96)
    parser.add_argument("--window", type=float, default=20.0, help="sim.window_s")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = {"sim.window_s": args.window}
    venv = sb3_vec_env("paper", num_envs=args.replicas, config=config, cellwise=True)
    venv.seed(args.seed)
    n_features = venv.envs.envs[0].observation_space.shape[-1]
    venv = SoftmaxShares(venv, n_features)
    steps = max(args.periods // args.replicas, 2)
    n_steps = min(32, steps)
    model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=256, n_epochs=4,
                learning_rate=3e-4, seed=args.seed, verbose=0)  # fmt: skip
    start = time.perf_counter()
    model.learn(total_timesteps=steps * venv.num_envs)
    took = time.perf_counter() - start
    held_out = 10_000 + args.seed
    ppo = evaluate(model, held_out, args.eval_periods, args.window)
    equal = evaluate(None, held_out, args.eval_periods, args.window)
    print(f"trained on {args.replicas} replicas x {steps} periods in {took:.0f} s")
    print("| policy | mean utility, held-out seed |")
    print("|---|---|")
    print(f"| PPO (cell-wise, {args.replicas} replicas) | {ppo:.3f} |")
    print(f"| equal shares | {equal:.3f} |")


if __name__ == "__main__":
    main()
