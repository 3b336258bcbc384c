"""Agents by name: the built-in ones and a user's ``package.module:Class``, loaded by import string.

``slicesim`` never imports the ``agents`` package directly: the built-in agents are plugins
exactly like a user's, found through :data:`BUILTIN_AGENTS`. What the platform needs to know of
an agent class it reads from the declared class attributes of :class:`agents.base.Agent`
(``name``, ``role``, ``transfer``), with defaults for a user's duck-typed class.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

__all__ = [
    "BUILTIN_AGENTS",
    "DEFAULT_AGENTS",
    "agent_class",
    "agent_label",
    "agent_options",
    "agent_role",
    "load_object",
    "make_agent",
    "transfer_modes",
]

BUILTIN_AGENTS = {
    "equal": "agents.equal:EqualAgent",
    "traffic": "agents.traffic:TrafficAgent",
    "idla": "agents.idla.agent:IDLAAgent",
    "idla-paper": "agents.idla.agent:IDLAPaperAgent",
    "oracle": "agents.idla.oracle:OracleAgent",
    "td3": "agents.td3.agent:TD3Agent",
    "td3-paper": "agents.td3.paper:TD3PaperAgent",
    "sim-oracle": "agents.sim_oracle:SimOracleAgent",
    "sim-oracle-hindsight": "agents.sim_oracle:SimOracleHindsightAgent",
}
DEFAULT_AGENTS = "equal,traffic,idla,idla-paper,td3,td3-paper,oracle,sim-oracle"


def load_object(path: str, what: str = "") -> Any:
    """The object at ``package.module:name`` (a class, a function), imported by string.

    The working folder is put on ``sys.path`` first, so a user's module next to where the
    command runs imports as with ``python -m``.

    Raises:
        ValueError: a malformed path, or a module or name that cannot be imported (the message
            starts with ``what``, default the path).
    """
    what = what or repr(path)
    module_name, sep, name = path.partition(":")
    if not sep or not module_name or not name:
        raise ValueError(f"{what} is not of the form package.module:Name")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"{what} cannot be imported: {err}") from None


def make_agent(spec: str, **options: Any) -> Any:
    """An agent from a built-in name (``idla``) or ``package.module:Class``.

    ``options`` go to the constructor where it takes them by name (e.g. the oracles' ``draws``
    and ``every``); a user class needs a constructor without required arguments.

    Raises:
        ValueError: an unknown name, a class that cannot be imported or has no ``act``.
    """
    agent = agent_class(spec)(**agent_options(spec, options))
    if not callable(getattr(agent, "act", None)):
        raise ValueError(f"agent {spec!r}: {type(agent).__name__} has no act(obs, info) method")
    return agent


def agent_label(spec: str) -> str:
    """Short name of an agent spec: ``idla`` or the class name of ``package.module:Class``."""
    return spec if spec in BUILTIN_AGENTS else spec.rpartition(":")[2]


def agent_class(spec: str) -> Any:
    """The class behind an agent spec: a built-in name or ``package.module:Class``.

    Raises:
        ValueError: an unknown name or a class that cannot be imported.
    """
    path = BUILTIN_AGENTS.get(spec, spec)
    if ":" not in path:
        raise ValueError(
            f"agent {spec!r} is unknown: allowed {sorted(BUILTIN_AGENTS)} or package.module:Class"
        )
    return load_object(path, what=f"agent {spec!r}")


def agent_options(spec: str, options: dict[str, Any]) -> dict[str, Any]:
    """The ``options`` the agent's constructor takes (the rest does not change its runs)."""
    accepted = inspect.signature(agent_class(spec)).parameters
    return {k: v for k, v in options.items() if k in accepted}


def transfer_modes(spec: str) -> list[str]:
    """How a pretrained agent can be deployed on another network: its declared ``transfer``
    (``agents.base.Agent.transfer``: ``frozen`` if it saves and loads what it learned, and
    ``online`` if it can keep learning after ``load(path, learn=True)``); none by default."""
    return list(getattr(agent_class(spec), "transfer", ()))


def agent_role(spec: str) -> str:
    """The agent's declared ``role`` (``agents.base.Agent.role``): ``controller`` by default."""
    return str(getattr(agent_class(spec), "role", "controller"))
