"""Replicas of one scenario stepped as a batch: the simulator's networks and the env's state.

:class:`Replicas` keeps what the env needs per replica - its network, the observation's history,
the steps taken, the coming period's slice set, the last period's slice set - as arrays with a
leading replica axis, and steps any rows of them in one pass: the actions are checked together
(:func:`~slicesim.sim.scheduler.check_action_rows`), every network's period runs in one window
(:func:`~slicesim.sim.run_periods`: one compiled call), and the observations, rewards and infos
are computed as arrays, with no Python work per replica but the networks' own bookkeeping.
:class:`~slicesim.envs.SlicingEnv` is one row of a batch (a batch of one when made alone);
:class:`~slicesim.envs.SlicingVectorEnv` is a batch of N.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.envs.features import ObservationEncoder
from slicesim.sim import KPI_FIELDS, Network, cell_reward, run_periods
from slicesim.sim.oran import kpm
from slicesim.sim.scheduler import check_action_rows

__all__ = ["Replicas", "row_of"]

Rows = slice | np.ndarray


def row_of(info: dict[str, Any], k: int = 0) -> dict[str, Any]:
    """Row ``k`` of a batched info, with Python scalars where the single env gives them."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, dict):
            out[key] = row_of(value, k)
        elif key in _SCALARS:
            out[key] = _SCALARS[key](value[k])
        else:
            out[key] = value[k]
    return out


_SCALARS: dict[str, Any] = {
    "period": int,
    "phase": str,
    "slices_changed": bool,
    "utility": float,
    "period_next": int,
    "phase_next": str,
}


class Replicas:
    """``n`` replicas of ``config``'s network, each with the env's state, stepped by rows.

    Args:
        config: the scenario of every replica.
        n_cells: cells of its layout.
        n: replicas.
        history: H, past periods of users and CQI in the observation.
        strict: raise on cells whose shares sum above 1 instead of rescaling them.
        horizon: periods per episode.
    """

    def __init__(
        self,
        config: ScenarioConfig,
        n_cells: int,
        n: int,
        history: int,
        strict: bool,
        horizon: int,
    ) -> None:
        self.config, self.n, self.strict, self.horizon = config, n, strict, horizon
        shape = (n, n_cells, config.n_slices)
        self.networks: list[Network | None] = [None] * n
        self.encoder = ObservationEncoder(config, n_cells, history, replicas=n)
        self.steps = np.zeros(n, dtype=np.int64)
        self.active_next = np.zeros(shape, dtype=bool)
        self.active_last = np.zeros(shape, dtype=bool)
        self.has_last = np.zeros(n, dtype=bool)
        self.cell_util_last = np.zeros((n, n_cells))
        self.cell_reward_last = np.zeros((n, n_cells))
        self.period_last = np.zeros(n, dtype=np.int64)
        self.phase_last = [""] * n
        self._demand_base = np.zeros((n, n_cells))  # users per cell share (cell_weights @ attach)

    def network(self, k: int) -> Network:
        """Replica ``k``'s network (after its reset)."""
        net = self.networks[k]
        if net is None:
            raise RuntimeError("SlicingEnv.step() called before reset()")
        return net

    def reset(self, k: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        """A fresh network with ``seed`` for replica ``k``; its observation and (batched) info."""
        net = self.networks[k] = Network(self.config, seed=seed)
        self.steps[k] = 0
        self.has_last[k] = False
        active = self.active_next[k] = net.active_mask()
        self._demand_base[k] = net.cell_weights @ net.attach
        rows = slice(k, k + 1)
        info = {
            "period": np.array([net.period]),
            "phase": np.array([self.config.phase_at(net.period).name], dtype=object),
            "active": active[None].copy(),
            "slices_changed": np.zeros(1, dtype=bool),
            **self.decision(rows),
        }
        return self.encoder.reset(active[None], rows)[0], info

    def decision(self, rows: Rows) -> dict[str, Any]:
        """What an agent may know of the coming period of ``rows``: ``period_next``,
        ``phase_next``, ``active_next`` and ``demand_next``, each slice's expected traffic
        (Mbit/s, as :meth:`Network.expected_demand_mbps`), batched."""
        nets = [self.network(k) for k in _indices(rows, self.n)]
        periods = np.array([net.period for net in nets])
        masks = np.stack([net.masks(net.period) for net in nets])  # (rows, n_slices)
        world = nets[0].world
        users = self._demand_base[rows][:, :, None] * (world.users_per_cell * masks)[:, None, :]
        active = self.active_next[rows]
        return {
            "period_next": periods,
            "phase_next": np.array([self.config.phase_at(p).name for p in periods], dtype=object),
            "active_next": active.copy(),
            "demand_next": users * world.offered_bps / 1e6 * active,
        }

    def step(
        self, rows: Rows, actions: np.ndarray, labels: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One period of the replicas ``rows`` under ``actions`` (theirs, in order): their
        observations, rewards (utility), truncation flags and batched info.

        Raises:
            RuntimeError: a replica's episode was truncated (reset it first).
            ValueError: a bad action, the message prefixed with the replica's label.
        """
        index = _indices(rows, self.n)
        nets = [self.network(k) for k in index]
        ended = self.steps[rows] >= self.horizon
        if ended.any():
            raise RuntimeError(
                f"the episode was truncated after {self.horizon} periods (timeline.n_periods): "
                "call reset()"
            )
        active = self.active_next[rows]  # the slice set the agents were shown
        x, rescaled = check_action_rows(
            actions,
            active,
            self.config.slice_ids,
            labels,
            self.config.sim.mapping,
            rescale=not self.strict,
            name="action",
        )
        reports = run_periods(nets, x, checked=True)
        self.steps[rows] += 1
        r = reports.qos(self.config.thr_need_mbps, self.config.delay_need_ms)
        per_cell = cell_reward(r, reports.active)
        # per replica, the utility as kpi.utility sums it (the same reduction of each row)
        utility = np.where(reports.active, np.log1p(r), 0.0).sum(axis=(1, 2))
        changed = self.has_last[rows] & (self.active_last[rows] != reports.active).any(axis=(1, 2))
        nxt = reports.active.copy()
        for j, net in enumerate(nets):  # the coming period's slice set changes with the phase
            if self.config.phase_at(net.period) is not self.config.phase_at(net.period - 1):
                nxt[j] = net.active_mask()
        self.active_next[rows] = nxt
        self.active_last[rows] = reports.active
        self.has_last[rows] = True
        self.cell_util_last[rows] = reports.cell_util
        self.cell_reward_last[rows] = per_cell
        self.period_last[rows] = reports.period
        for k, phase in zip(index, reports.phase, strict=True):
            self.phase_last[k] = phase
        info = {
            "period": reports.period,
            "phase": np.array(reports.phase, dtype=object),
            "active": reports.active.copy(),
            "slices_changed": changed,
            "x": reports.x,
            "action_rescaled": rescaled,
            "kpi": {name: getattr(reports, name) for name in KPI_FIELDS},
            "kpm": kpm(
                reports.thr_mbps,
                reports.delay_ms,
                reports.prb_util,
                reports.users,
                reports.served,
                reports.active,
                self.config.radio.n_prb,
                missing=0.0,  # as info["kpi"]: NaN would make two equal infos differ
            ),
            "r": r,
            "cell_reward": per_cell,
            "utility": utility,
            **self.decision(rows),
        }
        obs = self.encoder.update(reports, nxt, rows)
        return obs, utility, self.steps[rows] >= self.horizon, info


def _indices(rows: Rows, n: int) -> np.ndarray:
    """The replica indices of ``rows``."""
    return np.arange(n)[rows] if isinstance(rows, slice) else np.asarray(rows)
