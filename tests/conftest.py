"""Shared fixtures: small, fast scenarios on the real simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import slicesim


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


def random_mlp(seed: int) -> nn.Module:
    """The paper's estimator shape, random weights, x weights scaled so the share matters."""
    torch.manual_seed(seed)
    first = nn.Linear(13, 36)
    with torch.no_grad():
        first.weight[:, 0] *= 8.0
    return nn.Sequential(
        first, nn.ReLU(), nn.Linear(36, 24), nn.ReLU(), nn.Linear(24, 16),
        nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid(),
    ).eval()  # fmt: skip
