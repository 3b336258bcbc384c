"""The runner, kept here for code written against slicesim 0.1: it lives in
:mod:`slicesim.rollout` now (the platform owns the loop; agents plug in)."""

from slicesim.rollout import Trajectory, check_env, run

__all__ = ["Trajectory", "check_env", "run"]
