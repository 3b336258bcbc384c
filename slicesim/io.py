"""Result files: atomic writes, output folders checked before a run, per-period tables as CSV.

This module imports nothing else of slicesim: every layer may use it.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np

__all__ = ["atomic_write", "check_output_dir", "csv_writer", "period_table", "write_csv"]


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """An output folder that exists or can be made, and is writable; checked before a long run.

    Raises:
        ValueError: ``path`` is an existing file, or the folder cannot be created or written
            (the message names ``flag``).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is an existing file: give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-check.")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"{flag} {str(path)!r} is not a writable folder: {err.strerror}") from None
    return path


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


def _format(column: np.ndarray) -> np.ndarray:
    """Text of a column: integers and strings as they are, floats with 6 significant digits."""
    if column.dtype.kind in "iUSOb":
        return column.astype(str)
    return np.char.mod("%.6g", column)


@contextlib.contextmanager
def csv_writer(path: str | Path) -> Iterator[Callable[[dict[str, np.ndarray]], None]]:
    """Stream tables of named columns into one CSV, atomically: ``write(chunk)`` per chunk.

    The first chunk's column names are the header; every chunk must have the same columns.
    Memory stays at one chunk's size, whatever the file's length.
    """
    columns: list[str] = []
    with atomic_write(path, newline="") as fh:
        writer = csv.writer(fh)

        def write(table: dict[str, np.ndarray]) -> None:
            if not columns:
                columns.extend(table)
                writer.writerow(columns)
            if list(table) != columns:
                raise ValueError(f"CSV chunk columns {list(table)} differ from {columns}")
            writer.writerows(zip(*(_format(np.asarray(table[c])) for c in columns), strict=True))

        yield write


def write_csv(path: str | Path, table: dict[str, np.ndarray]) -> None:
    """Write a table of named columns as CSV, atomically (floats with 6 significant digits)."""
    with csv_writer(path) as write:
        write(table)
