"""Shared fixtures: small, fast scenarios on the real simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
