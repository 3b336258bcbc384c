"""The simulated world: layout, channel, link, traffic, scheduler, SimPy engine and KPIs.

Nothing here imports gymnasium; the Gymnasium glue lives in :mod:`slicesim.envs`.
"""

from slicesim.sim.engine import Network, run_periods
from slicesim.sim.kpi import (
    KPI_FIELDS,
    PeriodReport,
    PeriodReports,
    cell_reward,
    p_satisfied,
    qos,
    satisfied,
    utility,
)
from slicesim.sim.scheduler import check_shares, equal_split, proportional_split

__all__ = [
    "KPI_FIELDS",
    "Network",
    "PeriodReport",
    "PeriodReports",
    "cell_reward",
    "check_shares",
    "equal_split",
    "p_satisfied",
    "proportional_split",
    "qos",
    "run_periods",
    "satisfied",
    "utility",
]
