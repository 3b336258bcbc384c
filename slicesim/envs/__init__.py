"""Gymnasium glue for the simulator: :class:`SlicingEnv`, its registration and per-cell views.

Ids (registered on ``import slicesim``, idempotently):

* ``slicesim/MultiCellSlicing-v0``: scenario ``paper`` by default; any ``scenario=`` name or path.
* ``slicesim/MultiCellSlicing-<name>-v0`` for every shipped scenario ``<name>``
  (``slicesim.list_scenarios()``: ``paper``, ``small``).

Every id also has a vector entry point, :class:`~slicesim.envs.vector.SlicingVectorEnv`:
``gymnasium.make_vec(id, num_envs=64)`` steps 64 replicas in one pass (pass
``vectorization_mode="sync"`` or ``"async"`` for Gymnasium's own vector envs of ``SlicingEnv``).

The env truncates its episodes itself after the timeline's ``n_periods`` (overrides included), so
the ids are registered without ``max_episode_steps``: a registration-time horizon could not follow
``config={"timeline.n_periods": N}``.

The per-cell views (:class:`~slicesim.envs.views.CellVecEnv` for stable-baselines3,
:class:`~slicesim.envs.views.CellParallelEnv` for PettingZoo) are imported on first access, so
``import slicesim`` pulls in neither torch nor pettingzoo.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

from slicesim.config import ConfigError, ScenarioConfig, list_scenarios, load_scenario
from slicesim.envs.slicing_env import SlicingEnv
from slicesim.envs.vector import SlicingVectorEnv

__all__ = [
    "DEFAULT_SCENARIO",
    "ENTRY_POINT",
    "ENV_ID",
    "VECTOR_ENTRY_POINT",
    "CellParallelEnv",
    "CellVecEnv",
    "ReplicaVecEnv",
    "SlicingEnv",
    "SlicingVectorEnv",
    "env_id",
    "make_env",
    "register_envs",
    "sb3_vec_env",
]

ENV_ID = "slicesim/MultiCellSlicing-v0"
"""The generic id; its scenario defaults to :data:`DEFAULT_SCENARIO`."""
DEFAULT_SCENARIO = "paper"
ENTRY_POINT = "slicesim.envs.slicing_env:SlicingEnv"
VECTOR_ENTRY_POINT = "slicesim.envs.vector:SlicingVectorEnv"
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")  # names that make unambiguous ids


def env_id(scenario: str | None = None) -> str:
    """The registered id of a shipped scenario (``None``: the generic :data:`ENV_ID`)."""
    return ENV_ID if scenario is None else f"slicesim/MultiCellSlicing-{scenario}-v0"


def register_envs() -> list[str]:
    """Register :data:`ENV_ID` and one id per shipped scenario; skip ids already registered.

    Returns:
        The ids registered by this call (empty when all were registered before).
    """
    wanted: dict[str, str] = {ENV_ID: DEFAULT_SCENARIO}
    wanted.update({env_id(n): n for n in list_scenarios() if _NAME_RE.match(n)})
    added = []
    for id_, scenario in wanted.items():
        if id_ in gym.registry:
            continue
        try:
            load_scenario(scenario)
        except (ConfigError, OSError) as err:  # a broken file must not break `import slicesim`
            warnings.warn(f"{id_} not registered: {err}", stacklevel=2)
            continue
        gym.register(
            id=id_,
            entry_point=ENTRY_POINT,
            vector_entry_point=VECTOR_ENTRY_POINT,
            kwargs={"scenario": scenario},
        )
        added.append(id_)
    return added


def make_env(
    scenario: str | Path | ScenarioConfig = DEFAULT_SCENARIO,
    config: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> gym.Env:
    """``gymnasium.make`` of a scenario: its own id if shipped, else the generic one.

    Args:
        scenario: a shipped scenario's name (its own id is used), a YAML path or a config.
        config: overrides (nested dict or dotted keys, e.g. ``{"timeline.n_periods": 30}``).
        **kwargs: more arguments of :class:`SlicingEnv` or ``gymnasium.make``.
    """
    named = env_id(str(scenario)) if isinstance(scenario, str) else ENV_ID
    id_ = named if named in gym.registry else ENV_ID
    return gym.make(id_, scenario=scenario, config=config, **kwargs)


def sb3_vec_env(
    scenario: str | Path | ScenarioConfig = DEFAULT_SCENARIO,
    num_envs: int = 8,
    config: Mapping[str, Any] | None = None,
    cellwise: bool = False,
    **kwargs: Any,
) -> Any:
    """A stable-baselines3 ``VecEnv`` on ``num_envs`` replicas of a scenario, stepped in one pass.

    Args:
        scenario: a shipped scenario's name, a YAML path or a config.
        num_envs: replicas (each with its own network; seed them with ``VecEnv.seed(s)``).
        config: overrides, as for ``gymnasium.make``.
        cellwise: one sub-env per cell of every replica (one policy shared by all cells, the
            paper's cell-wise DRL) instead of one per replica.
        **kwargs: more arguments of :class:`SlicingVectorEnv` (``history``, ``strict``).

    Returns:
        A :class:`~slicesim.envs.views.ReplicaVecEnv`.
    """
    from slicesim.envs.views import ReplicaVecEnv

    envs = SlicingVectorEnv(num_envs, scenario, config=config, **kwargs)
    return ReplicaVecEnv(envs, cellwise=cellwise)


def __getattr__(name: str) -> Any:
    """Import the per-cell views on first access (they need stable-baselines3 / pettingzoo)."""
    if name in ("CellVecEnv", "CellParallelEnv", "ReplicaVecEnv"):
        from slicesim.envs import views

        return getattr(views, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


register_envs()
