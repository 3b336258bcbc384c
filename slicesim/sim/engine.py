"""The SimPy engine: one control period = one SimPy run over a stationary traffic window.

Each period the network draws a fresh user population from its stationary distribution (15 min of
network time separate two periods, far longer than a session), then SimPy orders the events of the
window: session arrivals per slice (Poisson, scaled by the slice's mask and the cells' spatial
weights), departures, and the scheduling epochs at which numpy updates, vectorised over all users,
the load-coupled SINR, the per-slice PRB budgets, proportional-fair time shares, buffers and the KPI
sums. Between periods the state is plain data (see :meth:`Network.get_state`).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import simpy

from slicesim.config import ScenarioConfig
from slicesim.sim.channel import coupling_gains
from slicesim.sim.kpi import KpiAccumulator, PeriodReport
from slicesim.sim.layout import make_layout
from slicesim.sim.link import LINK_MODELS
from slicesim.sim.scheduler import check_shares, prb_budgets, processor_share
from slicesim.sim.traffic import PoissonTable, TrafficMasks, cell_weights

__all__ = ["Network"]


class _Users:
    """The users of one period's window as flat arrays (one row per session, never reused).

    Rows are filled ahead of need with drops from the network's pool (coupling gains, serving
    cell); an arrival only writes its slice and session times into the next row.
    """

    def __init__(self, net: Network, rng: np.random.Generator, expected: int) -> None:
        self.net, self.rng = net, rng
        self.n = 0
        self.gain = np.empty((0, net.n_cells))
        self.own = np.empty(0)
        self.cell = np.empty(0, dtype=np.intp)
        self.group = np.empty(0, dtype=np.intp)
        self.slice = np.empty(0, dtype=np.intp)
        self.start = np.empty(0)
        self.end = np.empty(0)
        self.backlog = np.empty(0)
        self._grow(expected + 4 * math.isqrt(expected) + 16)

    def _grow(self, count: int) -> None:
        gain, own, cell = self.net._sample_drops(count, self.rng)
        self.gain = np.concatenate([self.gain, gain])
        self.own = np.concatenate([self.own, own])
        self.cell = np.concatenate([self.cell, cell])
        self.group = np.concatenate([self.group, cell * self.net.n_slices])
        self.slice = np.concatenate([self.slice, np.zeros(count, dtype=np.intp)])
        self.start = np.concatenate([self.start, np.full(count, np.inf)])
        self.end = np.concatenate([self.end, np.full(count, -np.inf)])
        self.backlog = np.concatenate([self.backlog, np.zeros(count)])

    def add(self, slice_idx: int, start: float, duration: np.ndarray) -> None:
        """Admit users of ``slice_idx`` (blocked where their slice is inactive in their cell)."""
        k = len(duration)
        if self.n + k > len(self.cell):
            self._grow(max(16, self.n // 2, k))
        rows = slice(self.n, self.n + k)
        self.n += k
        admitted = self.net._active_now[self.cell[rows], slice_idx]
        self.slice[rows] = slice_idx
        self.group[rows] += slice_idx
        self.start[rows] = np.where(admitted, start, np.inf)
        self.end[rows] = np.where(admitted, start + duration, -np.inf)

    def add_one(self, slice_idx: int, start: float, duration: float) -> None:
        """:meth:`add` for a single arrival, in plain Python (cheaper than numpy for one row)."""
        if self.n == len(self.cell):
            self._grow(max(16, self.n // 2))
        i = self.n
        self.n += 1
        cell = self.cell[i]
        self.slice[i] = slice_idx
        self.group[i] += slice_idx
        if self.net._active_now[cell, slice_idx]:
            self.start[i], self.end[i] = start, start + duration


class Network:
    """A multi-cell network with slices, advanced one control period at a time.

    Args:
        config: the scenario.
        seed: seeds every random draw (geometry, traffic, masks); same seed -> same KPIs.

    Example:
        >>> net = Network(load_scenario("small"), seed=1)
        >>> report = net.run_period(np.full((net.n_cells, net.n_slices), 1 / net.n_slices))
    """

    def __init__(self, config: ScenarioConfig, seed: int = 0) -> None:
        self.config = config
        self.seed = int(seed)
        self.layout = make_layout(config.layout)
        self.n_cells, self.n_slices = self.layout.n_cells, config.n_slices
        radio = config.radio
        self.n_prb = radio.n_prb
        self._tx_mw = 10 ** ((radio.tx_power_dbm - 10 * math.log10(radio.n_prb)) / 10)
        self._noise_mw = 10 ** (
            (radio.noise_density_dbm_hz + 10 * math.log10(radio.prb_bandwidth_hz)
             + radio.noise_figure_db) / 10
        )  # fmt: skip
        self.link = LINK_MODELS[radio.link](radio)
        self.masks = TrafficMasks(config, self.seed)
        sl = config.slices
        self.thr_need_mbps, self.delay_need_ms = config.thr_need_mbps, config.delay_need_ms
        self._users_per_cell = np.array([s.users_per_cell for s in sl]) * config.traffic.load_scale
        self._session_s = np.array([s.session_s for s in sl])
        self._offered_bps = np.array([s.offered_mbps for s in sl]) * 1e6
        self._burst_bits = np.array([s.burst_kbit for s in sl]) * 1e3
        static = np.random.default_rng([self.seed, 0x73746174])  # "stat": the fixed world
        self.cell_weights = cell_weights(self.n_cells, config.traffic.cell_weight_sigma, static)
        self._drop_cdf = np.cumsum(self.cell_weights / self.cell_weights.sum())
        self._drop_cdf[-1] = 1.0
        self._pool_gain, self._pool_cell = self._drop_users(config.sim.drops_per_cell, static)
        self.attach = np.zeros((self.n_cells, self.n_cells))
        """P[c, c'] = probability that a user dropped for cell c attaches to cell c' (RSRP)."""
        np.add.at(
            self.attach,
            (np.arange(self.n_cells).repeat(config.sim.drops_per_cell), self._pool_cell.ravel()),
            1.0 / config.sim.drops_per_cell,
        )
        self._rng = np.random.default_rng(self.seed)
        self.period = 0
        self._cell_util = np.full(self.n_cells, 0.5)
        self._active_override: np.ndarray | None = None
        self._phase_masks: dict[tuple[int, ...], np.ndarray] = {}
        self._active_now = self.active_mask()

    # ------------------------------------------------------------------ geometry

    def _drop_users(self, per_cell: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Drop ``per_cell`` users in every cell's sector: gains (n_cells, per_cell, n_cells).

        Gains include the transmit power per PRB; the second array is each user's serving cell
        (the strongest, RSRP). Users are dropped for a cell but may attach to another one.
        """
        cells = np.repeat(np.arange(self.n_cells), per_cell)
        xy = self.layout.drop(cells, rng, self.config.layout.min_distance_m)
        gain = coupling_gains(self.layout, xy, self.config.radio, self.config.layout, rng)
        gain = gain * self._tx_mw
        shape = (self.n_cells, per_cell)
        return gain.reshape(*shape, self.n_cells), np.argmax(gain, axis=1).reshape(shape)

    def _sample_drops(
        self, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gains, own-cell gain and serving cell of ``n`` users drawn from the drop pool."""
        cells = np.searchsorted(self._drop_cdf, rng.random(n), side="right")
        pick = rng.integers(0, self._pool_cell.shape[1], n)
        gain = self._pool_gain[cells, pick]
        serving = self._pool_cell[cells, pick]
        return gain, gain[np.arange(n), serving], serving

    def sinr_db(self, gain: np.ndarray, serving: np.ndarray, cell_util: np.ndarray) -> np.ndarray:
        """Load-coupled SINR (Siomina and Yuan 2012): interference scales with neighbours' load."""
        own = gain[np.arange(len(serving)), serving]
        interference = gain @ cell_util - own * cell_util[serving]
        return 10 * np.log10(own / (self._noise_mw + interference))

    def sample_sinr_db(self, n: int, seed: int = 0, cell_util: float = 1.0) -> np.ndarray:
        """SINR of ``n`` users dropped with the cells' weights, every cell at ``cell_util``."""
        gain, _, serving = self._sample_drops(n, np.random.default_rng(seed))
        return self.sinr_db(gain, serving, np.full(self.n_cells, cell_util))

    # ------------------------------------------------------------------ slices and traffic

    def active_mask(self, period: int | None = None) -> np.ndarray:
        """Active (cell, slice) pairs at ``period``: the override if set, else the timeline."""
        if self._active_override is not None:
            return self._active_override.copy()
        phase = self.config.phase_at(self.period if period is None else period)
        if phase.slices not in self._phase_masks:
            row = np.isin(self.config.slice_ids, phase.slices)
            self._phase_masks[phase.slices] = np.broadcast_to(row, (self.n_cells, self.n_slices))
        return self._phase_masks[phase.slices].copy()

    def set_active_slices(self, active: np.ndarray | list[int] | None) -> None:
        """Override the timeline's slice set: slice ids, a (n_cells, n_slices) mask, or None."""
        if active is None:
            self._active_override = None
            return
        arr = np.asarray(active)
        if arr.dtype == bool:
            if arr.shape != (self.n_cells, self.n_slices):
                raise ValueError(
                    f"active mask has shape {arr.shape}, expected {(self.n_cells, self.n_slices)}"
                )
            self._active_override = arr.copy()
            return
        cols = [self.config.slice_index(int(sid)) for sid in arr.ravel()]
        mask = np.zeros((self.n_cells, self.n_slices), dtype=bool)
        mask[:, cols] = True
        self._active_override = mask

    def expected_demand_mbps(self, period: int | None = None) -> np.ndarray:
        """Mean traffic offered per (cell, slice) at ``period`` (the traffic level, exactly)."""
        p = self.period if period is None else period
        users = np.outer(self.cell_weights @ self.attach, self._users_per_cell * self.masks(p))
        return users * self._offered_bps / 1e6 * self.active_mask(p)

    # ------------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """The state between periods as plain data (numbers, arrays, generator state)."""
        return {
            "period": self.period,
            "rng": copy.deepcopy(self._rng.bit_generator.state),
            "cell_util": self._cell_util.copy(),
            "active_override": (
                None if self._active_override is None else self._active_override.copy()
            ),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state` (of a network built from the same config/seed)."""
        self.period = int(state["period"])
        self._rng.bit_generator.state = copy.deepcopy(state["rng"])
        self._cell_util = np.array(state["cell_util"], dtype=float)
        override = state["active_override"]
        self._active_override = None if override is None else np.array(override, dtype=bool)

    # ------------------------------------------------------------------ one period

    def run_period(self, x: np.ndarray) -> PeriodReport:
        """Apply PRB shares ``x`` (n_cells, n_slices), simulate one control period, report KPIs.

        Entries of inactive slices are ignored. Rows must sum to at most 1.

        Raises:
            ValueError: from :func:`~slicesim.sim.scheduler.check_shares` (wrong shape, NaN/inf,
                negative or > 1 entries, a cell summing above 1), naming cell and slice.
        """
        self._active_now = self.active_mask()
        x, _ = check_shares(x, self._active_now, self.config.slice_ids)
        sim = self.config.sim
        mask = self.masks(self.period)
        rate = self._users_per_cell * mask * self.n_cells / self._session_s  # sessions/s
        n0 = self._rng.poisson(self._users_per_cell * mask * self.n_cells)
        users = _Users(self, self._rng, int(n0.sum() + np.ceil(rate.sum() * sim.window_s)))
        for s in np.flatnonzero(n0):  # stationary population with memoryless residual sessions
            users.add(int(s), 0.0, self._rng.exponential(self._session_s[s], size=n0[s]))
        acc = KpiAccumulator(self.n_cells, self.n_slices, sim.epoch_s)
        env = simpy.Environment()
        for s in np.flatnonzero(rate * self._active_now.any(axis=0) > 0):
            env.process(self._arrivals(env, users, int(s), float(rate[s])))
        env.process(self._scheduler(env, users, prb_budgets(x, self.n_prb), acc))
        env.run(until=sim.window_s)
        report = acc.report(
            users.group[: users.n],
            sim.window_s,
            self.n_prb,
            period=self.period,
            phase=self.config.phase_at(self.period).name,
            x=x,
            active=self._active_now.copy(),
            mask=mask,
        )
        self.period += 1
        return report

    def _arrivals(self, env: simpy.Environment, users: _Users, s: int, rate: float) -> Any:
        """SimPy process: Poisson session arrivals of slice ``s``, each with its session time."""
        while True:
            gaps = self._rng.exponential(1.0 / rate, size=16).tolist()  # chunks: cheaper
            sessions = self._rng.exponential(self._session_s[s], size=16).tolist()
            for gap, session in zip(gaps, sessions, strict=True):
                yield env.timeout(gap)
                users.add_one(s, env.now, session)

    def _scheduler(
        self, env: simpy.Environment, users: _Users, budget: np.ndarray, acc: KpiAccumulator
    ) -> Any:
        """SimPy process: a scheduling epoch every ``epoch_s``, vectorised over all users.

        Per epoch: load-coupled SINR -> CQI -> rate per PRB; bursts arrive; each slice's
        PRB budget is time-shared among its users (``scheduler.processor_share``); buffers,
        PRB use and the KPI sums are updated. Cell loads feed the next epoch's interference.
        """
        dt = self.config.sim.epoch_s
        n_groups = self.n_cells * self.n_slices
        budget = budget.ravel()
        cap_s = self.config.sim.buffer_s
        bursts = PoissonTable(self._offered_bps * dt / self._burst_bits)  # bursts per epoch
        while True:
            # Every admitted row is computed (rows outside their session get no data): cheaper
            # than gathering the present ones, and the accumulators need no scatter.
            n = users.n
            present = (users.start[:n] <= env.now) & (users.end[:n] > env.now)
            cell, sl, group, own = users.cell[:n], users.slice[:n], users.group[:n], users.own[:n]
            util = self._cell_util
            interference = users.gain[:n] @ util - own * util[cell]
            cqi, prb_bps = self.link.rates(own / (self._noise_mw + interference))
            # bit/s with the whole slice; the 1 bit/s floor keeps zero budgets finite
            full_rate = np.maximum(budget[group] * prb_bps, 1.0)
            burst = self._burst_bits[sl]
            arrived = burst * bursts.draw(sl, self._rng) * present
            backlog = users.backlog[:n] * present
            need = backlog + arrived
            work = need / (full_rate * dt)  # share of the slice's epoch the user needs
            phi, load = processor_share(group, work, n_groups)
            rate = phi * full_rate  # > 0 wherever need > 0 (water-filling levels are > 0)
            # throughput while backlogged (scheduler.py); the floor keeps idle users at 0 / x
            thr = full_rate * np.maximum(np.maximum(1.0 - load[group], phi), 1e-9)
            delay = np.minimum(backlog / np.maximum(rate, 1e-9) + burst / thr, cap_s)
            served = rate * dt
            users.backlog[:n] = np.minimum(need - served, self._offered_bps[sl] * cap_s)
            used = np.bincount(group, weights=phi, minlength=n_groups) * budget
            self._cell_util = used.reshape(self.n_cells, self.n_slices).sum(axis=1) / self.n_prb
            acc.add(n, present, served, rate / thr * dt, arrived, delay * arrived, cqi, used * dt)
            yield env.timeout(dt)
