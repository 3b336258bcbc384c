"""Slicing controllers behind one interface (:mod:`agents.base`).

>>> from agents import EqualAgent, IDLAAgent, TD3Agent, TrafficAgent, run

Built-in agents: ``EqualAgent`` (the floor), ``TrafficAgent`` (the paper's baseline),
``IDLAAgent``, ``IDLAPaperAgent`` and ``OracleAgent`` (:mod:`agents.idla`), ``TD3Agent`` and
``TD3PaperAgent`` (:mod:`agents.td3`). The simulator oracles (:mod:`agents.sim_oracle`) are
yardsticks, not controllers: they replay the simulator. The runner and the protocol live in
:mod:`slicesim.rollout` (``run`` and ``Trajectory`` are re-exported here).

Names load on first use, so ``from agents.base import Agent`` or ``import agents.equal`` does
not import torch or stable-baselines3; IDLA and TD3 do when they are used.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Agent": "agents.base",
    "Policy": "slicesim.rollout",
    "SlicingSpec": "slicesim.rollout",
    "Trajectory": "slicesim.rollout",
    "run": "slicesim.rollout",
    "EqualAgent": "agents.equal",
    "TrafficAgent": "agents.traffic",
    "IDLAAgent": "agents.idla",
    "IDLAPaperAgent": "agents.idla",
    "OracleAgent": "agents.idla",
    "TD3Agent": "agents.td3",
    "TD3PaperAgent": "agents.td3",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
