"""Many networks in one pass: :class:`SlicingVectorEnv`, a Gymnasium ``VectorEnv``.

Each of the ``num_envs`` replicas is a :class:`~slicesim.envs.SlicingEnv` of one scenario with
its own seed (its own static world, traffic and masks); a step runs every replica's period in one
window (:func:`slicesim.sim.run_periods`: one compiled call on the default engine, on several
threads where there are many replicas) and builds the observations, rewards and infos of all of
them as arrays (:class:`~slicesim.envs.replicas.Replicas`). Replica i, stepped with the same
actions, gives the observations, rewards and infos of a ``SlicingEnv`` reset with replica i's
seed, bit for bit, whatever the other replicas do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from slicesim.config import ScenarioConfig, load_scenario
from slicesim.envs.replicas import Replicas
from slicesim.envs.slicing_env import SlicingEnv
from slicesim.sim import Network

__all__ = ["SlicingVectorEnv"]


class SlicingVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """``num_envs`` replicas of one scenario, advanced together.

    Spaces are those of :class:`~slicesim.envs.SlicingEnv` with a leading replica axis:
    actions ``(num_envs, n_cells, max_slices)``, observations ``(num_envs, n_cells, max_slices,
    6 + 2 * history)``; rewards, ``terminated`` and ``truncated`` are ``(num_envs,)``. ``info`` is
    Gymnasium's vector info: every key of the single env's info as an array with a leading
    replica axis (nested ``kpi`` likewise), with a boolean mask ``_key`` saying which replicas
    report it.

    Autoreset (Gymnasium 1.x, ``metadata["autoreset_mode"]`` = ``NEXT_STEP``): a replica whose
    episode was truncated is reset by the next ``step`` (its action is ignored; it returns the
    reset observation, reward 0 and the reset info), the others step as usual.

    Seeds: ``reset(seed=s)`` seeds replica i with ``s + i``; ``reset(seed=[s0, s1, ...])`` gives
    each its own (None: fresh entropy); ``reset(options={"reset_mask": mask})`` resets only the
    replicas in ``mask``.

    Args:
        num_envs: replicas (>= 1).
        scenario: a shipped scenario's name, a YAML path or a config (one for every replica).
        config: overrides, as for :class:`~slicesim.envs.SlicingEnv`.
        history: H, past periods of users and CQI in the observation.
        strict: raise on cells whose shares sum above 1 instead of rescaling them.

    Example:
        >>> envs = gymnasium.make_vec("slicesim/MultiCellSlicing-v0", num_envs=64,
        ...                           vectorization_mode="vector_entry_point")
        >>> obs, info = envs.reset(seed=0)
    """

    metadata: dict[str, Any] = {  # noqa: RUF012
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        num_envs: int = 1,
        scenario: str | Path | ScenarioConfig = "paper",
        config: Mapping[str, Any] | None = None,
        history: int = 5,
        strict: bool = False,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs = {num_envs!r} is out of range: allowed integers >= 1")
        if isinstance(scenario, ScenarioConfig):
            shared = scenario.replace(config) if config else scenario
        else:
            shared = load_scenario(scenario, config)
        first = SlicingEnv(shared, history=history, strict=strict)  # checks the arguments
        self._replicas = Replicas(
            shared, first.n_cells, num_envs, history, strict, first.max_episode_steps
        )
        self.envs = [SlicingEnv.replica(self._replicas, i, history) for i in range(num_envs)]
        """The replicas (each a :class:`SlicingEnv`, a row of this env's batch)."""
        self._labels = [f"replica {i}" for i in range(num_envs)]
        self.config = shared
        self.num_envs = num_envs
        self.n_cells, self.n_slices, self.slice_ids = first.n_cells, first.n_slices, first.slice_ids
        self.feature_names = first.feature_names
        self.max_episode_steps = first.max_episode_steps
        self.single_action_space = first.action_space
        self.single_observation_space = first.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.render_mode = None
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._reset_once = False
        self._obs = np.zeros((num_envs, *(first.observation_space.shape or ())), np.float32)

    @property
    def networks(self) -> list[Network]:
        """Every replica's running :class:`~slicesim.Network` (after :meth:`reset`)."""
        networks = [env.net for env in self.envs]
        if any(net is None for net in networks):
            raise RuntimeError("SlicingVectorEnv: call reset() first")
        return networks  # type: ignore[return-value]

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every replica (or those in ``options["reset_mask"]``).

        Args:
            seed: None, an int (replica i gets ``seed + i``) or one seed per replica.
            options: ``{"reset_mask": bool array (num_envs,)}`` resets only those replicas.
        """
        seeds = self._seeds(seed)
        mask = np.ones(self.num_envs, dtype=bool)
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.dtype != bool or mask.shape != (self.num_envs,):
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({self.num_envs},),"
                    f" got {mask.dtype} {mask.shape}"
                )
            if not self._reset_once and not mask.all():
                raise RuntimeError("the first reset() must reset every replica")
        obs = self._obs.copy()
        infos: dict[str, Any] = {}
        for i in np.flatnonzero(mask):
            obs[i], info = self.envs[i].reset(seed=seeds[i])
            infos = self._add_info(infos, info, int(i))
        self._autoreset[mask] = False
        self._obs, self._reset_once = obs, True
        return obs.copy(), infos

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One control period of every replica (replicas whose episode ended are reset).

        Raises:
            RuntimeError: before :meth:`reset`.
            ValueError: ``actions`` of another shape than ``(num_envs, n_cells, max_slices)``,
                or a replica's bad action (naming the replica, cell and slice id).
        """
        if not self._reset_once:
            raise RuntimeError("SlicingVectorEnv.step() called before reset()")
        actions = np.asarray(actions)
        if actions.shape != self.action_space.shape:
            raise ValueError(
                f"actions have shape {actions.shape}, expected {self.action_space.shape}"
                " (num_envs, n_cells, max_slices)"
            )
        obs = self._obs
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        stepping = ~self._autoreset
        infos: dict[str, Any] = {}
        if stepping.any():
            rows = slice(None) if stepping.all() else np.flatnonzero(stepping)
            labels = [label for label, on in zip(self._labels, stepping, strict=True) if on]
            obs[rows], rewards[rows], truncated[rows], info = self._replicas.step(
                rows, actions[rows], labels
            )
            infos = self._batched_info(info, stepping)
        for i in np.flatnonzero(self._autoreset):
            obs[i], info = self.envs[i].reset()
            infos = self._add_info(infos, info, int(i))
        self._autoreset = terminated | truncated
        return obs.copy(), rewards, terminated, truncated, infos

    def _batched_info(self, info: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
        """Gymnasium's vector info of the stepped ``rows`` (a bool mask) from their batched
        info: every key an array over all replicas (zeros elsewhere) and its ``_key`` mask."""
        out: dict[str, Any] = {}
        for key, value in info.items():
            if isinstance(value, dict):
                out[key] = self._batched_info(value, rows)
            else:
                full = np.zeros((self.num_envs, *value.shape[1:]), dtype=value.dtype)
                if value.dtype == object:
                    full[:] = None
                full[rows] = value
                out[key] = full
            out[f"_{key}"] = rows.copy()
        return out

    def close_extras(self, **kwargs: Any) -> None:
        """Release the replicas' networks."""
        for env in self.envs:
            env.close()

    def _seeds(self, seed: int | Sequence[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(self.num_envs)]
        seeds = list(seed)  # type: ignore[arg-type]
        if len(seeds) != self.num_envs:
            raise ValueError(
                f"seed has {len(seeds)} entries, expected num_envs = {self.num_envs} (or an int)"
            )
        return seeds
