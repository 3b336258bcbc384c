"""TTI-level reference scheduler: the check of the flow-level KPIs (a validation mode, slow).

It runs on the users and bursts a flow-level window offered (:mod:`slicesim.sim.capture`, common
random numbers), for any number of share vectors (copies), vectorised over every (draw, copy,
cell, slice) group, one numpy step per TTI:

* TTIs of ``tti_s`` (1 ms); under isolated slicing (``sim.slicing``) a slice may use
  floor(x * n_prb) PRBs in every TTI, PRBs it leaves unused stay idle. Under RRMPolicyRatio
  sharing (``rrm_policy``) the PRBs a slice may use are decided every TTI from the PRBs each
  slice of the cell needs to empty its users' queues in that TTI
  (:func:`slicesim.sim.scheduler.rrm_available`: dedicated PRBs its own, its minimum first to
  it while it has data, the rest shared among the slices with more data, up to each maximum).
* A user's rate with the whole slice budget is budget x its bit/s per PRB of the epoch (the
  flow-level window's SINR, CQI and TS 36.213 efficiency; with frozen loads it is constant).
* A burst is schedulable from the TTI after its arrival; each user's bursts are served in order
  (FIFO); a burst's delay ends with the TTI that carries its last bit.
* Scheduler ("fluid"): the slice's TTI is shared equally among its backlogged users, water-filled
  (a user that needs less than its share gets what it needs, the rest is shared again) with
  divisible PRBs: proportional fair without fast fading (Bonald and Proutiere 2003).
* Buffer: a burst that would lift a user's queue above offered rate x ``sim.buffer_s`` is dropped
  (tail drop); dropped and late bursts count with the delay ``buffer_s`` (the flow model's cap).
  Queued data of a user whose session ended is still served (the session end stops arrivals).
* Bursts still queued when the window ends are drained without new arrivals, for at most
  ``buffer_s`` (a burst still queued then has reached the delay cap).
* Throughput per (cell, slice): TS 36.314 scheduled IP throughput, summed over the users: volume
  over time with data, both without the TTI that empties the buffer; where every burst of the
  group fitted into the TTI that emptied the buffer, the plain volume over the TTIs with data.

:func:`simulate_tti` returns the arrays of :meth:`slicesim.sim.kpi.GroupSums.kpis`, so
:func:`slicesim.sim.kpi.qos` applies unchanged. A 20 s window is 20 000 TTIs (+ the drain); the
cost is a few milliseconds of numpy per TTI, whatever the number of groups batched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.sim.capture import Traffic
from slicesim.sim.kpi import KPI_FIELDS
from slicesim.sim.scheduler import processor_share, rrm_available, rrm_prbs

__all__ = ["simulate_tti"]

_TOL_BITS = 1e-3  # cumulative bit counts are ~1e7: far above float rounding, far below a burst


class _Queues:
    """Users x copies of a batch of draws as flat arrays (user-copy ``l * N + u``)."""

    def __init__(self, config: ScenarioConfig, traffic: Sequence[Traffic], xs: np.ndarray) -> None:
        first = traffic[0]
        self.n_groups = first.n_cells * first.n_slices
        self.copies = len(xs)
        self.n = np.array([t.n_users for t in traffic])
        offset = np.r_[0, np.cumsum(self.n)[:-1]]
        group = np.concatenate([t.group for t in traffic])
        draw = np.repeat(np.arange(len(traffic)), self.n)
        copy = np.repeat(np.arange(self.copies), len(group))
        self.gid = (np.tile(draw, self.copies) * self.copies + copy) * self.n_groups + np.tile(
            group, self.copies
        )
        sim, n_prb = config.sim, config.radio.n_prb
        self.n_prb, self.n_slices = n_prb, first.n_slices
        per_group = rrm_prbs(xs, n_prb, sim.mapping)  # isolated: the budgets, three times
        self.policy: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if sim.slicing == "rrm_policy":  # every (draw, copy, group)'s PRBs, in the order of gid
            ded, low, high = (np.tile(p.reshape(-1), len(traffic)) for p in per_group)
            self.policy = (ded, low, high)
        budget = per_group[2].reshape(self.copies, self.n_groups)
        self.budget = budget[copy, np.tile(group, self.copies)]
        self.prb_bps = np.concatenate([t.prb_bps for t in traffic], axis=1)
        self.bps = np.zeros(len(self.gid))  # bit/s per PRB of the epoch, per user-copy
        offered = np.array([s.offered_mbps for s in config.slices]) * 1e6
        sl = np.concatenate([t.slice for t in traffic])
        self.cap_bits = np.tile(offered[sl] * config.sim.buffer_s, self.copies)
        # bursts, sorted by (user, time) within and across draws
        self.burst_user = np.concatenate(
            [t.burst_user + o for t, o in zip(traffic, offset, strict=True)]
        )
        self.burst_s = np.concatenate([t.burst_s for t in traffic])
        self.burst_bits = np.concatenate([t.burst_bits for t in traffic])
        m, size = len(self.burst_user), self.copies * len(group)
        bounds = np.searchsorted(self.burst_user, np.arange(len(group) + 1))
        shift = np.repeat(np.arange(self.copies) * m, len(group))
        self.head = np.tile(bounds[:-1], self.copies) + shift  # next burst to complete
        self.last = np.tile(bounds[1:], self.copies) + shift
        self.end_bits = np.full(self.copies * m, np.inf)  # cumulative bits at its end; inf: not yet
        self.done_tti = np.full(self.copies * m, -1, dtype=np.int64)
        self.dropped = np.zeros(self.copies * m, dtype=bool)
        self.arrived = np.zeros(size)  # cumulative bits admitted
        self.sent = np.zeros(size)  # cumulative bits served
        self.queue = np.zeros(size)
        self.rate = np.zeros(size)  # bits per TTI with the whole slice budget
        # TS 36.314 sums (without the emptying TTI) and the plain ones (with it)
        self.vol = np.zeros(size)
        self.ttis = np.zeros(size)
        self.vol_all = np.zeros(size)
        self.ttis_all = np.zeros(size)
        self.prb_ttis = np.zeros(size)

    def set_rates(self, epoch: int, tti_s: float) -> None:
        """Rates of the epoch's SINRs (the 1 bit/s floor keeps zero budgets finite)."""
        self.bps = np.tile(self.prb_bps[min(epoch, len(self.prb_bps) - 1)], self.copies)
        self.rate = np.maximum(self.budget * self.bps, 1.0) * tti_s

    def admit(self, bursts: np.ndarray, rank: np.ndarray) -> None:
        """Bursts (indices, sorted by user and time) join their users' queues in every copy."""
        m, n_users = len(self.burst_user), len(self.queue) // self.copies
        shift = np.arange(self.copies)[:, None]
        for r in range(int(rank.max()) + 1):  # a user's second burst of the TTI after its first
            j = bursts[rank == r]
            bc = (shift * m + j).ravel()
            uc = (shift * n_users + self.burst_user[j]).ravel()
            bits = np.tile(self.burst_bits[j], self.copies)
            ok = self.queue[uc] + bits <= self.cap_bits[uc] + _TOL_BITS
            uc, bits = uc[ok], bits[ok]
            self.queue[uc] += bits
            self.arrived[uc] += bits
            self.end_bits[bc[ok]] = self.arrived[uc]
            self.end_bits[bc[~ok]] = -np.inf  # passed over at once; its delay is the cap
            self.dropped[bc[~ok]] = True

    def serve(self, t: int, n_groups: int, count_prbs: bool, tti_s: float) -> None:
        """One TTI: equal shares of the slice's TTI among its backlogged users, water-filled."""
        act = np.flatnonzero(self.queue > 0.0)
        if not act.size:
            return
        budget, rate = self.budget[act], self.rate[act]
        if self.policy is not None:  # the PRBs each slice may use in this TTI
            prb_bits = self.bps[act] * tti_s
            demand = np.bincount(self.gid[act], self.queue[act] / prb_bits, minlength=n_groups)
            cells = (-1, self.n_slices)
            dedicated, minimum, maximum = (p.reshape(cells) for p in self.policy)
            avail = rrm_available(
                demand.reshape(cells), dedicated, minimum, maximum, self.n_prb
            ).reshape(-1)
            budget = avail[self.gid[act]]
            rate = np.maximum(budget * self.bps[act], 1.0) * tti_s
        work = self.queue[act] / rate
        phi, _ = processor_share(self.gid[act], work, n_groups)
        emptied = phi >= work
        bits = np.where(emptied, self.queue[act], phi * rate)
        self.queue[act] -= bits
        self.sent[act] += bits
        self.queue[act[emptied]] = 0.0
        self.sent[act[emptied]] = self.arrived[act[emptied]]
        self.vol_all[act] += bits
        self.ttis_all[act] += 1.0
        keep = act[~emptied]
        self.vol[keep] += bits[~emptied]
        self.ttis[keep] += 1.0
        if count_prbs:
            self.prb_ttis[act] += phi * budget
        self._complete(act, t)

    def _complete(self, users: np.ndarray, t: int) -> None:
        """Bursts whose last bit went out in TTI ``t`` (FIFO: from each user's head on)."""
        while users.size:
            head = self.head[users]
            ok = head < self.last[users]
            users, head = users[ok], head[ok]
            hit = self.sent[users] >= self.end_bits[head] - _TOL_BITS
            users, head = users[hit], head[hit]
            self.done_tti[head] = t
            self.head[users] += 1


def _arrival_batches(q: _Queues, tti_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bursts in order of their first schedulable TTI, the TTI boundaries, and each burst's rank
    among its user's bursts of the same TTI."""
    first_tti = np.floor(q.burst_s / tti_s).astype(np.int64) + 1
    order = np.argsort(first_tti, kind="stable")  # stable: (user, time) order within a TTI
    ttis, users = first_tti[order], q.burst_user[order]
    bounds = np.searchsorted(ttis, np.arange(int(ttis.max(initial=0)) + 2))
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = (ttis[1:] != ttis[:-1]) | (users[1:] != users[:-1])
    pos = np.arange(len(order))
    rank = pos - np.maximum.accumulate(np.where(new_run, pos, 0))
    return order, bounds, rank


def simulate_tti(
    config: ScenarioConfig, traffic: Sequence[Traffic], xs: np.ndarray, tti_s: float = 1e-3
) -> dict[str, np.ndarray]:
    """KPIs of the TTI reference (module docstring) on captured traffic, for every copy's shares.

    Args:
        config: the scenario (PRBs, slices' offered rates, buffer, window).
        traffic: one :class:`~slicesim.sim.capture.Traffic` per draw (``Network.replay``'s
            ``capture``), all of the same network and window.
        xs: shares of the copies, (copies, n_cells, n_slices); rows may sum above 1 (each
            slice's budget is its own share of the PRBs, as in ``Network.replay``).
        tti_s: TTI length (s).

    Returns:
        ``thr_mbps``, ``delay_ms``, ``prb_util``, ``users``, ``cqi``, ``demand_mbps``,
        ``served``: each (draws, copies, n_cells, n_slices), as ``GroupSums.kpis``.
    """
    q = _Queues(config, traffic, np.asarray(xs, dtype=float))
    first = traffic[0]
    n_all = len(traffic) * q.copies * q.n_groups
    window_ttis = round(first.window_s / tti_s)
    last_tti = window_ttis + round(config.sim.buffer_s / tti_s)
    ttis_per_epoch = first.epoch_s / tti_s
    order, bounds, rank = _arrival_batches(q, tti_s)
    epoch = -1
    for t in range(1, last_tti + 1):
        if int(t / ttis_per_epoch + 1e-9) != epoch:
            epoch = int(t / ttis_per_epoch + 1e-9)
            q.set_rates(epoch, tti_s)
        if t < len(bounds) - 1 and bounds[t] < bounds[t + 1]:
            q.admit(order[bounds[t] : bounds[t + 1]], rank[bounds[t] : bounds[t + 1]])
        elif t >= window_ttis and t >= len(bounds) - 1 and not (q.queue > 0.0).any():
            break
        q.serve(t, n_all, count_prbs=t < window_ttis, tti_s=tti_s)
    return _kpis(q, traffic, config, tti_s)


def _kpis(
    q: _Queues, traffic: Sequence[Traffic], config: ScenarioConfig, tti_s: float
) -> dict[str, np.ndarray]:
    """Per-group KPIs from the per-user and per-burst sums."""
    first, cap_s = traffic[0], config.sim.buffer_s
    shape = (len(traffic), q.copies, first.n_cells, first.n_slices)
    n_all = int(np.prod(shape))

    def per_group(values: np.ndarray, gid: np.ndarray = q.gid) -> np.ndarray:
        return np.bincount(gid, weights=values, minlength=n_all).reshape(shape)

    vol, time_s = per_group(q.vol), per_group(q.ttis) * tti_s
    vol_all, time_all = per_group(q.vol_all), per_group(q.ttis_all) * tti_s
    served = vol_all > 0
    thr = np.where(
        time_s > 0,
        vol / np.where(time_s > 0, time_s, 1.0),
        vol_all / np.where(served, time_all, 1.0),
    )
    m, n_users = len(q.burst_user), len(q.queue) // q.copies
    burst_copy_user = (np.arange(q.copies)[:, None] * n_users + q.burst_user).ravel()
    arrive = np.tile(q.burst_s, q.copies)
    delay = np.where(q.done_tti >= 0, (q.done_tti + 1) * tti_s - arrive, cap_s)
    delay = np.where(q.dropped, cap_s, np.minimum(delay, cap_s))
    bits = np.tile(q.burst_bits, q.copies)
    gid_burst = q.gid[burst_copy_user] if m else np.zeros(0, dtype=np.intp)
    arrived = per_group(bits, gid_burst)
    delay_bits = per_group(bits * delay, gid_burst)
    kpis = {
        "thr_mbps": thr / 1e6,
        "delay_ms": np.where(arrived > 0, delay_bits / np.where(arrived > 0, arrived, 1.0), 0.0)
        * 1e3,
        "prb_util": per_group(q.prb_ttis) * tti_s / (first.window_s * config.radio.n_prb),
        "demand_mbps": arrived / first.window_s / 1e6,
        "served": served,
        **_shared_kpis(traffic, shape),
    }
    return {name: kpis[name] for name in KPI_FIELDS}  # as GroupSums.kpis


def _shared_kpis(traffic: Sequence[Traffic], shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Users in session and their CQI per group: the same in every copy."""
    users, cqi = [], []
    n_groups = shape[2] * shape[3]
    for t in traffic:
        starts = np.arange(len(t.present)) * t.epoch_s
        dt = np.minimum(t.epoch_s, t.window_s - starts)[:, None]
        on = (t.present * dt).sum(axis=0)
        user_s = np.bincount(t.group, weights=on, minlength=n_groups)
        cqi_s = np.bincount(
            t.group, weights=(t.cqi * t.present * dt).sum(axis=0), minlength=n_groups
        )
        users.append(user_s / t.window_s)
        cqi.append(np.where(user_s > 0, cqi_s / np.where(user_s > 0, user_s, 1.0), 0.0))
    out = {}
    for name, rows in (("users", users), ("cqi", cqi)):
        per_draw = np.stack(rows).reshape(shape[0], 1, shape[2], shape[3])
        out[name] = np.broadcast_to(per_draw, shape).copy()
    return out
