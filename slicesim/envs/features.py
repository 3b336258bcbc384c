"""The observation: the paper's per-(cell, slice) features, normalised to [0, 1].

Feature ``f`` of cell ``c`` and slice column ``s`` is ``obs[c, s, f]``; the columns, in order:

====================  ===============================================================
``active``            1 if the slice is active in the cell in the coming period
``thr_need``          thr* / max over slice types of thr*
``delay_need``        d* / max over slice types of d*
``prb_util``          last period's share of the cell's PRBs the slice used
``thr_ratio``         min(thr / thr*, RATIO_CLIP) / RATIO_CLIP, last period
``delay_ratio``       min(delay / d*, RATIO_CLIP) / RATIO_CLIP, last period
``users_1..H``        users / (USERS_HEADROOM * users_per_cell), clipped to 1; 1 = last period
``cqi_1..H``          mean wideband CQI / CQI_MAX; 1 = last period
====================  ===============================================================

All features of a slice that is inactive in the coming period are 0. Before any period has run,
the KPI features and the history are 0.
"""

from __future__ import annotations

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.sim.kpi import PeriodReports

__all__ = [
    "CQI_MAX",
    "RATIO_CLIP",
    "USERS_HEADROOM",
    "ObservationEncoder",
    "feature_names",
]

RATIO_CLIP = 2.0
"""thr/thr* and delay/d* are clipped at this value, then divided by it."""
USERS_HEADROOM = 2.0
"""Users are divided by this many times the slice's ``users_per_cell`` (busy cells exceed 1x)."""
CQI_MAX = 15.0
"""Highest CQI index (TS 36.213 Table 7.2.3-1)."""

_N_FIXED = 6  # active, thr_need, delay_need, prb_util, thr_ratio, delay_ratio


def feature_names(history: int) -> tuple[str, ...]:
    """Names of the observation's last axis for a history of ``history`` periods."""
    fixed = ("active", "thr_need", "delay_need", "prb_util", "thr_ratio", "delay_ratio")
    users = tuple(f"users_{k}" for k in range(1, history + 1))
    cqi = tuple(f"cqi_{k}" for k in range(1, history + 1))
    return fixed + users + cqi


class ObservationEncoder:
    """Turns period KPIs into observations, keeping the last ``history`` users and CQI, for a
    batch of replicas at once (a leading replica axis; :class:`slicesim.envs.SlicingEnv` is a
    batch of one).

    Args:
        config: the scenario (slice needs and users per cell).
        n_cells: number of cells.
        history: H, the number of past periods of users and CQI in the observation.
        replicas: how many replicas the encoder keeps.
    """

    def __init__(
        self, config: ScenarioConfig, n_cells: int, history: int, replicas: int = 1
    ) -> None:
        self.history = history
        self.n_features = _N_FIXED + 2 * history
        thr, delay = config.thr_need_mbps, config.delay_need_ms
        upc = np.array([s.users_per_cell for s in config.slices])
        self._thr_scale = 1.0 / (RATIO_CLIP * thr)  # then clipped at 1
        self._delay_scale = 1.0 / (RATIO_CLIP * delay)
        self._users_scale = 1.0 / (USERS_HEADROOM * np.maximum(upc, 1e-12))  # no users if 0
        # float64 working state; the mask and the cast to float32 happen per observation
        self._state = np.zeros((replicas, n_cells, len(thr), self.n_features))
        self._state[..., 1] = thr / thr.max()
        self._state[..., 2] = delay / delay.max()
        self._cqi_col = _N_FIXED + history  # users_1 is column _N_FIXED

    def reset(self, active: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
        """Clear the KPIs and history of replicas ``rows``; their observations before any
        period, given their active masks (rows, n_cells, n_slices)."""
        self._state[rows, ..., 3:] = 0.0
        return self._observe(active, rows)

    def update(
        self, kpis: PeriodReports, active: np.ndarray, rows: slice | np.ndarray
    ) -> np.ndarray:
        """Add the KPIs of replicas ``rows`` (``kpis``: theirs, in order); their observations for
        the coming period's ``active`` masks."""
        whole = isinstance(rows, slice)
        st = self._state[rows] if whole else self._state[rows].copy()
        np.minimum(kpis.prb_util, 1.0, out=st[..., 3])
        np.minimum(kpis.thr_mbps * self._thr_scale, 1.0, out=st[..., 4])
        np.minimum(kpis.delay_ms * self._delay_scale, 1.0, out=st[..., 5])
        # shift users and CQI history (one block) a period back; numpy buffers the overlap
        st[..., _N_FIXED + 1 :] = st[..., _N_FIXED:-1]
        np.minimum(kpis.users * self._users_scale, 1.0, out=st[..., _N_FIXED])
        np.minimum(kpis.cqi * (1.0 / CQI_MAX), 1.0, out=st[..., self._cqi_col])
        if not whole:
            self._state[rows] = st
        return self._observe(active, rows)

    def _observe(self, active: np.ndarray, rows: slice | np.ndarray) -> np.ndarray:
        """The state of ``rows`` masked by ``active`` as float32 (every feature is already in
        [0, 1])."""
        self._state[rows, ..., 0] = active
        return np.multiply(self._state[rows], active[..., None], dtype=np.float32)
