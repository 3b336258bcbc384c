"""The static world of a network: everything a period's window needs that no period changes.

:meth:`World.from_config` builds it once per network (layout, drop pool, radio, slice traffic,
the engine that runs its windows) and :class:`~slicesim.sim.engine.Network` hands it, with the
period's inputs, to the window (:func:`slicesim.sim.window.simulate_window`). The window reads
nothing else of the network.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from slicesim.config import ScenarioConfig, SimConfig
from slicesim.sim.channel import RADIO_MODELS, Drops
from slicesim.sim.engines import resolve
from slicesim.sim.kpi_model import KPI_MODELS, KpiModel
from slicesim.sim.layout import Layout, make_layout
from slicesim.sim.link import LINK_MODELS, LinkModel
from slicesim.sim.scheduler import rrm_prbs
from slicesim.sim.traffic import PoissonTable, cell_weights

__all__ = ["World"]

_STATIC = 0x73746174  # "stat": the stream of the fixed world (weights, drops)


@dataclass(frozen=True, eq=False)
class World:
    """A network's static world, as plain arrays and models.

    Attributes:
        n_cells, n_slices, n_prb: sizes (cells, slice types, PRBs per cell).
        seed: the network's seed (it seeds the recorded bursts' arrival times).
        sim: the time scales (window, epoch, buffer).
        link: SINR -> (CQI, bit/s per PRB).
        kpi_model: an epoch's burst delay and time with data.
        engine: the engine its windows run on (``sim.engine`` where the models allow it,
            :mod:`slicesim.sim.engines`).
        noise_mw: noise in one PRB at the user, noise figure included.
        tx_mw: a cell's transmit power per PRB.
        pool_gain: linear gain times per-PRB transmit power from every cell to the drops made
            for each cell, (n_cells, drops, n_cells), C-contiguous.
        pool_cell: serving cell of every drop (the strongest coupling), (n_cells, drops).
        drop_cdf: cumulative share of the sessions dropped in each cell (the spatial weights),
            (n_cells,).
        users_per_cell: users in session per cell when the mask is 1 (load scale included),
            (n_slices,).
        session_s: mean session length, (n_slices,).
        offered_bps: offered rate of a user in session, (n_slices,).
        burst_bits: size of one burst, (n_slices,).
        bursts: Poisson table of the bursts per user and epoch, by slice.
        layout: the sites and cells.
        pool: the drops behind ``pool_gain`` (positions, heights, losses), for calibration.
        cell_weights: the cells' spatial weights (mean 1), (n_cells,).
        attach: P[c, c'] that a user dropped for cell c attaches to cell c', (n_cells, n_cells).
    """

    n_cells: int
    n_slices: int
    n_prb: int
    seed: int
    sim: SimConfig
    link: LinkModel
    kpi_model: KpiModel
    engine: str
    noise_mw: float
    tx_mw: float
    pool_gain: np.ndarray
    pool_cell: np.ndarray
    drop_cdf: np.ndarray
    users_per_cell: np.ndarray
    session_s: np.ndarray
    offered_bps: np.ndarray
    burst_bits: np.ndarray
    bursts: PoissonTable
    layout: Layout
    pool: Drops
    cell_weights: np.ndarray
    attach: np.ndarray

    @classmethod
    def from_config(cls, config: ScenarioConfig, seed: int) -> World:
        """The static world of ``config``'s network with seed ``seed`` (the layout; the spatial
        weights and the drop pool from the seed's static stream; radio, link, KPI model and
        slice traffic from the config)."""
        layout = make_layout(config.layout)
        n_cells, radio, sim = layout.n_cells, config.radio, config.sim
        tx_mw = 10 ** ((radio.tx_power_dbm - 10 * math.log10(radio.n_prb)) / 10)
        noise_dbm = (
            radio.noise_density_dbm_hz
            + 10 * math.log10(radio.prb_bandwidth_hz)
            + radio.noise_figure_db
        )
        static = np.random.default_rng([seed, _STATIC])
        weights = cell_weights(n_cells, config.traffic.cell_weight_sigma, static)
        drop_cdf = np.cumsum(weights / weights.sum())
        drop_cdf[-1] = 1.0
        # drops_per_cell users dropped in every cell's sector (they may attach to another cell)
        per_cell = sim.drops_per_cell
        cells = np.repeat(np.arange(n_cells), per_cell)
        pool = RADIO_MODELS[radio.model](config, seed).drops(layout, cells, static)
        gain = 10.0 ** (-pool.coupling_db / 10.0) * tx_mw  # with the transmit power per PRB
        serving = np.argmax(gain, axis=1)
        attach = np.zeros((n_cells, n_cells))
        np.add.at(attach, (cells, serving), 1.0 / per_cell)
        offered_bps = np.array([s.offered_mbps for s in config.slices]) * 1e6
        burst_bits = np.array([s.burst_kbit for s in config.slices]) * 1e3
        link = LINK_MODELS[radio.link](radio)
        kpi_model = KPI_MODELS[sim.kpi_model]()
        return cls(
            n_cells=n_cells,
            n_slices=config.n_slices,
            n_prb=radio.n_prb,
            seed=seed,
            sim=sim,
            link=link,
            kpi_model=kpi_model,
            engine=resolve(sim.engine, kpi_model, link),
            noise_mw=10 ** (noise_dbm / 10),
            tx_mw=tx_mw,
            pool_gain=np.ascontiguousarray(gain.reshape(n_cells, per_cell, n_cells)),
            pool_cell=np.ascontiguousarray(serving.reshape(n_cells, per_cell), dtype=np.int64),
            drop_cdf=drop_cdf,
            users_per_cell=np.array([s.users_per_cell for s in config.slices])
            * config.traffic.load_scale,
            session_s=np.array([s.session_s for s in config.slices]),
            offered_bps=offered_bps,
            burst_bits=burst_bits,
            # bursts per user and epoch, by slice (the table is the same every period)
            bursts=PoissonTable(offered_bps * sim.epoch_s / burst_bits),
            layout=layout,
            pool=pool,
            cell_weights=weights,
            attach=attach,
        )

    def with_kpi_model(self, model: KpiModel) -> World:
        """This world with another KPI model (the engine resolved again for it)."""
        engine = resolve(self.sim.engine, model, self.link)
        return dataclasses.replace(self, kpi_model=model, engine=engine)

    @property
    def n_groups(self) -> int:
        """(cell, slice) groups: ``group = cell * n_slices + slice``."""
        return self.n_cells * self.n_slices

    def slice_prbs(self, xs: np.ndarray) -> np.ndarray:
        """The PRBs of shares ``xs`` (draws, copies, n_cells, n_slices[, 2]) under
        ``sim.mapping`` (:func:`~slicesim.sim.scheduler.rrm_prbs`): dedicated, minimum and
        maximum, (3, draws, copies, n_groups). Isolated slicing's budgets are all three."""
        shape = (*xs.shape[:2], self.n_groups)
        return np.stack([p.reshape(shape) for p in rrm_prbs(xs, self.n_prb, self.sim.mapping)])

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
