"""slicesim: a SimPy multi-cell radio network with slices, a Gymnasium environment and agents."""

from slicesim.config import ConfigError, ScenarioConfig, list_scenarios, load_scenario
from slicesim.sim import Network, PeriodReport, qos, utility

__version__ = "0.2.0"

__all__ = [
    "ConfigError",
    "Network",
    "PeriodReport",
    "ScenarioConfig",
    "__version__",
    "list_scenarios",
    "load_scenario",
    "qos",
    "utility",
]
import slicesim.envs  # noqa: F401  (registers the Gymnasium ids)
