"""Which engine simulates a network's windows: the declared switch and the models' capabilities.

``sim.engine`` asks for an engine (:data:`slicesim.config.ENGINE_NAMES`); :func:`resolve` says
which one runs. The compiled engine (:mod:`slicesim.sim.compiled`) implements the physics of
some models: a model class declares it with ``compiled = True`` *in the class that defines the
physics* (:meth:`KpiModel.epoch <slicesim.sim.kpi_model.KpiModel.epoch>`,
:meth:`LinkModel.rates <slicesim.sim.link.LinkModel.rates>`). A subclass that overrides the
physics without declaring a compiled form of its own has none: it runs on the reference engine,
with an :class:`EngineWarning` that names the engine that runs and why. Without numba the
reference engine runs likewise.
"""

from __future__ import annotations

import functools
import warnings

from slicesim.sim.kpi_model import KpiModel
from slicesim.sim.link import LinkModel

__all__ = ["EngineWarning", "compiled_form", "numba_imports", "resolve"]


class EngineWarning(UserWarning):
    """``sim.engine = compiled`` was asked for, but the reference engine runs (the message says
    why)."""


def compiled_form(model: object, physics: str) -> bool:
    """Whether the compiled engine implements ``model``'s method ``physics``: the class that
    defines the method (the first in the MRO) declares ``compiled = True`` in its own body."""
    for cls in type(model).__mro__:
        if physics in vars(cls):
            return bool(vars(cls).get("compiled", False))
    return False


@functools.cache
def numba_imports() -> bool:
    """Whether numba imports (tried once per process)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def resolve(requested: str, kpi_model: KpiModel, link: LinkModel) -> str:
    """The engine that runs when ``requested`` is asked for with these models (a warning where
    it is not the one asked for)."""
    if requested == "reference":
        return "reference"
    reasons = []
    if not (kpi_model.exact and compiled_form(kpi_model, "epoch")):
        reasons.append(
            f"the KPI model {type(kpi_model).__name__} ({kpi_model.name or 'a subclass'}) has no"
            " compiled form (its epoch() is not the one the compiled engine implements)"
        )
    if not compiled_form(link, "rates"):
        reasons.append(f"the link model {type(link).__name__} has no compiled form")
    if not reasons and not numba_imports():
        reasons.append("numba does not import")
    if reasons:
        warnings.warn(
            f"sim.engine = compiled: {'; '.join(reasons)}: the reference engine runs",
            EngineWarning,
            stacklevel=3,
        )
        return "reference"
    return "compiled"
