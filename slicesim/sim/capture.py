"""What a window offered: its users and bursts, recorded for the TTI reference (common random
numbers).

``simulate_window(..., capture=[])`` (and ``Network.replay(..., capture=[])``) fill the list with
one :class:`Traffic` per draw: every user row of the draw (cell, slice, session times, bits one
PRB carries per epoch) and every burst. A burst's epoch and its user are the flow-level model's
own Poisson counts (the draw's generator, consumed exactly as without capture); its arrival time
within the epoch is uniform (a Poisson process given its count is uniform), drawn from a separate
generator (``[net.seed, period, draw, 0x747469]``), so recording changes neither the draws nor the
KPIs of the window. Without ``capture`` nothing is recorded and nothing costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from slicesim.sim.world import World

__all__ = ["Traffic", "TrafficRecorder"]

_TIMES = 0x747469  # "tti": the stream of the bursts' arrival times


@dataclass(frozen=True)
class Traffic:
    """One draw's users and bursts in one window.

    Attributes:
        n_cells, n_slices: the network's sizes (``group = cell * n_slices + slice``).
        epoch_s, window_s: the window's scheduling epoch and length.
        cell, slice, group: per user row, (n_users,) ints. Blocked arrivals are rows too (never
            in session, no bursts).
        start_s, end_s: session start and end per row (inf / -inf where blocked).
        present: in session at each epoch's start (the flow model's rule for bursts and
            backlog), (n_epochs, n_users) bool.
        prb_bps: bit/s one PRB carries for the user in each epoch under that epoch's cell
            loads (the first copy's; with frozen loads every copy's), (n_epochs, n_users).
        cqi: the wideband CQI behind ``prb_bps``, same shape.
        burst_user: row of every burst, (n_bursts,), sorted by (user, arrival time).
        burst_s: arrival time of every burst (s since the window's start).
        burst_bits: size of every burst (bits).
    """

    n_cells: int
    n_slices: int
    epoch_s: float
    window_s: float
    cell: np.ndarray
    slice: np.ndarray
    group: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    present: np.ndarray
    prb_bps: np.ndarray
    cqi: np.ndarray
    burst_user: np.ndarray
    burst_s: np.ndarray
    burst_bits: np.ndarray

    @property
    def n_users(self) -> int:
        """User rows of the draw."""
        return len(self.cell)


class _Rows(Protocol):
    """What the recorder reads of a window's draw (``window._Draw``)."""

    n: int
    cell: np.ndarray
    slice: np.ndarray
    group: np.ndarray
    start: np.ndarray
    end: np.ndarray


class TrafficRecorder:
    """Collects every epoch's per-user values of a window's draws; builds :class:`Traffic`.

    Args:
        world: the static world of the network whose window is recorded (sizes, burst sizes,
            seed).
        period: the window's period.
        n_draws: draws of the window.
    """

    def __init__(self, world: World, period: int, n_draws: int) -> None:
        self.world, self.period = world, period
        self._epochs: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(n_draws)]

    def epoch(
        self,
        ns: list[int],
        present: np.ndarray,
        prb_bps: np.ndarray,
        cqi: np.ndarray,
        counts: np.ndarray,
    ) -> None:
        """One epoch: per-user arrays of every draw joined (the draws' ``ns`` users in turn)."""
        cuts = np.cumsum(ns)[:-1]
        parts = (np.split(a, cuts) for a in (present, prb_bps, cqi, counts * present))
        for k, values in enumerate(zip(*parts, strict=True)):
            self._epochs[k].append(values)

    def traffic(self, draws: Sequence[_Rows]) -> list[Traffic]:
        """The recorded traffic of every draw (after the window's last epoch)."""
        return [self._draw(k, d) for k, d in enumerate(draws)]

    def _draw(self, k: int, d: _Rows) -> Traffic:
        world, sim = self.world, self.world.sim
        n = d.n

        def table(i: int, dtype: type) -> np.ndarray:
            """(n_epochs, n) of value ``i``; rows that arrived later are 0 in earlier epochs."""
            out: np.ndarray = np.zeros((len(self._epochs[k]), n), dtype=dtype)
            for e, values in enumerate(self._epochs[k]):
                out[e, : len(values[i])] = values[i]
            return out

        counts = table(3, np.int64)
        epoch, user = np.nonzero(counts)
        reps = counts[epoch, user]
        epoch, user = np.repeat(epoch, reps), np.repeat(user, reps)
        rng = np.random.default_rng([world.seed, self.period, k, _TIMES])
        t0 = epoch * sim.epoch_s
        length = np.minimum(sim.epoch_s, sim.window_s - t0)  # a last epoch cut by the window
        times = t0 + rng.random(len(t0)) * length
        order = np.lexsort((times, user))
        user = user[order]
        return Traffic(
            n_cells=world.n_cells,
            n_slices=world.n_slices,
            epoch_s=sim.epoch_s,
            window_s=sim.window_s,
            cell=d.cell[:n].copy(),
            slice=d.slice[:n].copy(),
            group=d.group[:n].copy(),
            start_s=d.start[:n].copy(),
            end_s=d.end[:n].copy(),
            present=table(0, bool),
            prb_bps=table(1, float),
            cqi=table(2, float),
            burst_user=user,
            burst_s=times[order],
            burst_bits=world.burst_bits[d.slice[user]],
        )
