"""Per-cell views of one running :class:`SlicingEnv`, for cell-wise agents with a shared policy.

Both views step every cell together on one simulator. Cell ``c`` sees only its own block of the
observation, flattened to ``(max_slices * F,)``, acts with its own shares ``(max_slices,)`` and
is rewarded with its own ``cell_reward`` (min over its active slices of the QoS r, the reward of
the paper's cell-wise DRL). Its info holds its row of the env's info arrays.

* :class:`CellVecEnv`: a stable-baselines3 ``VecEnv`` with one sub-env per cell.
* :class:`ReplicaVecEnv`: a stable-baselines3 ``VecEnv`` on the replicas of a
  :class:`~slicesim.envs.SlicingVectorEnv`: one sub-env per replica, or (``cellwise``) one per
  cell of every replica (:func:`sb3_vec_env` builds it).
* :class:`CellParallelEnv`: a PettingZoo ``ParallelEnv`` with agents ``cell_0``, ``cell_1``, ...
  (needs the optional extra ``views``: ``pip install slicesim[views]``).

Episodes end after ``max_episode_steps`` periods: the least of the argument (if given), the
timeline's ``n_periods`` (where the env truncates itself) and a ``TimeLimit`` wrapper's limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from slicesim.envs.slicing_env import SlicingEnv
from slicesim.envs.vector import SlicingVectorEnv

try:
    from pettingzoo import ParallelEnv  # type: ignore[import-untyped]
except ImportError:  # the optional extra "views": CellParallelEnv raises on construction
    ParallelEnv = object  # type: ignore[assignment,misc]

__all__ = ["CellParallelEnv", "CellVecEnv", "ReplicaVecEnv", "cell_infos", "replica_info"]

_ParallelStep = tuple[
    dict[str, np.ndarray],  # observations
    dict[str, float],  # rewards
    dict[str, bool],  # terminations
    dict[str, bool],  # truncations
    dict[str, dict[str, Any]],  # infos
]
_PER_CELL = ("active", "active_next", "demand_next", "x", "action_rescaled", "r", "cell_reward")


def cell_infos(info: dict[str, Any], n_cells: int) -> list[dict[str, Any]]:
    """Split a :class:`SlicingEnv` info into one dict per cell (rows of its per-cell arrays)."""
    names = ("period", "phase", "slices_changed", "period_next", "phase_next")
    shared: dict[str, Any] = {k: info[k] for k in names if k in info}
    per_cell = {k: info[k] for k in _PER_CELL if k in info}
    kpi = info.get("kpi")
    out = []
    for c in range(n_cells):
        d = dict(shared)
        for k, v in per_cell.items():
            d[k] = v[c]
        if kpi is not None:
            d["kpi"] = {k: v[c] for k, v in kpi.items()}
        out.append(d)
    return out


def _resolve(
    env: gym.Env | None, max_episode_steps: int | None, env_kwargs: dict[str, Any]
) -> tuple[gym.Env, SlicingEnv, int]:
    """The env to step, its unwrapped SlicingEnv and the episode length."""
    if env is None:
        env = SlicingEnv(**env_kwargs)
    elif env_kwargs:
        raise ValueError(f"give either env or SlicingEnv arguments, not both: {sorted(env_kwargs)}")
    base = env.unwrapped
    if not isinstance(base, SlicingEnv):
        raise TypeError(f"env must wrap a SlicingEnv, got {type(base).__name__}")
    if env.observation_space != base.observation_space or env.action_space != base.action_space:
        raise ValueError("wrappers of env must keep SlicingEnv's observation and action spaces")
    if max_episode_steps is not None and max_episode_steps < 1:
        raise ValueError(f"max_episode_steps = {max_episode_steps} is out of range: allowed >= 1")
    limits = [base.max_episode_steps, max_episode_steps]
    if env.spec is not None:
        limits.append(env.spec.max_episode_steps)  # a TimeLimit from gymnasium.make
    return env, base, min(n for n in limits if n is not None)


def _cell_spaces(base: SlicingEnv) -> tuple[spaces.Box, spaces.Box]:
    """Observation and action space of one cell."""
    n_slices, n_features = base.observation_space.shape[1:]  # type: ignore[index]
    obs = spaces.Box(0.0, 1.0, (n_slices * n_features,), np.float32)
    width = base.n_slices * (2 if base.config.sim.action_shape else 1)  # min_max: min, max
    return obs, spaces.Box(0.0, 1.0, (width,), np.float32)


class CellVecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` whose sub-envs are the cells of one :class:`SlicingEnv`.

    ``step(actions)`` takes actions of shape (n_cells, max_slices) and runs one period for all
    cells; it returns observations (n_cells, max_slices * F), per-cell rewards, dones (all cells
    end together) and per-cell infos. At an episode's end, infos carry
    ``terminal_observation`` and ``TimeLimit.truncated`` and the env is reset (no new seed: the
    env's generator continues). ``seed(s)`` seeds the next ``reset()`` with ``s``.

    ``get_attr``, ``set_attr`` and ``env_method`` act on the one shared env: a method runs once
    and its result is repeated for every index asked for.

    Args:
        env: a SlicingEnv, possibly wrapped by wrappers that keep its spaces; None to build one.
        max_episode_steps: episode length; default: the scenario timeline's ``n_periods``.
        **env_kwargs: arguments of :class:`SlicingEnv` when ``env`` is None.
    """

    def __init__(
        self, env: gym.Env | None = None, max_episode_steps: int | None = None, **env_kwargs: Any
    ) -> None:
        self.env, self.base, self.max_episode_steps = _resolve(env, max_episode_steps, env_kwargs)
        obs_space, act_space = _cell_spaces(self.base)
        super().__init__(self.base.n_cells, obs_space, act_space)
        self.metadata = {**self.base.metadata, **self.metadata}
        self._actions: np.ndarray | None = None
        self._t = 0

    def reset(self) -> np.ndarray:
        """Reset the shared env (with the seed and options set for sub-env 0, if any)."""
        options = self._options[0] or None
        obs, info = self.env.reset(seed=self._seeds[0], options=options)
        self.reset_infos = cell_infos(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        self._t = 0
        return obs.reshape(self.num_envs, -1)

    def step_async(self, actions: np.ndarray) -> None:
        """Keep the (n_cells, max_slices) shares for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Run one period for all cells; reset the env at the episode's end."""
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        obs, _, terminated, truncated, info = self.env.step(self._actions)
        self._actions = None
        self._t += 1
        flat = obs.reshape(self.num_envs, -1)
        rewards = np.asarray(info["cell_reward"], dtype=np.float32)
        infos = cell_infos(info, self.num_envs)
        done = terminated or truncated or self._t >= self.max_episode_steps
        if done:
            for c, d in enumerate(infos):
                d["terminal_observation"] = flat[c]
                d["TimeLimit.truncated"] = not terminated
            obs, reset_info = self.env.reset()
            self.reset_infos = cell_infos(reset_info, self.num_envs)
            self._t = 0
            flat = obs.reshape(self.num_envs, -1)
        return flat, rewards, np.full(self.num_envs, done), infos

    def close(self) -> None:
        """Close the shared env."""
        self.env.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One picture of all cells (the sub-envs share it)."""
        return [self.env.render() if self.render_mode == "rgb_array" else None]  # type: ignore[list-item]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The shared env's attribute, once per index."""
        value = self.env.get_wrapper_attr(attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set the attribute on the shared env (whatever the indices)."""
        self.env.set_wrapper_attr(attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call the method of the shared env once; its result is repeated per index."""
        result = self.env.get_wrapper_attr(method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Whether the shared env is wrapped by ``wrapper_class``, once per index."""
        wrapped = is_wrapped(self.env, wrapper_class)
        return [wrapped for _ in self._get_indices(indices)]


def replica_info(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Replica ``i``'s info out of a :class:`SlicingVectorEnv` vector info (masks ``_key``)."""
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_") or not infos.get(f"_{key}", np.ones(i + 1, bool))[i]:
            continue
        out[key] = replica_info(value, i) if isinstance(value, dict) else value[i]
    return out


class ReplicaVecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` on the replicas of one :class:`SlicingVectorEnv`.

    With ``cellwise=False`` sub-env i is replica i: observations ``(num_envs, n_cells,
    max_slices, F)``, actions ``(num_envs, n_cells, max_slices)``, reward the network utility.
    With ``cellwise=True`` sub-env ``i * n_cells + c`` is cell c of replica i, as
    :class:`CellVecEnv` is for one network: observations ``(num_envs * n_cells, max_slices * F)``,
    actions ``(num_envs * n_cells, max_slices)``, reward the cell's ``cell_reward``; one policy
    shared by every cell of every replica. Either way every replica's period runs in one window
    pass. A replica whose episode ends is reset in the same step (stable-baselines3's
    convention): its infos carry ``terminal_observation`` and ``TimeLimit.truncated``.
    ``seed(s)`` seeds replica i's next reset with ``s + i``.

    Args:
        envs: the replicas.
        cellwise: one sub-env per cell (True) or per replica (False).
    """

    def __init__(self, envs: SlicingVectorEnv, cellwise: bool = False) -> None:
        self.envs, self.cellwise = envs, cellwise
        self.replicas, self.n_cells = envs.num_envs, envs.n_cells
        first = envs.envs[0]
        if cellwise:
            obs_space, act_space = _cell_spaces(first)
            super().__init__(self.replicas * self.n_cells, obs_space, act_space)
        else:
            super().__init__(self.replicas, first.observation_space, first.action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        """Reset every replica; after ``seed(s)``, replica i with ``s + i``."""
        base = self._seeds[0]
        obs, infos = self.envs.reset(seed=None if base is None else int(base))
        self.reset_infos = self._infos(infos)
        self._reset_seeds()
        self._reset_options()
        return self._obs(obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Keep the actions for :meth:`step_wait`."""
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """One period of every replica; replicas whose episode ended are reset."""
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        actions = self._actions.reshape(self.envs.action_space.shape)  # type: ignore[arg-type]
        self._actions = None
        obs, reward, terminated, truncated, infos = self.envs.step(actions)
        ended = terminated | truncated
        flat = self._obs(obs)
        step_infos = self._infos(infos)
        if self.cellwise:
            rewards = np.asarray(infos["cell_reward"], dtype=np.float32).reshape(-1)
            dones = np.repeat(ended, self.n_cells)
        else:
            rewards, dones = reward.astype(np.float32), ended.copy()
        if ended.any():
            final = flat.copy()
            obs, reset = self.envs.reset(options={"reset_mask": ended})
            flat = self._obs(obs)
            reset_infos = self._infos(reset)
            for j in np.flatnonzero(dones):
                step_infos[j]["terminal_observation"] = final[j]
                step_infos[j]["TimeLimit.truncated"] = bool(truncated[j // self._k])
                self.reset_infos[j] = reset_infos[j]
        return flat, rewards, dones, step_infos

    @property
    def _k(self) -> int:
        return self.n_cells if self.cellwise else 1

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        return obs.reshape(self.num_envs, -1) if self.cellwise else obs

    def _infos(self, infos: dict[str, Any]) -> list[dict[str, Any]]:
        per_replica = [replica_info(infos, i) for i in range(self.replicas)]
        if not self.cellwise:
            return per_replica
        return [d for info in per_replica for d in cell_infos(info, self.n_cells)]

    def close(self) -> None:
        """Close the replicas."""
        self.envs.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No pictures (the replicas do not render)."""
        return [None for _ in range(self.num_envs)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of each index's replica (:class:`SlicingEnv`)."""
        replicas = self.envs.envs
        return [getattr(replicas[j // self._k], attr_name) for j in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set the attribute on each index's replica."""
        for j in self._get_indices(indices):
            setattr(self.envs.envs[j // self._k], attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call the method of each index's replica."""
        return [
            getattr(self.envs.envs[j // self._k], method_name)(*method_args, **method_kwargs)
            for j in self._get_indices(indices)
        ]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """The replicas are not wrapped."""
        return [False for _ in self._get_indices(indices)]


class CellParallelEnv(ParallelEnv):  # type: ignore[misc]
    """A PettingZoo ``ParallelEnv`` whose agents ``cell_<c>`` are the cells of one SlicingEnv.

    Every live agent must act in every step. When the episode ends every agent is truncated and
    ``agents`` becomes empty until the next ``reset``. ``state()`` is the full observation.

    Args:
        env: a SlicingEnv, possibly wrapped by wrappers that keep its spaces; None to build one.
        max_episode_steps: episode length; default: the scenario timeline's ``n_periods``.
        **env_kwargs: arguments of :class:`SlicingEnv` when ``env`` is None.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012
        "name": "slicesim_cells_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
    }

    def __init__(
        self, env: gym.Env | None = None, max_episode_steps: int | None = None, **env_kwargs: Any
    ) -> None:
        if ParallelEnv is object:
            raise ImportError("CellParallelEnv needs pettingzoo: pip install 'slicesim[views]'")
        self.env, self.base, self.max_episode_steps = _resolve(env, max_episode_steps, env_kwargs)
        self.render_mode = self.base.render_mode
        self.possible_agents = [f"cell_{c}" for c in range(self.base.n_cells)]
        self.agents: list[str] = []
        self._index = {a: c for c, a in enumerate(self.possible_agents)}
        obs_space, act_space = _cell_spaces(self.base)
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {  # one per agent: seeding one agent's space leaves the others
            a: spaces.Box(0.0, 1.0, act_space.shape, np.float32) for a in self.possible_agents
        }
        self.state_space = self.base.observation_space
        self._state: np.ndarray | None = None
        self._t = 0

    def observation_space(self, agent: str) -> spaces.Space:
        """Box(0, 1, (max_slices * F,)): the agent's cell's block of the observation."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """Box(0, 1, (max_slices,)): PRB shares of the agent's cell."""
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Reset the shared env; every cell becomes a live agent."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        self._t = 0
        infos = cell_infos(info, len(self.agents))
        return self._split(obs), dict(zip(self.agents, infos, strict=True))

    def step(self, actions: dict[str, np.ndarray]) -> _ParallelStep:
        """Run one period with every live agent's shares; per-agent obs, rewards and infos."""
        if not self.agents:
            raise RuntimeError("the episode is over (no live agents): call reset()")
        missing = [a for a in self.agents if a not in actions]
        unknown = [a for a in actions if a not in self._index]
        if missing or unknown:
            raise ValueError(f"actions: missing agents {missing}, unknown agents {unknown}")
        x = np.zeros((self.base.n_cells, self.base.n_slices))
        for a in self.possible_agents:
            row = np.asarray(actions[a], dtype=np.float64)
            if row.shape != (self.base.n_slices,):
                raise ValueError(
                    f"action of {a} has shape {row.shape}, "
                    f"expected (max_slices,) = ({self.base.n_slices},)"
                )
            x[self._index[a]] = row
        obs, _, terminated, truncated, info = self.env.step(x)
        self._t += 1
        agents = self.agents
        end = truncated or self._t >= self.max_episode_steps
        rewards = {a: float(info["cell_reward"][self._index[a]]) for a in agents}
        infos = dict(zip(self.possible_agents, cell_infos(info, len(agents)), strict=True))
        if terminated or end:
            self.agents = []
        return (
            self._split(obs),
            rewards,
            dict.fromkeys(agents, bool(terminated)),
            dict.fromkeys(agents, bool(end and not terminated)),
            infos,
        )

    def state(self) -> np.ndarray:
        """The full observation (n_cells, max_slices, F) of the last reset or step."""
        if self._state is None:
            raise RuntimeError("state() called before reset()")
        return self._state

    def render(self) -> np.ndarray | None:
        """The shared env's picture (see :meth:`SlicingEnv.render`)."""
        return self.env.render()  # type: ignore[return-value]

    def close(self) -> None:
        """Close the shared env."""
        self.env.close()

    def _split(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        self._state = obs
        flat = obs.reshape(len(self.possible_agents), -1)
        return {a: flat[c] for c, a in enumerate(self.possible_agents)}
