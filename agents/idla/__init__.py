"""IDLA: a DNN QoS estimator plus a Lagrangian solver (paper Section IV), and the paper's
estimator oracle.

Modules: ``config`` (the settings), ``dataset`` (samples, augmentation), ``estimator`` (the MLP
and its training), ``ensemble`` (idla's estimator: an ensemble of monotone curves),
``explore`` (perturbations of a decision),
``values`` (the one path by which every search evaluates the estimator, and its input checks),
``search`` (:func:`solve`: the fast exact solver, the default), ``solver`` (the paper's batched
primal-dual search), ``agent`` (:class:`IDLAAgent`, ours; :class:`IDLAPaperAgent`, the paper's),
``oracle`` (:class:`OracleAgent`, exhaustive grid search of the estimator).
"""

from agents.idla.agent import IDLAAgent, IDLAPaperAgent
from agents.idla.config import OnlineConfig
from agents.idla.oracle import OracleAgent
from agents.idla.search import solve

__all__ = ["IDLAAgent", "IDLAPaperAgent", "OnlineConfig", "OracleAgent", "solve"]
