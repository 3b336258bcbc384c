"""The simulated world: layout, channel, link, traffic, scheduler, SimPy engine and KPIs.

Nothing here imports gymnasium; the Gymnasium glue lives in :mod:`slicesim.envs`.
"""

from slicesim.sim.engine import Network
from slicesim.sim.kpi import PeriodReport, qos, utility

__all__ = ["Network", "PeriodReport", "qos", "utility"]
