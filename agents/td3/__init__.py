"""Cell-wise TD3 on stable-baselines3: ours (:class:`TD3Agent`, fixed-width observation with
per-slice active flags) and the paper's (:class:`TD3PaperAgent`, networks sized to the slice set).

Modules: ``config`` (hyperparameters), ``vec_env`` (the cell view and action map), ``agent``
(online agent), ``paper`` (the paper's variant), ``training`` (offline ``slicesim train td3``).
"""

from agents.td3.agent import TD3Agent
from agents.td3.config import TD3Config
from agents.td3.paper import TD3PaperAgent

__all__ = ["TD3Agent", "TD3Config", "TD3PaperAgent"]
