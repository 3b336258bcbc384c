"""The compiled engine: numba kernels that repeat the reference engine's period bit for bit.

``rng`` (NumPy's generators in compiled code), ``traffic`` (users, sessions and bursts), ``draws``
(one window's draws), ``epoch`` (one epoch's physics), ``window`` (every epoch of every draw) and
``sweep`` (the sim-oracle's level sweep). :mod:`slicesim.sim.engines` chooses the engine; nothing
here is imported where numba is missing.
"""
