"""Slicing controllers behind one interface (:mod:`agents.base`) and the runner that drives them.

>>> from agents import IDLAAgent, OracleAgent, TD3Agent, TrafficAgent, run
"""

from agents.base import Agent, Policy, SlicingSpec, Trajectory, run
from agents.idla.agent import IDLAAgent
from agents.oracle import OracleAgent
from agents.td3 import TD3Agent
from agents.traffic import TrafficAgent

__all__ = [
    "Agent",
    "IDLAAgent",
    "OracleAgent",
    "Policy",
    "SlicingSpec",
    "TD3Agent",
    "TrafficAgent",
    "Trajectory",
    "run",
]
