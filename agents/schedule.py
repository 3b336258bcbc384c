"""The learners' collect-then-train schedule, shared by IDLA and TD3.

Both learn the paper's way (Algorithm 1; Section V-C): explore and collect for ``collect``
periods (default: until the timeline's second phase starts, i.e. H0), train at its end, then act
on what they learned and keep learning online. Both watch the slice set the coming period will
have (``info["active_next"]``) and react to a change their own way (IDLA: a safe start; TD3: new
exploration noise, or new networks for ``td3-paper``). :class:`Schedule` keeps that clock, so the
two agents count periods, collection and slice-set changes the same way.
"""

from __future__ import annotations

import numpy as np

from slicesim.rollout import SlicingSpec

__all__ = ["Schedule"]


class Schedule:
    """Periods observed, the collection window and the slice-set changes of one episode.

    Args:
        collect_periods: periods of exploration and collection before the first training
            (None: until the timeline's second phase starts, ``spec.first_phase_end``).
    """

    def __init__(self, collect_periods: int | None = None) -> None:
        self.collect_periods = collect_periods
        self.reset(None, trained=True)

    def reset(self, spec: SlicingSpec | None, trained: bool) -> None:
        """Start an episode; an agent that has learned already does not collect first."""
        self.period = 0
        """Periods observed so far in this episode."""
        self.start = 0
        """Period at which the current collection window opened."""
        default = self.collect_periods
        if default is None:
            default = 0 if spec is None else spec.first_phase_end
        self.collect = 0 if trained else default
        """Length of the current collection window (periods)."""
        self.active: np.ndarray | None = None
        self.changes: list[int] = []
        """Periods at which the slice set changed."""

    def see(self, active: np.ndarray) -> bool:
        """Record the slice set of the coming period; whether it differs from the last one."""
        changed = self.active is not None and not np.array_equal(active, self.active)
        if changed:
            self.changes.append(self.period)
        self.active = active
        return changed

    def tick(self) -> None:
        """One period observed."""
        self.period += 1

    @property
    def collecting(self) -> bool:
        """Still inside the collection window."""
        return self.period - self.start < self.collect

    def collect_again(self, periods: int) -> None:
        """Open a new collection window of ``periods`` from now (e.g. new networks)."""
        self.start, self.collect = self.period, periods
