"""IDLA: a DNN QoS estimator plus a Lagrangian solver (paper Section IV), and the paper's
estimator oracle.

Modules: ``dataset`` (samples, augmentation), ``estimator`` (the MLP and its training),
``solver`` (the batched primal-dual search), ``agent`` (:class:`IDLAAgent`), ``oracle``
(:class:`OracleAgent`, exhaustive grid search of the estimator).
"""

from agents.idla.agent import IDLAAgent, IDLAPaperAgent
from agents.idla.oracle import OracleAgent

__all__ = ["IDLAAgent", "IDLAPaperAgent", "OracleAgent"]
