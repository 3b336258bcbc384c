"""Experiments on top of the agents (what the ``slicesim`` command runs): fixed-allocation
simulations (``simulate``), the paper benchmark and its report (``bench``, ``report``)."""
