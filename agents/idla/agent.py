"""IDLA: a learned per-slice QoS estimator + Lagrangian search (paper Algorithm 1).

Online behaviour on a scenario timeline (paper Section V-C): during the first
``collect_periods`` periods (H0) it explores random allocations and collects samples; then it
trains the estimator once and from H1 on decides by the batched primal-dual search. A slice
added later (H2) is handled by the same estimator, without retraining: it only needs the
slice's needs and KPI history as inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.base import Agent, SlicingSpec
from agents.idla.dataset import SampleBuffer, augment, context
from agents.idla.estimator import EstimatorReport, QosEstimator, TrainConfig, fit
from agents.idla.solver import LagrangianSolver
from slicesim.policies import equal_split

__all__ = ["IDLAAgent", "collect_periods_of"]

MODEL_FILE = "estimator.pt"


def collect_periods_of(spec: SlicingSpec) -> int:
    """Default collection length: up to the start of the timeline's second phase (H1)."""
    phases = spec.config.timeline.phases
    return phases[1].start if len(phases) > 1 else max(1, spec.config.timeline.n_periods // 5)


class IDLAAgent(Agent):
    """The paper's IDLA controller.

    Args:
        collect_periods: periods of exploration and sample collection before training
            (default: until the timeline's second phase starts, i.e. H0).
        train: estimator training settings (paper: Adam, MAE, 75/25, 200 epochs).
        solver: the Lagrangian search (paper: P = 5 starts, offsets N(0, 0.05)).
        estimator: a trained estimator to use from the start (no collection), e.g. from
            :meth:`QosEstimator.load`.
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
        self.pretrained = estimator
        self.use_augmentation = use_augmentation
        self.progress = progress
        self.model: QosEstimator | None = estimator
        self.report: EstimatorReport | None = None

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        super().reset(spec, seed)
        self.buffer = SampleBuffer(spec)
        self.model = self.pretrained
        self.report = None
        self.collect = (
            self.collect_periods if self.collect_periods is not None else collect_periods_of(spec)
        )
        self.steps = 0
        self.x_prev: np.ndarray | None = None
        self.active_prev: np.ndarray | None = None
        self.generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

    # ------------------------------------------------------------------ interface

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        active = np.asarray(info["active_next"], dtype=bool)
        if self.model is None and self.steps < self.collect:
            return self.explore(active)
        if self.model is None:
            self.train_estimator()
        return self.decide(obs, active)

    def observe(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        if self.model is None:
            self.buffer.add(obs, info)
        self.steps += 1

    def save(self, path: str | Path) -> None:
        """Save the trained estimator into folder ``path`` (``estimator.pt``)."""
        if self.model is None:
            raise RuntimeError("IDLAAgent.save(): no trained estimator yet")
        meta = self.report.as_dict() if self.report else {}
        self.model.save(Path(path) / MODEL_FILE, meta)

    def load(self, path: str | Path) -> None:
        """Load an estimator saved by :meth:`save`; the agent then decides from the start."""
        self.pretrained, _ = QosEstimator.load(Path(path) / MODEL_FILE)
        self.model = self.pretrained

    # ------------------------------------------------------------------ steps

    def explore(self, active: np.ndarray) -> np.ndarray:
        """Uniformly random shares on each cell's active slices (Dirichlet(1), rows sum to 1)."""
        draw = self.rng.exponential(size=active.shape) * active
        total = draw.sum(axis=1, keepdims=True)
        return np.where(total > 0, draw / np.where(total > 0, total, 1.0), 0.0)

    def train_estimator(self) -> EstimatorReport:
        """Train the estimator on the collected samples (augmented) and keep its report."""
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
        assert self.model is not None
        z = torch.from_numpy(context(obs, self.spec))
        x0 = torch.from_numpy(self.start_point(active).astype(np.float32))
        x = self.search(z, torch.from_numpy(active), x0)
        self.x_prev, self.active_prev = x.numpy().astype(float), active
        return self.x_prev

    def search(self, z: torch.Tensor, active: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """The decision rule on the estimator: the Lagrangian search (Algorithm 1)."""
        assert self.model is not None
        return self.solver.solve(self.model, z, active, x0, self.generator)
