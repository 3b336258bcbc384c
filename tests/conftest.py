"""Shared fixtures: small, fast scenarios on the real simulator."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

import slicesim
from agents.idla.estimator import QosEstimator


def write_masks(path: Path, level: float, periods: int = 4) -> Path:
    """A masks CSV with every profile held at ``level``."""
    names = ["residential", "office", "entertainment", "transport"]
    rows = [",".join(names)] + [",".join([str(level)] * len(names))] * periods
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def loaded_config(tmp_path: Path) -> slicesim.ScenarioConfig:
    """``small`` at a constant busy-hour load (mask 1), slices {1, 2, 4} active throughout."""
    return slicesim.load_scenario(
        "small",
        {
            "traffic.masks_csv": str(write_masks(tmp_path / "masks.csv", 1.0)),
            "timeline.phases": [{"name": "H0", "start": 0, "slices": [1, 2, 4]}],
        },
    )


def shares(n_cells: int, row: list[float]) -> np.ndarray:
    """The same share row in every cell."""
    return np.tile(np.asarray(row, dtype=float), (n_cells, 1))


def random_mlp(seed: int) -> QosEstimator:
    """The paper's estimator (13 inputs: W = 12), random weights, x weights scaled so the share
    matters."""
    torch.manual_seed(seed)
    model = QosEstimator()
    with torch.no_grad():
        model.net[0].weight[:, 0] *= 8.0
    return model.eval()


@functools.lru_cache(maxsize=32)
def compositions(n_slices: int, n_units: int) -> torch.Tensor:
    """Every vector of ``n_slices`` non-negative integers with sum ``<= n_units``, in
    lexicographic order (the exhaustive grid the exact knapsacks are checked against); cached,
    so callers must not modify it. ``(K, n_slices)`` int64, K = C(n_units + n_slices, n_slices)."""
    if n_slices == 0:
        return torch.zeros((1, 0), dtype=torch.long)
    parts = []
    for first in range(n_units + 1):
        rest = compositions(n_slices - 1, n_units - first)
        parts.append(torch.cat([torch.full((rest.shape[0], 1), first), rest], dim=1))
    return torch.cat(parts)
