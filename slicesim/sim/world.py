"""The static world of a network: everything a period's window needs that no period changes.

:class:`~slicesim.sim.engine.Network` builds its :class:`World` once (layout, drop pool, radio,
slice traffic) and hands it, with the period's inputs, to the window
(:func:`slicesim.sim.window.simulate_window`). The window reads nothing else of the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slicesim.config import SimConfig
from slicesim.sim.kpi_model import KpiModel
from slicesim.sim.link import LinkModel
from slicesim.sim.traffic import PoissonTable

__all__ = ["World"]


@dataclass(frozen=True, eq=False)
class World:
    """A network's static world, as plain arrays and models.

    Attributes:
        n_cells, n_slices, n_prb: sizes (cells, slice types, PRBs per cell).
        seed: the network's seed (it seeds the recorded bursts' arrival times).
        sim: the time scales (window, epoch, buffer).
        link: SINR -> (CQI, bit/s per PRB).
        kpi_model: an epoch's burst delay and time with data.
        noise_mw: noise in one PRB at the user, noise figure included.
        pool_gain: linear gain times per-PRB transmit power from every cell to the drops made
            for each cell, (n_cells, drops, n_cells).
        pool_cell: serving cell of every drop, (n_cells, drops).
        drop_cdf: cumulative share of the sessions dropped in each cell (the spatial weights),
            (n_cells,).
        users_per_cell: users in session per cell when the mask is 1 (load scale included),
            (n_slices,).
        session_s: mean session length, (n_slices,).
        offered_bps: offered rate of a user in session, (n_slices,).
        burst_bits: size of one burst, (n_slices,).
        bursts: Poisson table of the bursts per user and epoch, by slice.
    """

    n_cells: int
    n_slices: int
    n_prb: int
    seed: int
    sim: SimConfig
    link: LinkModel
    kpi_model: KpiModel
    noise_mw: float
    pool_gain: np.ndarray
    pool_cell: np.ndarray
    drop_cdf: np.ndarray
    users_per_cell: np.ndarray
    session_s: np.ndarray
    offered_bps: np.ndarray
    burst_bits: np.ndarray
    bursts: PoissonTable

    @property
    def n_groups(self) -> int:
        """(cell, slice) groups: ``group = cell * n_slices + slice``."""
        return self.n_cells * self.n_slices

    def sample_drops(
        self, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` users drawn from the pool with the cells' weights.

        Returns:
            Gains (n, n_cells), the serving cell's gain (n,) and the serving cell (n,).
        """
        cells = np.searchsorted(self.drop_cdf, rng.random(n), side="right")
        pick = rng.integers(0, self.pool_cell.shape[1], n)
        gain = self.pool_gain[cells, pick]
        serving = self.pool_cell[cells, pick]
        return gain, gain[np.arange(n), serving], serving
