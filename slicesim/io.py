"""Result files: atomic writes and the per-period KPI table (one row per period, cell, slice)."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.sim.kpi import PeriodReport

__all__ = ["KPI_COLUMNS", "atomic_write", "kpi_table", "period_table", "write_kpi_csv"]

KPI_COLUMNS = (
    "period", "phase", "cell", "slice_id", "active", "x", "thr_mbps", "delay_ms",
    "prb_util", "users", "cqi", "demand_mbps", "served", "qos",
)  # fmt: skip


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs: object) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    An error or Ctrl-C inside the block leaves no half-written ``path`` behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:  # type: ignore[call-overload]
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def period_table(
    periods: np.ndarray,
    phases: Sequence[str],
    slice_ids: Sequence[int],
    arrays: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Columns of a table with one row per period, cell and slice type.

    Args:
        periods, phases: one entry per period (length T).
        slice_ids: id of every slice column.
        arrays: named arrays of shape (T, n_cells, n_slices), written in this order.
    """
    first = next(iter(arrays.values()))
    n, n_cells, n_slices = first.shape
    cells, slices = np.meshgrid(np.arange(n_cells), np.arange(n_slices), indexing="ij")
    per_period = n_cells * n_slices
    return {
        "period": np.repeat(np.asarray(periods), per_period),
        "phase": np.repeat(np.asarray(phases, dtype=str), per_period),
        "cell": np.tile(cells.ravel(), n),
        "slice_id": np.tile(np.asarray(slice_ids)[slices.ravel()], n),
        **{k: (v.astype(int) if v.dtype == bool else v).reshape(-1) for k, v in arrays.items()},
    }


def kpi_table(reports: Sequence[PeriodReport], config: ScenarioConfig) -> dict[str, np.ndarray]:
    """The KPI table of ``slicesim simulate``: one row per period, cell and slice type."""
    if not reports:
        return {c: np.empty(0) for c in KPI_COLUMNS}
    thr_need = np.array([s.thr_mbps for s in config.slices])
    delay_need = np.array([s.delay_ms for s in config.slices])
    arrays = {"active": np.stack([r.active for r in reports])}
    for name in reports[0].arrays():
        arrays[name] = np.stack([r.arrays()[name] for r in reports])
    arrays["served"] = np.stack([r.served for r in reports])
    arrays["qos"] = np.stack([r.qos(thr_need, delay_need) for r in reports])
    return period_table(
        np.array([r.period for r in reports]),
        [r.phase for r in reports],
        config.slice_ids,
        arrays,
    )


def write_kpi_csv(path: str | Path, table: dict[str, np.ndarray]) -> None:
    """Write a KPI table as CSV, atomically."""
    columns = list(table)
    text = {
        c: (table[c].astype(str) if table[c].dtype.kind in "iUSOb"
            else np.char.mod("%.6g", table[c]))
        for c in columns
    }  # fmt: skip
    with atomic_write(path, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(zip(*(text[c] for c in columns), strict=True))
