"""Slicing controllers behind one interface (:mod:`agents.base`), and the runner that drives them.

>>> from agents import EqualAgent, IDLAAgent, TD3Agent, TrafficAgent, run

Built-in agents: ``EqualAgent`` (the floor), ``TrafficAgent`` (the paper's baseline),
``IDLAAgent``, ``IDLAPaperAgent`` and ``OracleAgent`` (:mod:`agents.idla`), ``TD3Agent`` and
``TD3PaperAgent`` (:mod:`agents.td3`). The simulator oracles (:mod:`agents.sim_oracle`) are
yardsticks, not controllers: they replay the simulator.
"""

from agents.base import Agent, Policy, SlicingSpec
from agents.equal import EqualAgent
from agents.idla import IDLAAgent, IDLAPaperAgent, OracleAgent
from agents.runner import Trajectory, run
from agents.td3 import TD3Agent, TD3PaperAgent
from agents.traffic import TrafficAgent

__all__ = [
    "Agent",
    "EqualAgent",
    "IDLAAgent",
    "IDLAPaperAgent",
    "OracleAgent",
    "Policy",
    "SlicingSpec",
    "TD3Agent",
    "TD3PaperAgent",
    "TrafficAgent",
    "Trajectory",
    "run",
]
