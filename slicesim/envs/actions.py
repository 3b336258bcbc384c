"""Checking an action of PRB shares before it reaches the simulator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SHARE_TOL", "check_action"]

SHARE_TOL = 1e-6
"""Float tolerance above 1 for an entry and for a cell's sum of shares."""


def check_action(
    action: object,
    active: np.ndarray,
    slice_ids: Sequence[int],
    strict: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate PRB shares; zero inactive entries; scale cells whose shares sum above 1.

    Args:
        action: shares of shape ``active.shape`` = (n_cells, max_slices).
        active: the (cell, slice) pairs active in the period the action applies to.
        slice_ids: the slice id of every column (for error messages).
        strict: raise instead of rescaling a cell whose active shares sum above 1.

    Returns:
        The shares to apply (float64, zero where inactive, every row summing to at most 1) and a
        bool array of the cells that were rescaled.

    Raises:
        ValueError: wrong shape; a NaN, infinite, negative or > 1 entry (active or not); with
            ``strict``, a cell whose active shares sum above 1. The message names cell and slice.
    """
    try:
        x = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"action is not an array of numbers: {err}") from None
    if x.shape != active.shape:
        raise ValueError(
            f"action has shape {x.shape}, expected (n_cells, max_slices) = {active.shape}"
        )
    bad = ~((x >= 0.0) & (x <= 1.0 + SHARE_TOL))  # NaN fails both comparisons
    if bad.any():
        c, s = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"action[{c}, {s}] (cell {c}, slice id {slice_ids[s]}) is {x[c, s]:.6g}: allowed [0, 1]"
        )
    x = np.where(active, np.minimum(x, 1.0), 0.0)
    sums = x.sum(axis=1)
    over = sums > 1.0 + SHARE_TOL
    if over.any():
        if strict:
            c = int(np.argmax(over))
            ids = [slice_ids[int(s)] for s in np.flatnonzero(active[c])]
            raise ValueError(
                f"action row of cell {c} sums to {sums[c]:.6g} over its active slices "
                f"(ids {ids}): allowed at most 1 with strict=True"
            )
        x[over] /= sums[over, None]
    return x, over
