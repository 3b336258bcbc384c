"""The simulated world: layout, channel, link, traffic, scheduler, SimPy engine and KPIs.

Nothing here imports gymnasium; the Gymnasium glue lives in :mod:`slicesim.envs`.
"""

from slicesim.sim.engine import Network, run_periods
from slicesim.sim.kpi import PeriodReport, cell_reward, p_satisfied, qos, satisfied, utility
from slicesim.sim.scheduler import check_shares, equal_split, proportional_split

__all__ = [
    "Network",
    "PeriodReport",
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
