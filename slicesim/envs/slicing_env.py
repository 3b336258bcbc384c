"""The Gymnasium environment: one step = one control period of a :class:`slicesim.Network`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from slicesim.config import ScenarioConfig, load_scenario
from slicesim.envs.features import feature_names
from slicesim.envs.replicas import Replicas, row_of
from slicesim.sim import Network
from slicesim.sim.layout import make_layout

__all__ = ["SlicingEnv"]


class SlicingEnv(gym.Env[np.ndarray, np.ndarray]):
    """Multi-cell radio-resource slicing: share every cell's PRBs among its slices each period.

    ## Description

    A multi-cell LTE network (``slicesim.Network``) serves slice types with throughput and delay
    needs (Hu et al., "Fast and Scalable Network Slicing by Integrating Deep Learning with
    Lagrangian Methods", Section V). Every step the agent gives each cell's slices their shares
    of the cell's PRBs; the simulator runs one control period (``Network.run_period``) and
    reports the KPIs. The scenario's timeline decides which slices are active: in ``paper``,
    slice 3 joins at period 3000; in ``small``, at period 24.

    ## Action Space

    ``Box(0, 1, (n_cells, max_slices), float32)``: PRB shares; ``max_slices`` is the number of
    slice types, the columns in the order of ``config.slices``. Entries of slices inactive in the
    coming period are ignored (zeroed). A cell whose active shares sum above 1 (+1e-6) is scaled to
    sum 1 and flagged in ``info["action_rescaled"]``; with ``strict=True`` it raises instead.
    NaN, infinite, negative or > 1 (+1e-6) entries, a boolean array and a wrong shape always
    raise ``ValueError`` naming the cell and slice id (``slicesim.sim.check_shares``).
    Under RRMPolicyRatio sharing (``sim.slicing: rrm_policy``) a share is the slice's minimum,
    maximum or both (``sim.rrm_action``); with ``sim.rrm_action: min_max`` the action is
    ``Box(0, 1, (n_cells, max_slices, 2))``: a minimum (the shares above) and a maximum per slice
    (a maximum below its minimum counts as the minimum).

    ## Observation Space

    ``Box(0, 1, (n_cells, max_slices, 6 + 2 * history), float32)``; the last axis
    (``self.feature_names``, details in :mod:`slicesim.envs.features`):

    | index          | feature       | normalisation                                   |
    |----------------|---------------|-------------------------------------------------|
    | 0              | active        | 1 if active in the coming period                |
    | 1              | thr_need      | thr* / max_s thr*                               |
    | 2              | delay_need    | d* / max_s d*                                   |
    | 3              | prb_util      | last period's share of the cell's PRBs used     |
    | 4              | thr_ratio     | min(thr / thr*, 2) / 2, last period             |
    | 5              | delay_ratio   | min(delay / d*, 2) / 2, last period             |
    | 6 .. 5+H       | users_1..H    | users / (2 users_per_cell), clipped to 1        |
    | 6+H .. 5+2H    | cqi_1..H      | mean CQI / 15                                   |

    History index 1 is the last period. Inactive slices' features are all 0; before any period
    has run, KPIs and history are 0.

    ## Rewards

    The network utility U = sum over active (cell, slice) of log(1 + r) (paper eq. 5), with QoS
    satisfaction r = min(thr / thr*, d* / delay, 1) (eq. 3; 1 where a slice had no data).

    ## Info

    Step info describes the period just simulated: ``period``, ``phase`` (timeline label),
    ``active`` (bool mask), ``slices_changed`` (active set differs from the previous period's),
    ``x`` (shares applied), ``action_rescaled`` (per cell), ``kpi`` (raw (n_cells, max_slices)
    arrays ``thr_mbps``, ``delay_ms``, ``prb_util``, ``users``, ``cqi``, ``demand_mbps``,
    ``served``), ``kpm`` (the same KPIs under their 3GPP TS 28.552 names as O-RAN's E2SM-KPM
    reports them, e.g. ``DRB.UEThpDl`` in kbit/s, 0 where ``kpi`` has 0:
    :mod:`slicesim.sim.oran`), ``r`` (the QoS
    satisfaction r), ``cell_reward`` (per cell min of r over active
    slices, 1 if none: the reward of the paper's cell-wise DRL), ``utility`` (= reward). It also
    describes the coming period (what an agent's ``act`` may use): ``period_next``,
    ``phase_next``, ``active_next`` and ``demand_next``, each slice's expected traffic (Mbit/s),
    i.e. the perfect traffic knowledge the paper's traffic-proportional baseline assumes; it is
    not part of the observation. Reset
    info has ``period`` and ``phase`` of the first period, ``active`` = ``active_next``, the
    ``*_next`` keys and ``slices_changed`` = False. Every array in ``info`` is the env's copy for
    the caller: editing it changes nothing in the env.

    ## Episode End

    ``terminated`` is always False. The episode is truncated after the scenario timeline's
    ``n_periods`` periods, also when ``config`` overrides it (the env owns its horizon: a
    registration-time ``max_episode_steps`` could not follow such overrides). Stepping on after
    truncation raises; call ``reset``.

    ## Arguments

    ```python
    env = gymnasium.make("slicesim/MultiCellSlicing-v0", scenario="paper",
                         config={"sim.window_s": 5.0}, history=5, strict=False,
                         render_mode="rgb_array")
    ```

    * ``scenario``: a shipped scenario's name, a YAML path or a ``ScenarioConfig``.
    * ``config``: overrides for ``slicesim.load_scenario`` (nested dict or dotted keys).
    * ``history``: H, past periods of users and CQI in the observation (default 5).
    * ``strict``: raise on cells whose shares sum above 1 instead of rescaling them.
    * ``render_mode``: None or ``"rgb_array"`` (cells coloured by PRB utilisation and QoS).

    Every random draw comes from ``reset(seed=...)``: the network is built with a seed drawn
    from ``self.np_random``. Same seed and actions -> identical observations, rewards and infos.

    ## Version History

    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        scenario: str | Path | ScenarioConfig = "paper",
        config: Mapping[str, Any] | None = None,
        history: int = 5,
        strict: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if isinstance(scenario, ScenarioConfig):
            cfg = scenario.replace(config) if config else scenario
        else:
            cfg = load_scenario(scenario, config)
        if isinstance(history, bool) or not isinstance(history, int) or history < 1:
            raise ValueError(f"history = {history!r} is out of range: allowed integers >= 1")
        if not isinstance(strict, bool):
            raise TypeError(f"strict = {strict!r} must be a bool (True or False)")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode = {render_mode!r} is unknown: allowed {self.metadata['render_modes']}"
            )
        self._setup(cfg, history, strict, render_mode, None, 0)

    @classmethod
    def replica(cls, replicas: Replicas, k: int, history: int) -> SlicingEnv:
        """Row ``k`` of a batch of replicas as an env (:class:`~slicesim.envs.SlicingVectorEnv`
        steps the rows together; stepping one alone is this env's step)."""
        env = cls.__new__(cls)
        env._setup(replicas.config, history, replicas.strict, None, replicas, k)
        return env

    def _setup(
        self,
        config: ScenarioConfig,
        history: int,
        strict: bool,
        render_mode: str | None,
        replicas: Replicas | None,
        k: int,
    ) -> None:
        self.config = config
        self.history = history
        self.strict = strict
        self.max_episode_steps = config.timeline.n_periods
        """The horizon: the timeline's ``n_periods`` (overrides included)."""
        self.render_mode = render_mode
        self.layout = make_layout(config.layout)
        self.n_cells, self.n_slices = self.layout.n_cells, config.n_slices
        self.slice_ids = config.slice_ids
        self.feature_names = feature_names(history)
        shape = (self.n_cells, self.n_slices)
        # one share per (cell, slice); under sim.rrm_action = min_max a minimum and a maximum
        self.action_space = spaces.Box(
            0.0, 1.0, (*shape, *config.sim.action_shape), dtype=np.float32
        )
        self.observation_space = spaces.Box(
            0.0, 1.0, (*shape, len(self.feature_names)), dtype=np.float32
        )
        if replicas is None:
            replicas = Replicas(config, self.n_cells, 1, history, strict, self.max_episode_steps)
        self._replicas, self._k = replicas, k
        self._rows = slice(k, k + 1)

    @property
    def net(self) -> Network | None:
        """The running simulator (built by :meth:`reset`)."""
        return self._replicas.networks[self._k]

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Build a fresh network seeded from ``self.np_random``; return obs and info.

        ``options`` is accepted for API compatibility and ignored.
        """
        super().reset(seed=seed)
        obs, info = self._replicas.reset(self._k, int(self.np_random.integers(2**31)))
        return obs, row_of(info)

    def decision_info(self) -> dict[str, Any]:
        """What an agent may know of the coming period: ``period_next``, ``phase_next``,
        ``active_next`` and ``demand_next`` (fresh copies; the ``*_next`` keys of every info)."""
        return row_of(self._replicas.decision(self._rows))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply the shares, simulate one control period, observe and score it."""
        obs, reward, truncated, info = self._replicas.step(
            self._rows, np.asarray(action)[None], [""]
        )
        return obs[0], float(reward[0]), False, bool(truncated[0]), row_of(info)

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """An (H, W, 3) uint8 picture of the cells coloured by last PRB utilisation and QoS."""
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' to make()"
            )
            return None
        from slicesim.envs.render import render_cells

        batch, k = self._replicas, self._k
        if not batch.has_last[k]:
            title = f"{self.config.name}: before period 0"
            return render_cells(self.layout, None, None, title)
        title = f"{self.config.name}: period {batch.period_last[k]} ({batch.phase_last[k]})"
        cell_util = np.clip(batch.cell_util_last[k], 0, 1)
        return render_cells(self.layout, cell_util, batch.cell_reward_last[k].copy(), title)
