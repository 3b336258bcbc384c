"""Offline training of the cell-wise TD3 (``slicesim train td3``): SB3 ``learn()`` on the per-cell
VecEnv, with checkpoints for ``--resume``, a periodic evaluation and a progress bar.

The result is used in the runner by ``TD3Agent.load(folder)`` (:mod:`agents.td3`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml
from stable_baselines3 import TD3
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger
from tqdm import tqdm

from agents.td3.agent import CONFIG_FILE, MODEL_FILE, TD3Agent, build_model, save_model
from agents.td3.config import TD3Config
from agents.td3.vec_env import ShareVecEnv, cell_vec_env
from slicesim.config import ConfigError, ScenarioConfig
from slicesim.io import atomic_write
from slicesim.rollout import run
from slicesim.sim import cell_reward

__all__ = [
    "TrainSettings",
    "latest_checkpoint",
    "save_checkpoint",
    "train_offline",
]


# ---------------------------------------------------------------------- offline training

CHECKPOINTS = "checkpoints"
LATEST = "latest.json"


def latest_checkpoint(out: str | Path) -> dict[str, Any] | None:
    """The pointer ``out/checkpoints/latest.json`` (model, replay buffer, num_timesteps), if any."""
    path = Path(out) / CHECKPOINTS / LATEST
    return json.loads(path.read_text()) if path.is_file() else None


def save_checkpoint(model: TD3, out: str | Path) -> dict[str, Any]:
    """Model, replay buffer and step count under ``out/checkpoints``; the pointer last."""
    folder, n = Path(out) / CHECKPOINTS, int(model.num_timesteps)
    entry: dict[str, Any] = {
        "num_timesteps": n,
        "model": f"model_{n}.zip",
        "replay_buffer": f"buffer_{n}.pkl",
    }
    save_model(model, folder / entry["model"])
    with atomic_write(folder / entry["replay_buffer"], "wb") as fh:
        model.save_replay_buffer(cast(io.BufferedIOBase, fh))
    with atomic_write(folder / LATEST) as fh:
        json.dump(entry, fh, indent=2)
    for old in folder.glob("buffer_*.pkl"):  # keep the latest buffer only (the big file)
        if old.name != entry["replay_buffer"]:
            old.unlink()
    return entry


class _Progress(BaseCallback):
    """A tqdm bar over SB3 timesteps (SB3's own needs rich)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def _on_training_start(self) -> None:
        self.bar = tqdm(total=self.total, initial=self.num_timesteps, desc="train td3", unit="step")

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


class _Checkpoints(BaseCallback):
    """:func:`save_checkpoint` every ``every`` timesteps and at the end of training."""

    def __init__(self, out: Path, every: int) -> None:
        super().__init__()
        self.out, self.every, self.last = out, every, 0

    def _on_training_start(self) -> None:
        self.last = self.num_timesteps

    def _on_step(self) -> bool:
        if self.every > 0 and self.num_timesteps - self.last >= self.every:
            save_checkpoint(self.model, self.out)  # type: ignore[arg-type]
            self.last = self.num_timesteps
        return True


class _Evaluate(BaseCallback):
    """Every ``every`` timesteps: the deterministic policy through :func:`agents.base.run` on a
    separate env; mean utility and cell reward to the logger and ``out/evaluations.csv``."""

    def __init__(self, out: Path, config: ScenarioConfig, every: int, seed: int) -> None:
        super().__init__()
        self.out, self.config, self.every, self.seed = out, config, every, seed
        self.last, self.rows = 0, []  # type: ignore[var-annotated]

    def _on_training_start(self) -> None:
        self.last = self.num_timesteps
        path = self.out / "evaluations.csv"  # a resumed run appends to the earlier rows
        if not self.rows and path.is_file():
            lines = path.read_text().splitlines()[1:]
            keys = ("timesteps", "mean_utility", "mean_cell_reward")
            self.rows = [dict(zip(keys, map(float, ln.split(",")), strict=True)) for ln in lines]

    def _on_step(self) -> bool:
        if self.every > 0 and self.num_timesteps - self.last >= self.every:
            self.evaluate()
            self.last = self.num_timesteps
        return True

    def evaluate(self) -> dict[str, float]:
        from slicesim.envs import SlicingEnv

        agent = TD3Agent(model=self.model)  # type: ignore[arg-type]
        traj = run(SlicingEnv(self.config), agent, progress=False, seed=self.seed)
        cell = cell_reward(traj.stacked("r"), traj.stacked("active"))
        row = {
            "timesteps": float(self.num_timesteps),
            "mean_utility": float(np.mean(traj.utility)),
            "mean_cell_reward": float(cell.mean()),
        }
        for key in ("mean_utility", "mean_cell_reward"):
            self.logger.record(f"eval/{key}", row[key])
        self.rows.append(row)
        with atomic_write(self.out / "evaluations.csv") as fh:
            fh.write("timesteps,mean_utility,mean_cell_reward\n")
            fh.writelines(
                f"{int(r['timesteps'])},{r['mean_utility']:.6f},{r['mean_cell_reward']:.6f}\n"
                for r in self.rows
            )
        return row


@dataclass(frozen=True)
class TrainSettings:
    """One ``slicesim train td3`` run (timesteps: one per cell per period)."""

    out: Path
    steps: int
    scenario: ScenarioConfig
    config: TD3Config = dataclasses.field(default_factory=TD3Config)
    seed: int = 0
    checkpoint_every: int = 12_000
    eval_every: int = 12_000
    eval_periods: int = 24
    tensorboard: str | None = None
    resume: bool = False
    progress: bool = True
    replicas: int = 1
    """Networks collected from at once (one window pass per period): ``replicas`` x n_cells
    transitions a step."""


def _start(s: TrainSettings, venv: ShareVecEnv) -> TD3:
    """A fresh model, or the last checkpoint's with its replay buffer (``resume``)."""
    latest = latest_checkpoint(s.out)
    if s.resume and latest is None:
        raise FileNotFoundError(f"--resume: no checkpoint in {str(s.out / CHECKPOINTS)!r}")
    if latest is not None and not s.resume:
        raise ConfigError(f"{str(s.out)!r} has checkpoints: pass --resume or another --out")
    if latest is None:
        with atomic_write(s.out / CONFIG_FILE) as fh:
            yaml.safe_dump(s.config.to_dict(), fh)
        return build_model(s.config, venv, s.seed, s.tensorboard)
    folder = s.out / CHECKPOINTS
    model = TD3.load(
        folder / latest["model"], env=venv, device="cpu", tensorboard_log=s.tensorboard
    )
    model.load_replay_buffer(folder / latest["replay_buffer"])
    model.set_random_seed(s.seed + model.num_timesteps)
    return model


def train_offline(s: TrainSettings) -> TD3:
    """SB3 ``learn()`` up to ``s.steps`` timesteps in total; writes ``s.out/model.zip``.

    Raises:
        ConfigError: ``--tensorboard`` without tensorboard installed; checkpoints in ``out``
            without ``resume``.
        FileNotFoundError: ``resume`` without a checkpoint.
    """
    if s.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install tensorboard")
    model = _start(s, cell_vec_env(s.scenario, s.replicas))
    if s.tensorboard is None:
        model.set_logger(Logger(folder=None, output_formats=[]))
    eval_config = s.scenario.compressed(s.eval_periods)
    callbacks = [
        _Checkpoints(s.out, s.checkpoint_every),
        _Evaluate(s.out, eval_config, s.eval_every, s.seed + 10_000),
    ]
    if s.progress:
        callbacks.append(_Progress(s.steps))
    remaining = s.steps - model.num_timesteps
    try:
        if remaining > 0:  # with reset_num_timesteps=False SB3 adds num_timesteps itself
            model.learn(
                remaining,
                callback=CallbackList(callbacks),
                tb_log_name="td3",
                reset_num_timesteps=not s.resume,
            )
    finally:  # also on Ctrl-C: the next --resume continues from here
        save_checkpoint(model, s.out)
    save_model(model, s.out / MODEL_FILE)
    return model
