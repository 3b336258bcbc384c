"""IDLA: a learned per-slice QoS estimator + Lagrangian search (paper Algorithm 1).

Online behaviour on a scenario timeline (paper Section V-C): during the first
``collect_periods`` periods (H0) it explores random allocations and collects samples; at the end
of H0 it trains the estimator (inside ``observe``: decision times exclude training) and from H1
on decides by the batched primal-dual search. A slice added later (H2) is handled by the same
estimator, without retraining: it only needs the slice's needs and KPI history as inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.base import Agent, SlicingSpec
from agents.idla.dataset import SampleBuffer, augment, context
from agents.idla.estimator import EstimatorReport, QosEstimator, TrainConfig, fit
from agents.idla.solver import LagrangianSolver
from slicesim.io import atomic_write
from slicesim.sim import equal_split

__all__ = ["MODEL_FILE", "IDLAAgent", "IDLAPaperAgent"]

MODEL_FILE = "estimator.pt"


class IDLAAgent(Agent):
    """The paper's IDLA controller.

    Args:
        collect_periods: periods of exploration and sample collection before training
            (default: until the timeline's second phase starts, i.e. H0).
        train: estimator training settings (paper: Adam, MAE, 75/25, 200 epochs).
        solver: the Lagrangian search (paper: P = 5 starts, offsets N(0, 0.05)).
        estimator: a trained estimator to decide with from the first period (no collection).
        use_augmentation: apply the two augmentation rules of Section V-B.
        progress: show a progress bar while training.
    """

    name = "idla"

    def __init__(
        self,
        collect_periods: int | None = None,
        train: TrainConfig | None = None,
        solver: LagrangianSolver | None = None,
        estimator: QosEstimator | None = None,
        use_augmentation: bool = True,
        progress: bool = False,
    ) -> None:
        self.collect_periods = collect_periods
        self.train_config = train or TrainConfig()
        self.solver = solver or LagrangianSolver()
        self.use_augmentation = use_augmentation
        self.progress = progress
        self.model: QosEstimator | None = estimator
        self.report: EstimatorReport | None = None
        self.buffer: SampleBuffer | None = None

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        """Start an episode; a trained estimator is kept (the agent decides from the start)."""
        super().reset(spec, seed)
        if self.buffer is None or self.buffer.spec.feature_names != spec.feature_names:
            self.buffer = SampleBuffer(spec)
        self.collect = (
            self.collect_periods if self.collect_periods is not None else spec.first_phase_end
        )
        self.steps = 0
        self.x_prev: np.ndarray | None = None
        self.active_prev: np.ndarray | None = None
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

    def forget(self) -> None:
        """Drop the estimator and the samples: the next episode collects and trains again."""
        self.model, self.report, self.buffer = None, None, None

    @property
    def estimator(self) -> QosEstimator:
        """The trained estimator."""
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__} has no trained estimator yet")
        return self.model

    # ------------------------------------------------------------------ interface

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        self.spec  # noqa: B018  (raises a clear error before reset)
        active = np.asarray(info["active_next"], dtype=bool)
        if self.model is None:
            return self.explore(active)
        return self.decide(obs, active)

    def observe(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        self.steps += 1
        if self.model is None:
            assert self.buffer is not None
            self.buffer.add(obs, info)
            if self.steps >= self.collect:
                self.train_estimator()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trained": self.model is not None}
        if self.buffer is not None:
            out["samples"] = len(self.buffer)
        if self.report is not None:
            out.update(self.report.as_dict())
        return out

    def save(self, path: str | Path) -> None:
        """Save the trained estimator into folder ``path``: ``estimator.pt``, ``estimator.json``."""
        meta = self.report.as_dict() if self.report else {}
        self.estimator.save(Path(path) / MODEL_FILE, meta)
        with atomic_write(Path(path) / "estimator.json") as fh:
            json.dump(meta, fh, indent=2)

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> IDLAAgent:
        """An agent deciding with the estimator saved in folder ``path`` (by :meth:`save`).

        Raises:
            FileNotFoundError: no ``estimator.pt`` in ``path``.
        """
        model, _ = QosEstimator.load(Path(path) / MODEL_FILE)
        return cls(estimator=model, **kwargs)

    # ------------------------------------------------------------------ steps

    def explore(self, active: np.ndarray) -> np.ndarray:
        """Uniformly random shares on each cell's active slices (Dirichlet(1), rows sum to 1)."""
        draw = self.rng.exponential(size=active.shape) * active
        total = draw.sum(axis=1, keepdims=True)
        return np.where(total > 0, draw / np.where(total > 0, total, 1.0), 0.0)

    def train_estimator(self) -> EstimatorReport:
        """Train the estimator on the collected samples (augmented) and keep its report."""
        assert self.buffer is not None
        inputs, targets, achieved = self.buffer.arrays()
        if self.use_augmentation:
            inputs, targets = augment(inputs, targets, achieved, self.rng)
        self.model, self.report = fit(inputs, targets, self.train_config, progress=self.progress)
        return self.report

    def start_point(self, active: np.ndarray) -> np.ndarray:
        """Last period's solution; equal shares where there is none or the slice set changed."""
        equal = equal_split(active)
        if self.x_prev is None or self.active_prev is None:
            return equal
        same = (self.active_prev == active).all(axis=1, keepdims=True)
        return np.where(same, self.x_prev, equal)

    def decide(self, obs: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Solve Problem 2 for every cell at once (batched primal-dual search)."""
        z = torch.from_numpy(context(obs, self.spec))
        x0 = torch.from_numpy(self.start_point(active).astype(np.float32))
        x = self.search(z, torch.from_numpy(active), x0)
        self.x_prev, self.active_prev = x.numpy().astype(float), active
        return self.x_prev

    def search(self, z: torch.Tensor, active: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """The decision rule on the estimator: the Lagrangian search (Algorithm 1)."""
        return self.solver.solve(self.estimator, z, active, x0, self.generator)


class IDLAPaperAgent(IDLAAgent):
    """The paper's Algorithm 1 for reproduction: one offline training, the scalar-rate solver."""

    name = "idla-paper"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("solver", LagrangianSolver(curvature_rates=False))
        super().__init__(**kwargs)
