"""The network: its static world (layout, drops, weights, masks) and one control period at a time.

A period is one SimPy run over a stationary traffic window (:mod:`slicesim.sim.window`). Between
periods the state is plain data (:meth:`Network.get_state`): the period, the generator and the
cells' loads (the warm start of the first epoch's interference). :meth:`Network.replay` runs what-if
copies of the coming period on common random numbers, for the simulator oracles.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.sim.capture import Traffic
from slicesim.sim.channel import Drops
from slicesim.sim.kpi import KPI_FIELDS, PeriodReport, PeriodReports, qos
from slicesim.sim.kpi_model import KpiModel
from slicesim.sim.layout import Layout
from slicesim.sim.link import LinkModel
from slicesim.sim.scheduler import check_action_rows
from slicesim.sim.traffic import TrafficMasks
from slicesim.sim.window import (
    PeriodInputs,
    recorded_generators,
    simulate_window,
    simulate_windows,
    sweep_levels,
)
from slicesim.sim.world import World

__all__ = ["Network", "Replay", "generator_at", "run_periods"]


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
        self.world = World.from_config(config, self.seed)
        """The static world the windows run in (:mod:`slicesim.sim.world`)."""
        self.n_cells, self.n_slices = self.world.n_cells, config.n_slices
        self.n_prb = self.world.n_prb
        self.masks = TrafficMasks(config, self.seed)
        self.thr_need_mbps, self.delay_need_ms = config.thr_need_mbps, config.delay_need_ms
        self._rng = np.random.default_rng(self.seed)
        self.period = 0
        self._cell_util = np.full(self.n_cells, 0.5)
        self._active_override: np.ndarray | None = None
        self._phase_masks: dict[tuple[int, ...], np.ndarray] = {}

    # ------------------------------------------------------------------ the static world

    @property
    def layout(self) -> Layout:
        """The sites and cells."""
        return self.world.layout

    @property
    def pool(self) -> Drops:
        """The user drops behind the coupling gains (positions, heights, indoor state, coupling
        losses), for calibration and plots."""
        return self.world.pool

    @property
    def cell_weights(self) -> np.ndarray:
        """The cells' spatial weights (mean 1: some cells are hot spots)."""
        return self.world.cell_weights

    @property
    def attach(self) -> np.ndarray:
        """P[c, c'] = probability that a user dropped for cell c attaches to cell c' (RSRP)."""
        return self.world.attach

    @property
    def link(self) -> LinkModel:
        """SINR -> (CQI, bit/s per PRB)."""
        return self.world.link

    @property
    def engine(self) -> str:
        """The engine the windows run on (``sim.engine`` where the models allow it)."""
        return self.world.engine

    @property
    def tx_mw(self) -> float:
        """Transmit power of a cell per PRB (mW)."""
        return self.world.tx_mw

    @property
    def noise_mw(self) -> float:
        """Noise power in one PRB at the UE, noise figure included (mW)."""
        return self.world.noise_mw

    @property
    def kpi_model(self) -> KpiModel:
        """The KPI model of the windows (``sim.kpi_model``); assign another to try it (a model
        without a compiled form runs on the reference engine)."""
        return self.world.kpi_model

    @kpi_model.setter
    def kpi_model(self, model: KpiModel) -> None:
        self.world = self.world.with_kpi_model(model)

    def sinr_db(self, gain: np.ndarray, serving: np.ndarray, cell_util: np.ndarray) -> np.ndarray:
        """Load-coupled SINR (Siomina and Yuan 2012): interference scales with neighbours' load."""
        own = gain[np.arange(len(serving)), serving]
        interference = gain @ cell_util - own * cell_util[serving]
        return 10 * np.log10(own / (self.noise_mw + interference))

    def sample_sinr_db(self, n: int, seed: int = 0, cell_util: float = 1.0) -> np.ndarray:
        """SINR of ``n`` users dropped with the cells' weights, every cell at ``cell_util``."""
        gain, _, serving = self.world.sample_drops(n, np.random.default_rng(seed))
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
        users = np.outer(self.cell_weights @ self.attach, self.world.users_per_cell * self.masks(p))
        return users * self.world.offered_bps / 1e6 * self.active_mask(p)

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
            ValueError: from :func:`~slicesim.sim.scheduler.check_action_rows` (wrong shape,
                NaN/inf, negative or > 1 entries, a cell summing above 1), naming cell and
                slice.
        """
        return run_periods([self], [x])[0]

    def _prepare(self, x: np.ndarray, checked: bool = False) -> PeriodInputs:
        """The coming period's window inputs for shares ``x`` (checked here unless
        ``checked``)."""
        active = self.active_mask()
        if not checked:
            ids, mapping = self.config.slice_ids, self.config.sim.mapping
            x = check_action_rows([x], active[None], ids, [""], mapping)[0][0]
        return self._inputs(active, np.asarray(x, dtype=float)[None], self._cell_util[None])

    def _inputs(
        self,
        active: np.ndarray,
        xs: np.ndarray,
        warm: np.ndarray,
        frozen: np.ndarray | None = None,
    ) -> PeriodInputs:
        """The coming period's window inputs (its index, mask and slice set) for shares ``xs``."""
        return PeriodInputs(self.period, self.masks(self.period), active, xs, warm, frozen)

    def replay(
        self,
        xs: np.ndarray,
        states: Sequence[dict[str, Any]] | None = None,
        frozen_util: np.ndarray | None = None,
        capture: list[Traffic] | None = None,
        offered: list[Any] | None = None,
    ) -> Replay:
        """Simulate the coming period under each allocation of ``xs`` on common random numbers.

        A period's random draws (users, sessions, bursts) do not depend on the shares, so every
        copy sees the same traffic. Several ``states`` (e.g. the same period with other
        generators: other users of the same traffic level) are simulated in the same pass. The
        network is left exactly as it was. This is the simulator oracles' tool
        (``agents.sim_oracle``); controllers never see it.

        Args:
            xs: shares ``(L, n_cells, n_slices)`` in [0, 1] (``(L, n_cells, n_slices, 2)``,
                minimum and maximum, under ``sim.rrm_action: min_max``). Rows may sum above 1
                (each slice's budget is then its own share of the PRBs): a what-if of the
                oracles, never reachable through the env.
            states: :meth:`get_state` results of one period (default: the current state).
            frozen_util: cell loads ``(K, n_epochs, n_cells)``, one per state, used for every
                epoch's interference instead of the copies' own loads: a slice's KPIs then
                depend on its own share only (what the oracles' level sweeps need), under
                isolated slicing.
            capture: if given, one :class:`~slicesim.sim.capture.Traffic` per state is appended:
                the users and bursts every copy saw (for the TTI reference,
                :mod:`slicesim.sim.tti`). Recording changes no draw and no KPI.
            offered: the same list in several replays of the same ``states``: the first
                records the draws' traffic into it (users, bursts), the others replay it
                without SimPy's arrivals or random numbers - the same numbers, bit for bit,
                for a fraction of the cost (the oracles' passes over one period).

        Returns:
            KPIs and QoS per state and copy (arrays ``(K, L, n_cells, n_slices)``) and each
            copy's cell loads per epoch.

        Raises:
            ValueError: a wrong shape, shares outside [0, 1], states of different periods.
        """
        inputs, rngs, saved = self._what_if(xs, states, frozen_util, offered)
        try:
            window = simulate_window(self.world, inputs, rngs, capture, offered)
        finally:
            self.set_state(saved)
        kpis = window.sums.kpis(self.config.sim.window_s, self.n_prb)
        r = qos(
            kpis["thr_mbps"],
            kpis["delay_ms"],
            self.thr_need_mbps,
            self.delay_need_ms,
            kpis["served"],
        )
        active = inputs.active
        return Replay(
            x=inputs.xs,
            active=active,
            r=np.where(active, r, 1.0),
            kpis=kpis,
            cell_util=window.cell_util,
        )

    def replay_levels(
        self,
        xs: np.ndarray,
        states: Sequence[dict[str, Any]],
        frozen_util: np.ndarray,
        offered: list[Any] | None = None,
        exact: bool = True,
    ) -> tuple[np.ndarray, int]:
        """QoS satisfaction r of the coming period under share levels: :meth:`replay` of ``xs``
        with frozen loads, each copy raising the shares of the one before (the oracles' level
        sweep), reduced to r.

        On the compiled engine each (state, cell, slice) runs level by level and, with
        ``exact``, stops at its first r = 1: the higher levels' r is 1 too (the KPI model's
        ``monotone``; :mod:`slicesim.sim.compiled.sweep`), the same numbers as the full sweep.

        Returns:
            r per (state, copy, cell, slice) (1 where inactive or unserved), and how many
            (state, copy, group) runs it took.

        Raises:
            ValueError: as :meth:`replay`; copies that lower a share from one to the next.
        """
        inputs, rngs, saved = self._what_if(xs, states, frozen_util, offered)
        try:
            needs = (self.thr_need_mbps, self.delay_need_ms)
            return sweep_levels(self.world, inputs, rngs, needs, offered, exact)
        finally:
            self.set_state(saved)

    def _what_if(
        self,
        xs: np.ndarray,
        states: Sequence[dict[str, Any]] | None,
        frozen_util: np.ndarray | None,
        offered: list[Any] | None,
    ) -> tuple[PeriodInputs, list[np.random.Generator], dict[str, Any]]:
        """The window inputs and generators of a replay (checked; a recording's own where
        ``offered`` holds one), and the state to restore after it: the network is moved to
        ``states[0]`` (restore it with ``set_state``)."""
        xs = np.asarray(xs, dtype=float)
        shape = (self.n_cells, self.n_slices, *self.config.sim.action_shape)
        if xs.shape[1:] != shape:
            raise ValueError(f"xs has shape {xs.shape}, expected (L, *{shape})")
        outside = ~((xs >= 0) & (xs <= 1))
        if outside.any():
            where = tuple(int(i) for i in np.argwhere(outside)[0])
            raise ValueError(f"xs{list(where)} = {xs[where]}: allowed [0, 1]")
        saved = self.get_state()
        states = [saved] if states is None else list(states)
        if len({int(st["period"]) for st in states}) != 1:
            raise ValueError("replay states must all be of the same period")
        epochs = self.config.sim.n_epochs
        if frozen_util is not None and np.shape(frozen_util) != (len(states), epochs, self.n_cells):
            raise ValueError(
                f"frozen_util has shape {np.shape(frozen_util)}, expected (states, epochs, cells)"
                f" = {(len(states), epochs, self.n_cells)}"
            )
        try:
            self.set_state(states[0])
            active = self.active_mask()
            rngs = recorded_generators(offered, len(states)) or [
                generator_at(st["rng"]) for st in states
            ]
            warm = np.stack([np.asarray(st["cell_util"], dtype=float) for st in states])
            frozen = None if frozen_util is None else np.asarray(frozen_util, dtype=float)
            on = active[..., None] if self.config.sim.action_shape else active
            inputs = self._inputs(active, np.where(on, xs, 0.0), warm, frozen)
        except Exception:
            self.set_state(saved)
            raise
        return inputs, rngs, saved


def generator_at(state: dict[str, Any]) -> np.random.Generator:
    """A generator at a bit generator's ``state`` (``bit_generator.state``; the dict is read,
    not kept)."""
    bit_generator = getattr(np.random, state["bit_generator"])(0)  # a seed: no entropy drawn
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def run_periods(
    networks: Sequence[Network], xs: Sequence[np.ndarray] | np.ndarray, checked: bool = False
) -> PeriodReports:
    """One control period of every network, simulated in one window pass where that is exact.

    The networks must share one scenario (the same :class:`~slicesim.config.ScenarioConfig`);
    each keeps its own seed, static world, period and generator. With an exact KPI model (the
    default ``user_ps``) their windows run together (:func:`~slicesim.sim.window.
    simulate_windows`: one compiled call for all of them on the compiled engine) and network k's
    report equals ``networks[k].run_period(xs[k])`` bit for bit; with ``sim.kpi_model: legacy``
    (whose water-filling mixes groups) they run one after the other.

    Args:
        networks: the networks, each advanced by one period.
        xs: the shares of each, (n_cells, n_slices) (checked as by :meth:`Network.run_period`).
        checked: the shares were checked already (by :func:`~slicesim.sim.scheduler.
            check_shares` against each network's coming slice set): they are used as given.

    Returns:
        The reports, batched (network k's: ``reports[k]``).

    Raises:
        ValueError: networks of different scenarios, a length mismatch, or bad shares (naming
            the network, cell and slice).
    """
    if len(networks) != len(xs):
        raise ValueError(f"{len(networks)} networks but {len(xs)} share arrays")
    if not networks:
        raise ValueError("run_periods needs at least one network")
    config = networks[0].config
    for k, net in enumerate(networks):
        if net.config is not config and net.config != config:
            raise ValueError(f"networks[{k}] runs another scenario than networks[0]")
    inputs = []
    for k, (net, x) in enumerate(zip(networks, xs, strict=True)):
        try:
            inputs.append(net._prepare(x, checked))
        except ValueError as err:
            if len(networks) == 1:
                raise
            raise ValueError(f"networks[{k}]: {err}") from err
    window_s, n_prb = config.sim.window_s, config.radio.n_prb
    if len(networks) > 1 and networks[0].world.kpi_model.exact:
        window = simulate_windows(
            [net.world for net in networks], inputs, [net._rng for net in networks]
        )
        return _close(networks, inputs, window.sums.kpis(window_s, n_prb), window.util_end)
    reports = []
    for net, inp in zip(networks, inputs, strict=True):
        window = simulate_window(net.world, inp, [net._rng])
        reports.append(_close([net], [inp], window.sums.kpis(window_s, n_prb), window.util_end))
    return reports[0] if len(reports) == 1 else PeriodReports.stacked([r[0] for r in reports])


def _close(
    networks: Sequence[Network],
    inputs: Sequence[PeriodInputs],
    kpis: dict[str, np.ndarray],
    util_end: np.ndarray,
) -> PeriodReports:
    """Close the period of every network (draw k of a window's KPIs and loads is network k's):
    their reports; each network moves on to its next period."""
    periods = np.array([net.period for net in networks])
    phases = []
    for k, net in enumerate(networks):
        phases.append(net.config.phase_at(net.period).name)
        net._cell_util = util_end[k, 0].copy()  # next period's warm start
        net.period += 1
    values = {name: kpis[name][:, 0] for name in KPI_FIELDS}
    return PeriodReports(
        period=periods,
        phase=tuple(phases),
        x=np.stack([inp.xs[0] for inp in inputs]),
        active=np.stack([inp.active for inp in inputs]),
        mask=np.stack([inp.mask for inp in inputs]),
        cell_util=values["prb_util"].sum(axis=2),
        **values,
    )


@dataclass(frozen=True)
class Replay:
    """What :meth:`Network.replay` found, per state k and copy l: arrays (K, L, n_cells,
    n_slices).

    Attributes:
        x: the shares replayed (zero where inactive), (L, n_cells, n_slices).
        active: the period's active (cell, slice) pairs, (n_cells, n_slices).
        r: QoS satisfaction r (1 where inactive or unserved).
        kpis: ``thr_mbps``, ``delay_ms``, ``prb_util``, ``users``, ``cqi``, ``demand_mbps``,
            ``served``.
        cell_util: the loads behind each epoch's interference, (K, L, n_epochs, n_cells).
    """

    x: np.ndarray
    active: np.ndarray
    r: np.ndarray
    kpis: dict[str, np.ndarray]
    cell_util: np.ndarray

    @property
    def utility(self) -> np.ndarray:
        """U = sum of log(1 + r) over the active pairs, per state and copy, shape (K, L)."""
        return np.where(self.active, np.log1p(self.r), 0.0).sum(axis=(2, 3))
