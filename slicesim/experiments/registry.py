"""Agents by name: the built-in ones and a user's ``package.module:Class``, loaded by import string.

``slicesim`` never imports the ``agents`` package directly: the built-in agents are plugins
exactly like a user's, found through :data:`BUILTIN_AGENTS`. What the platform needs to know of
an agent class it reads from the declared class attributes of :class:`agents.base.Agent`
(``name``, ``role``, ``transfer``), with defaults for a user's duck-typed class.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from slicesim.typed_config import ConfigError, replaced

__all__ = [
    "AGENT_KEY",
    "BUILTIN_AGENTS",
    "DEFAULT_AGENTS",
    "agent_class",
    "agent_config",
    "agent_label",
    "agent_paper_p_r1",
    "agent_role",
    "load_object",
    "make_agent",
    "oracle_settings",
    "split_settings",
    "transfer_modes",
]

AGENT_KEY = "agent."
"""``--set agent.<name>.<field>=...`` addresses an agent's settings; other keys the scenario's."""

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


def make_agent(spec: str, settings: Mapping[str, Any] | None = None) -> Any:
    """An agent from a built-in name (``idla``) or ``package.module:Class``, with its settings.

    Args:
        spec: the agent.
        settings: dotted fields of the agent's settings (:func:`agent_config`), e.g.
            ``{"online.trust": 0.1}``; a class without settings is made with no arguments.

    Raises:
        ValueError: an unknown name, a class that cannot be imported or has no ``act``.
        ConfigError: an unknown or bad setting (named ``agent.<name>.<field>``).
    """
    cls = agent_class(spec)
    config = agent_config(spec, settings or {})
    agent = cls() if config is None else cls(config=config)
    if not callable(getattr(agent, "act", None)):
        raise ValueError(f"agent {spec!r}: {type(agent).__name__} has no act(obs, info) method")
    return agent


def agent_config(spec: str, settings: Mapping[str, Any]) -> Any:
    """The agent's settings (``agents.base.Agent.default_config``) with ``settings`` applied,
    validated; None for an agent without settings.

    Raises:
        ConfigError: a setting for an agent without settings, an unknown field or a bad value;
            the message names it as ``agent.<name>.<field>``.
    """
    label = agent_label(spec)
    default_config = getattr(agent_class(spec), "default_config", None)
    default = default_config() if callable(default_config) else None
    if default is None:
        if settings:
            keys = ", ".join(f"agent.{label}.{k}" for k in settings)
            raise ConfigError(f"--set {keys}: agent {label!r} has no settings")
        return None
    return replaced(default, settings, where=f"agent.{label}")


def split_settings(
    overrides: Mapping[str, Any], agents: Sequence[str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``--set`` items as scenario overrides and per-agent settings.

    A key ``agent.<name>.<field>`` addresses the agent ``<name>`` of ``agents`` (its label:
    ``idla``, a user class's name); every other key is a scenario field.

    Returns:
        The scenario overrides, and for each agent spec its settings ``{field: value}``.

    Raises:
        ConfigError: an agent key naming no agent of ``agents``, or no field.
    """
    by_label = {agent_label(spec): spec for spec in agents}
    scenario: dict[str, Any] = {}
    settings: dict[str, dict[str, Any]] = {spec: {} for spec in agents}
    for key, value in overrides.items():
        if not key.startswith(AGENT_KEY):
            scenario[key] = value
            continue
        label, _, name = key[len(AGENT_KEY) :].partition(".")
        if label not in by_label or not name:
            raise ConfigError(
                f"--set {key}: expected agent.<name>.<field> with <name> one of --agents "
                f"{sorted(by_label)}"
            )
        settings[by_label[label]][name] = value
    return scenario, settings


def oracle_settings(spec: str, draws: int, every: int) -> dict[str, Any]:
    """``--oracle-draws`` and ``--oracle-every`` as settings of the simulator oracles (agents
    whose role is ``yardstick`` or ``bound``); nothing for the other agents."""
    if agent_role(spec) not in ("yardstick", "bound"):
        return {}
    default = agent_class(spec).default_config()
    names = {f.name for f in dataclasses.fields(default)} if default is not None else set()
    return {k: v for k, v in (("draws", draws), ("every", every)) if k in names}


def agent_label(spec: str) -> str:
    """The agent's label in runs and reports: a built-in name (``idla``), or a user class's own
    ``name`` (the class name if it has none of its own)."""
    if spec in BUILTIN_AGENTS:
        return spec
    cls = agent_class(spec)
    name = getattr(cls, "name", None)
    return name if isinstance(name, str) and name and name != "agent" else cls.__name__


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


def transfer_modes(spec: str) -> list[str]:
    """How a pretrained agent can be deployed on another network: its declared ``transfer``
    (``agents.base.Agent.transfer``: ``frozen`` if it saves and loads what it learned, and
    ``online`` if it can keep learning after ``load(path, learn=True)``); none by default."""
    return list(getattr(agent_class(spec), "transfer", ()))


def agent_role(spec: str) -> str:
    """The agent's declared ``role`` (``agents.base.Agent.role``): ``controller`` by default."""
    return str(getattr(agent_class(spec), "role", "controller"))


def agent_paper_p_r1(spec: str) -> dict[str, float]:
    """The paper's P(r = 1) per slice set for the agent's method (``agents.base.Agent.paper_p_r1``),
    empty if the paper reports none."""
    return {str(k): float(v) for k, v in dict(getattr(agent_class(spec), "paper_p_r1", {})).items()}
