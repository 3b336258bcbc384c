"""IDLA: DNN QoS estimator plus Lagrangian solver (paper Section IV)."""
