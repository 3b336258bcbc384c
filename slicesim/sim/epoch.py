"""One scheduling epoch's physics, the reference engine's: numpy over every user of a window.

:func:`epoch_step` is a function of the epoch's users (:class:`EpochUsers`: who is in session,
their bursts, backlog, gains and the interference under the cell loads) that returns what the
epoch changes (:class:`EpochResult`): load-coupled SINR -> CQI -> bit/s per PRB (the link
model), each slice's PRB budget time-shared among its users (``scheduler.processor_share``), the
bursts' delay and each user's time with data (the KPI model), buffers and the KPI terms. It is
the specification the compiled engine (:mod:`slicesim.sim.compiled`) reproduces bit for bit.

The per-user KPI sums a window keeps are laid out once, here (:data:`PER_COPY_SUMS`,
:data:`SHARED_SUMS`), for both engines: a block of ``copies`` rows for each per-copy sum, then
one row for each shared sum (:func:`sum_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slicesim.sim.kpi_model import Epoch
from slicesim.sim.scheduler import processor_share, rrm_available
from slicesim.sim.world import World

__all__ = ["PER_COPY_SUMS", "SHARED_SUMS", "EpochResult", "EpochUsers", "epoch_step", "sum_rows"]

PER_COPY_SUMS = ("bits", "busy_s", "delay_bits_s", "cqi_s")
"""Per-user KPI sums that depend on the copy's shares: bits served, seconds with data, delay
times bits of the bursts, CQI times seconds in session."""
SHARED_SUMS = ("arrived_bits", "user_s")
"""Per-user sums that are the same in every copy (common random numbers): bits arrived, seconds
in session."""


def sum_rows(copies: int) -> dict[str, slice | int]:
    """Where each sum lies in a per-user sums array of ``copies`` copies: a slice of ``copies``
    rows for a per-copy sum, a row for a shared one."""
    rows: dict[str, slice | int] = {
        name: slice(k * copies, (k + 1) * copies) for k, name in enumerate(PER_COPY_SUMS)
    }
    for k, name in enumerate(SHARED_SUMS):
        rows[name] = len(PER_COPY_SUMS) * copies + k
    return rows


@dataclass(frozen=True)
class EpochUsers:
    """Every user row of every draw at one epoch (a draw's first ``n`` rows in turn).

    Arrays are (n,) over the joined rows unless noted; ``copies`` is the window's.
    """

    present: np.ndarray  # in session at the epoch's start (bool)
    slice: np.ndarray  # slice type
    group: np.ndarray  # cell * n_slices + slice
    flat: np.ndarray  # (copies * n,) group of every (copy, row) across draws and copies
    n_flat: int  # groups across draws and copies: draws * copies * n_groups
    own: np.ndarray  # serving cell's gain (per-PRB power)
    interference: np.ndarray  # (copies or 1, n) interference power
    counts: np.ndarray  # bursts that arrive in the epoch
    backlog: np.ndarray  # (copies, n) bits queued at the epoch's start (0 out of session)


@dataclass(frozen=True)
class EpochResult:
    """What one epoch changes, over the same rows as its :class:`EpochUsers`.

    Attributes:
        backlog: bits left queued per (copy, row), capped by the buffer, (copies, n).
        values: this epoch's per-user KPI terms (``bits``, ``busy_s``, ``delay_bits_s``,
            ``cqi_s``: (copies, n); ``arrived_bits``, ``user_s``: (n,)).
        used: PRBs each (draw, copy, group) used on average, (draws * copies * n_groups,).
        phi: water-filled time shares, (copies, n).
        cqi, prb_bps: CQI and bit/s per PRB of every row under the epoch's loads, (copies or 1,
            n).
        budget: the PRBs each (draw, copy, group) could use this epoch, flat: the budgets
            given, or under RRMPolicyRatio sharing what the slice's share of the cell came to.
    """

    backlog: np.ndarray
    values: dict[str, np.ndarray]
    used: np.ndarray
    phi: np.ndarray
    cqi: np.ndarray
    prb_bps: np.ndarray
    budget: np.ndarray


Policy = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Dedicated, minimum and maximum PRBs of every (draw, copy, group), flat
(:func:`slicesim.sim.scheduler.rrm_prbs`)."""


def epoch_step(
    world: World, users: EpochUsers, budget: np.ndarray, policy: Policy | None = None
) -> EpochResult:
    """One scheduling epoch's physics, vectorised over users, copies and draws.

    Load-coupled SINR -> CQI -> rate per PRB; the bursts arrive; each slice's PRB budget is
    time-shared among its users (``scheduler.processor_share``); the KPI model gives the
    bursts' delay and each user's time with data; buffers and KPI terms follow.

    Args:
        world: the static world.
        users: the epoch's users (their bursts already drawn).
        budget: PRBs of every (draw, copy, group), flat: (draws * copies * n_groups,), the
            order of ``users.flat`` (isolated slicing).
        policy: under RRMPolicyRatio sharing (``sim.slicing = rrm_policy``) the policy's PRBs
            instead: each slice's budget is then what it can use of its cell this epoch
            (:func:`~slicesim.sim.scheduler.rrm_available`), from the PRBs every slice needs
            to serve its users' data (their need over their bit/s per PRB and the epoch).
    """
    sim, model = world.sim, world.kpi_model
    dt, cap_s = sim.epoch_s, sim.buffer_s
    n_all = users.n_flat
    cqi, prb_bps = world.link.rates(users.own / (world.noise_mw + users.interference))
    burst = world.burst_bits[users.slice]  # (n,)
    arrived = burst * users.counts * users.present  # (n,)
    need = users.backlog + arrived  # (copies, n)
    if policy is not None:  # each slice's budget: what it can use of the cell this epoch
        demand = np.bincount(users.flat, weights=(need / (prb_bps * dt)).ravel(), minlength=n_all)
        cells = (-1, world.n_slices)
        dedicated, minimum, maximum = (p.reshape(cells) for p in policy)
        budget = rrm_available(
            demand.reshape(cells), dedicated, minimum, maximum, world.n_prb
        ).reshape(-1)
    # bit/s with the whole slice (copies, n); the 1 bit/s floor keeps zero budgets finite
    full_rate = np.maximum(budget[users.flat].reshape(-1, len(users.group)) * prb_bps, 1.0)
    work = need / (full_rate * dt)  # share of the slice's epoch the user needs, (copies, n)
    phi, load = processor_share(users.flat, work.ravel(), n_all, model.exact)
    phi = phi.reshape(work.shape)
    rate = phi * full_rate  # > 0 wherever need > 0 (water-filling levels are > 0)
    # the bursts' delay and the time with data: the KPI model (kpi_model.py)
    epoch = Epoch(full_rate, phi, work, users.backlog, arrived, burst, users.flat, load, dt)
    delay, busy_s = model.epoch(epoch)
    delay = np.minimum(delay, cap_s)
    served = rate * dt
    left = np.minimum(need - served, world.offered_bps[users.slice] * cap_s)
    on = users.present * dt
    values = {
        "bits": served,
        "busy_s": busy_s,
        "delay_bits_s": delay * arrived,
        "cqi_s": cqi * on,
        "arrived_bits": arrived,
        "user_s": on,
    }
    used = np.bincount(users.flat, weights=phi.ravel(), minlength=n_all)
    return EpochResult(left, values, used, phi, cqi, prb_bps, budget)
