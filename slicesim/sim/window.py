"""One control period's simulated window, on the engine its world runs (``sim.engine``).

The contract: :func:`simulate_window` takes the network's static :class:`~slicesim.sim.world.
World`, the period's :class:`PeriodInputs` and one generator per draw, and returns a
:class:`Window` (KPI sums per group, cell loads); it reads nothing else. Two engines compute it,
with the same numbers (tests compare them bit for bit):

* ``reference``: SimPy orders the window's events - session arrivals per slice and scheduling
  epochs (the process here: :class:`_Epochs`) - over the users of :mod:`slicesim.sim.population`
  and numpy does each epoch's physics (:func:`slicesim.sim.epoch.epoch_step`). Readable, and the
  specification.
* ``compiled`` (the default): one numba call runs every epoch of every draw
  (:mod:`slicesim.sim.compiled`), taking the same random numbers in the same order.

The same window can carry several *copies* (allocations replayed on one draw of the traffic:
common random numbers) and several *draws* (independent populations of the same period, each
with its own generator): the oracles' replays (``Network.replay``) run them in one pass. With one
copy and one draw this is ``run_period``. On request (``capture``) the reference engine also
records what each draw offered, users and bursts (:mod:`slicesim.sim.capture`), for the TTI-level
reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from slicesim.sim.capture import Traffic, TrafficRecorder
from slicesim.sim.epoch import EpochUsers, Policy, epoch_step
from slicesim.sim.kpi import GroupSums, qos
from slicesim.sim.population import Recording, Users
from slicesim.sim.world import World

__all__ = [
    "PeriodInputs",
    "Window",
    "recorded_generators",
    "simulate_window",
    "simulate_windows",
    "sweep_levels",
]


@dataclass(frozen=True)
class PeriodInputs:
    """What a window simulates besides the static world.

    Attributes:
        period: the period's index (it seeds the recorded bursts' arrival times).
        mask: the traffic mask of every slice type, (n_slices,).
        active: the active (cell, slice) pairs, (n_cells, n_slices).
        xs: the copies' shares, (copies, n_cells, n_slices), zero where inactive.
        warm: cell loads of the first epoch's interference, (draws, n_cells).
        frozen: cell loads of every epoch instead of the copies' own, (draws, n_epochs, n_cells).
    """

    period: int
    mask: np.ndarray
    active: np.ndarray
    xs: np.ndarray
    warm: np.ndarray
    frozen: np.ndarray | None = None


@dataclass
class Window:
    """What a window produced: KPI sums per (draw, copy, cell, slice) and the cell loads.

    Attributes:
        sums: the KPI sums (:class:`~slicesim.sim.kpi.GroupSums`).
        cell_util: loads behind each epoch's interference, (draws, copies, n_epochs, n_cells).
        util_end: loads after the last epoch (the next period's warm start), (draws, copies,
            n_cells).
        engine: the engine that simulated it (``compiled`` or ``reference``).
    """

    sums: GroupSums
    cell_util: np.ndarray
    util_end: np.ndarray
    engine: str = "reference"


def simulate_window(
    world: World,
    inputs: PeriodInputs,
    rngs: Sequence[np.random.Generator],
    capture: list[Traffic] | None = None,
    offered: list[Any] | None = None,
) -> Window:
    """Simulate one period's window for every copy and draw.

    Args:
        world: the network's static world (its ``engine`` runs the window).
        inputs: the period, its mask and slice set, the copies' shares and the cell loads.
        rngs: one generator per draw (consumed as the draw's users and bursts need).
        capture: if given, one :class:`~slicesim.sim.capture.Traffic` per draw is appended
            (users and bursts; the KPIs and the draws' generators are the same as without); the
            reference engine runs it.
        offered: an empty list: the draws' traffic is recorded into it (one record); a list
            holding a record of the same period and draws: the window replays that traffic
            instead of drawing it (``rngs`` are not used), with the same result. A record is
            replayed by the engine that made it.
    """
    worlds, all_inputs = [world] * len(rngs), [inputs] * len(rngs)
    recorded_by_reference = bool(offered) and isinstance(offered[0], Recording)  # type: ignore[index]
    if world.engine == "compiled" and capture is None and not recorded_by_reference:
        return _compiled(worlds, all_inputs, inputs.warm, inputs.frozen, rngs, offered)
    recorder = None if capture is None else TrafficRecorder(world, inputs.period, len(rngs))
    window, draws = _reference(
        worlds, all_inputs, inputs.warm, inputs.frozen, rngs, recorder, offered
    )
    if capture is not None and recorder is not None:
        capture.extend(recorder.traffic(draws))
    return window


def simulate_windows(
    worlds: Sequence[World],
    inputs: Sequence[PeriodInputs],
    rngs: Sequence[np.random.Generator],
) -> Window:
    """Simulate the windows of several networks in one pass: draw k is network k.

    The networks share their scenario (sizes, radio and KPI models, time scales, engine) but each
    has its own static world (drop pool, shadowing), period (mask, slice set), shares and warm
    loads. With an ``exact`` KPI model every draw's arithmetic is its own (per-draw
    interference, per-group sums), so draw k equals :func:`simulate_window` of network k alone,
    bit for bit.

    Args:
        worlds: one static world per network.
        inputs: one per network, each with warm loads of shape (1, n_cells) and no frozen loads.
        rngs: one generator per network.
    """
    if not len(worlds) == len(inputs) == len(rngs):
        raise ValueError(
            f"worlds, inputs and rngs differ in length: {len(worlds)}, {len(inputs)}, {len(rngs)}"
        )
    shared = worlds[0]
    for k, (w, inp) in enumerate(zip(worlds, inputs, strict=True)):
        if (w.n_cells, w.n_slices, w.n_prb, w.sim, w.engine) != (
            shared.n_cells,
            shared.n_slices,
            shared.n_prb,
            shared.sim,
            shared.engine,
        ) or type(w.kpi_model) is not type(shared.kpi_model):
            raise ValueError(f"network {k} is of another scenario than network 0")
        if inp.frozen is not None or np.shape(inp.warm) != (1, shared.n_cells):
            raise ValueError(
                f"inputs[{k}]: one draw per network (warm loads (1, n_cells), no frozen loads)"
            )
        if inp.xs.shape != inputs[0].xs.shape:
            raise ValueError(f"inputs[{k}].xs has shape {inp.xs.shape}, not {inputs[0].xs.shape}")
    warm = np.concatenate([inp.warm for inp in inputs])
    if shared.engine == "compiled":
        return _compiled(worlds, inputs, warm, None, rngs, None)
    return _reference(worlds, inputs, warm, None, rngs, None)[0]


def recorded_generators(offered: list[Any] | None, draws: int) -> list[np.random.Generator] | None:
    """The generators of a compiled recording of ``draws`` draws in ``offered`` (a replay
    takes its draws from them), else None.

    Raises:
        ValueError: the recording has another number of draws.
    """
    record = offered[0] if offered else None
    if record is None or isinstance(record, Recording):
        return None
    if len(record.states) != draws:
        raise ValueError(f"offered traffic of {len(record.states)} draws, not {draws}")
    return list(record.generators())


def sweep_levels(
    world: World,
    inputs: PeriodInputs,
    rngs: Sequence[np.random.Generator],
    needs: tuple[np.ndarray, np.ndarray],
    offered: list[Any] | None = None,
    exact: bool = True,
) -> tuple[np.ndarray, int]:
    """r of every (draw, copy, cell, slice) of a level sweep - copies that raise the shares one
    level at a time, the cell loads frozen - and how many (draw, copy, group) runs it made.

    On the compiled engine a group runs level by level, and with ``exact`` (and a KPI model
    whose r does not fall with the share) stops at its first r = 1 (:mod:`slicesim.sim.compiled.
    sweep`): the same r as the full sweep. The reference engine runs the whole window.

    Args:
        world, inputs, rngs, offered: as :func:`simulate_window` (``inputs.frozen`` given).
        needs: the slices' throughput (Mbit/s) and delay (ms) needs.
        exact: stop each group at its first r = 1 (compiled engine).
    """
    recorded_by_reference = bool(offered) and isinstance(offered[0], Recording)  # type: ignore[index]
    if world.engine == "compiled" and not recorded_by_reference:
        from slicesim.sim.compiled.sweep import sweep

        return sweep(world, inputs, rngs, offered, needs[0], needs[1], exact)
    window = simulate_window(world, inputs, rngs, offered=offered)
    kpis = window.sums.kpis(world.sim.window_s, world.n_prb)
    r = qos(kpis["thr_mbps"], kpis["delay_ms"], needs[0], needs[1], kpis["served"])
    return np.where(inputs.active, r, 1.0), int(np.prod(r.shape[:2])) * world.n_groups


def _compiled(
    worlds: Sequence[World],
    inputs: Sequence[PeriodInputs],
    warm: np.ndarray,
    frozen: np.ndarray | None,
    rngs: Sequence[np.random.Generator],
    offered: list[Any] | None,
) -> Window:
    """The window on the compiled engine (imported, and numba with it, on first use)."""
    from slicesim.sim.compiled.window import simulate

    sums, prb_s, trace, util_end = simulate(worlds, inputs, rngs, warm, frozen, offered)
    return Window(GroupSums(sums, prb_s, worlds[0].n_cells), trace, util_end, "compiled")


# ---------------------------------------------------------------- the reference engine


class _Drawn:
    """The traffic of a fresh window: each epoch's bursts drawn from the draws' generators
    (and kept in ``record`` when recording)."""

    def __init__(self, draws: list[Users], record: Recording | None) -> None:
        self.draws, self.record = draws, record

    def bursts(self, epoch: int) -> np.ndarray:
        """Every draw's bursts of its rows so far, joined."""
        draws = self.draws
        world = draws[0].world
        counts = world.bursts.draw_each([d.slice[: d.n] for d in draws], [d.rng for d in draws])
        if self.record is not None:
            self.record.rows.append([d.n for d in draws])
            self.record.counts.append(counts)
        return counts


class _Replayed:
    """The traffic of a replayed window: the recorded rows and bursts, nothing drawn."""

    def __init__(self, draws: list[Users], source: Recording) -> None:
        self.draws, self.source = draws, source

    def bursts(self, epoch: int) -> np.ndarray:
        for d, n in zip(self.draws, self.source.rows[epoch], strict=True):
            d.n = n
        return self.source.counts[epoch]


class _Epochs:
    """The window's scheduling epochs: a SimPy process, and what they leave behind.

    Args:
        world: the shared parts of the draws' worlds (time scales, link, KPI model).
        inputs: one per draw (or the same object for every draw).
        warm: cell loads before the first epoch, (draws, n_cells).
        frozen: cell loads of every epoch instead of the copies' own, or None.
        traffic: where each epoch's bursts come from (:class:`_Drawn` or :class:`_Replayed`).
        recorder: records every epoch's users for the TTI reference, or None.
    """

    def __init__(
        self,
        world: World,
        inputs: Sequence[PeriodInputs],
        warm: np.ndarray,
        frozen: np.ndarray | None,
        traffic: _Drawn | _Replayed,
        recorder: TrafficRecorder | None,
    ) -> None:
        self.world, self.frozen, self.traffic, self.recorder = world, frozen, traffic, recorder
        self.draws = traffic.draws
        copies = inputs[0].xs.shape[0]
        n_groups = world.n_groups
        self.shape = (len(self.draws), copies, n_groups)
        if all(inp is inputs[0] for inp in inputs):  # one period for every draw (the replays)
            one = world.slice_prbs(inputs[0].xs[None])
            prbs = np.broadcast_to(one, (3, *self.shape))
        else:  # a period per draw (replicas of a network)
            prbs = world.slice_prbs(np.stack([inp.xs for inp in inputs]))
        self.budget_flat = prbs[2].reshape(-1)  # in the order of EpochUsers.flat
        self.policy: Policy | None = None
        if world.sim.slicing == "rrm_policy":
            self.policy = (prbs[0].reshape(-1), prbs[1].reshape(-1), self.budget_flat)
        self.prb_s = np.zeros(self.shape)  # PRB-seconds used per (draw, copy, group)
        self.trace: list[np.ndarray] = []  # per epoch, the loads behind its interference
        self.util_end = np.broadcast_to(warm[:, None, :], (*self.shape[:2], world.n_cells))
        self.copy_offset = (np.arange(copies) * n_groups)[:, None]  # copy l's groups: + l G

    def process(self, env: simpy.Environment) -> Any:
        """SimPy process: a scheduling epoch every ``epoch_s``."""
        frozen = self.frozen
        util = self.util_end  # (draws, copies, n_cells)
        epoch = 0
        while True:
            if frozen is not None:
                util = np.broadcast_to(frozen[:, None, min(epoch, frozen.shape[1] - 1)], util.shape)
            self.trace.append(np.array(util))
            util = self.util_end = self.step(env.now, util, epoch)
            epoch += 1
            yield env.timeout(self.world.sim.epoch_s)

    def users(self, t: float, util: np.ndarray, epoch: int) -> EpochUsers:
        """Every draw's users at time ``t`` joined (their bursts drawn or replayed)."""
        draws, world = self.draws, self.world
        counts = self.traffic.bursts(epoch)
        rows = [d.n for d in draws]

        def joined(parts: list[np.ndarray], axis: int = 0) -> np.ndarray:
            return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)

        group = joined([d.group[:n] for d, n in zip(draws, rows, strict=True)])
        base = joined([d.group[:n] + d.base for d, n in zip(draws, rows, strict=True)])
        # with frozen loads every copy sees the same interference: one row
        loads = [util[k, :1] if self.frozen is not None else util[k] for k in range(len(draws))]
        exact = world.kpi_model.exact
        present = joined([d.in_session(t) for d in draws])
        return EpochUsers(
            present=present,
            slice=joined([d.slice[:n] for d, n in zip(draws, rows, strict=True)]),
            group=group,
            flat=(base + self.copy_offset).ravel(),
            n_flat=int(np.prod(self.shape)),
            own=joined([d.own[:n] for d, n in zip(draws, rows, strict=True)]),
            interference=joined(
                [d.interference(u, exact) for d, u in zip(draws, loads, strict=True)], axis=1
            ),
            counts=counts,
            backlog=joined([d.backlog[:, : d.n] for d in draws], axis=1) * present,
        )

    def step(self, t: float, util: np.ndarray, epoch: int) -> np.ndarray:
        """One epoch at time ``t`` under the cell loads ``util``; the loads it leaves."""
        world, draws = self.world, self.draws
        users = self.users(t, util, epoch)
        result = epoch_step(world, users, self.budget_flat, self.policy)
        if self.recorder is not None:
            self.recorder.epoch(
                [d.n for d in draws], users.present, result.prb_bps[0], result.cqi[0], users.counts
            )
        lo = 0
        for d in draws:
            d.backlog[:, : d.n] = result.backlog[:, lo : lo + d.n]
            d.add_terms(result.values, lo)
            lo += d.n
        used = result.used.reshape(self.shape) * result.budget.reshape(self.shape)  # PRBs used
        self.prb_s += used * world.sim.epoch_s
        per_cell = used.reshape(*self.shape[:2], world.n_cells, world.n_slices)
        cells = per_cell[..., 0].copy()  # the slices summed in order (the compiled engine's)
        for s in range(1, world.n_slices):
            cells += per_cell[..., s]
        return np.minimum(cells / world.n_prb, 1.0)  # <= 1 unless a what-if overbooks


def _reference(
    worlds: Sequence[World],
    inputs: Sequence[PeriodInputs],
    warm: np.ndarray,
    frozen: np.ndarray | None,
    rngs: Sequence[np.random.Generator],
    recorder: TrafficRecorder | None,
    offered: list[Any] | None = None,
) -> tuple[Window, list[Users]]:
    """The window of draw k = (``worlds[k]``, ``inputs[k]``, ``rngs[k]``) on the reference
    engine; the shared parts of the world (time scales, link, KPI model, burst sizes) are
    ``worlds[0]``'s. ``offered``: record the traffic (an empty list) or replay it."""
    world = worlds[0]
    copies, n_groups = inputs[0].xs.shape[0], world.n_groups
    env = simpy.Environment()
    traffic: _Drawn | _Replayed
    if offered and recorder is None:  # replay the recorded traffic
        source = offered[0]
        if not isinstance(source, Recording):
            raise ValueError("offered holds another engine's record: replay it on that engine")
        if len(source.draws) != len(rngs):
            raise ValueError(f"offered traffic of {len(source.draws)} draws, not {len(rngs)}")
        draws = [
            Users.replayed(d, copies, k * copies * n_groups) for k, d in enumerate(source.draws)
        ]
        traffic = _Replayed(draws, source)
    else:
        draws = []
        for k, (w, inp, rng) in enumerate(zip(worlds, inputs, rngs, strict=True)):
            users, rate = Users.drawn(w, inp.mask, inp.active, rng, copies, k * copies * n_groups)
            draws.append(users)
            for s in np.flatnonzero(rate > 0):
                env.process(users.arrivals(env, int(s), float(rate[s])))
        record = None
        if offered is not None and recorder is None:
            record = Recording(draws, [], [], [])
            offered.append(record)
        traffic = _Drawn(draws, record)
    epochs = _Epochs(world, inputs, warm, frozen, traffic, recorder)
    env.process(epochs.process(env))
    env.run(until=world.sim.window_s)
    if isinstance(traffic, _Replayed):
        for d, n in zip(draws, traffic.source.final, strict=True):
            d.n = n
    elif traffic.record is not None:
        traffic.record.final.extend(d.n for d in draws)
    per_draw = [d.group_sums(n_groups) for d in draws]
    sums = {name: np.stack([g[name] for g in per_draw]) for name in per_draw[0]}
    trace = np.stack(epochs.trace, axis=2)
    window = Window(GroupSums(sums, epochs.prb_s, world.n_cells), trace, epochs.util_end)
    return window, draws
