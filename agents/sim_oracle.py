"""Simulator oracles: yardsticks that choose each period's shares by replaying the simulator.

They are not controllers. A controller sees only the operator's O&M KPIs; these see the simulator
itself (the documented exception to "agents see only the O&M KPIs"), through the runner's
``bind_simulator(env)`` hook, and never change the live network: every replay runs on a replica
built from the same scenario and seed (:meth:`slicesim.Network.replay`).

* ``sim-oracle`` (the stochastic oracle, the default yardstick): maximises the mean utility over
  ``draws`` = K other independent draws of the same period (same traffic level and cell loads,
  other users and bursts), then is applied to the real draw like any agent. It knows the traffic
  statistics perfectly but not the draw: the best an O&M controller could hope for.
* ``sim-oracle-hindsight``: optimises on the very draw it is scored on. It is clairvoyant and an
  upper bound only: shares tuned to one draw do worse than equal shares on a fresh draw.

Method (per period; every replay covers all draws in one pass): replay the current shares to learn
each epoch's cell loads; with the loads frozen, a slice's KPIs depend only on its own share, so one
batched replay evaluates every active (cell, slice) at every share level ``l * step``; per cell, an
exact search over the levels (:func:`agents.grid.best_levels`: whole cell used, each active slice
at least one step, ties to the point nearest equal shares) picks the shares that maximise the mean
over draws of sum log(1 + r). The choice is replayed with its own loads (level sweeps under
another allocation's loads misjudge interference) and ``rounds`` repeats the sweep from there.
Every candidate - the start (last period's choice), equal shares, each round's choice - is
scored by a full replay on every draw, and the best one is played: on its draws the oracle is
never below equal shares. Under RRMPolicyRatio sharing (``sim.slicing = rrm_policy``) a slice's
KPIs depend on the others' needs too: the sweep then runs with isolated slices (the shares that
serve each slice on its own) and proposes candidates that are scored under sharing like the
others, then a local search moves one slice's share at a time, cell by cell, scored by full
replays under sharing (:data:`SHARED_MOVES`): a yardstick found by search, not an exhaustive
optimum, there.

``every = k`` evaluates only every k-th period (equal shares in the others); the benchmark then
scores every agent on those periods only. In the collection phase (H0: periods before the
timeline's ``first_phase_end``, where no report scores any agent) the oracles play equal shares.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.base import Agent, SlicingSpec
from agents.grid import best_levels, full_levels, grid_units
from slicesim.envs import SlicingEnv
from slicesim.rollout import ORACLE_DRAWS, scored_periods
from slicesim.sim import Network, equal_split
from slicesim.typed_config import ConfigError, Validated, choice, num

__all__ = [
    "SEARCHES",
    "SHARED_MOVES",
    "SimOracleAgent",
    "SimOracleConfig",
    "SimOracleHindsightAgent",
    "moved",
]

SEARCHES = ("exact", "full")
"""How a simulator oracle's level sweep runs (:attr:`SimOracleConfig.search`)."""


@dataclass(frozen=True)
class SimOracleConfig(Validated):
    """The settings of the simulator oracles (``--set agent.sim-oracle.<field>=...``).

    Attributes:
        draws: K, independent draws of each period the shares are optimised on (the hindsight
            oracle ignores it). The default (:data:`slicesim.rollout.ORACLE_DRAWS`) is converged
            on ``paper``: doubling it changes the gain over equal shares by less than 3 %.
        every: evaluate every k-th period only; equal shares in the others (the benchmark then
            scores every agent on those periods: ``--oracle-every``).
        step: share grid (1 / step levels per cell); must divide 1.
        rounds: sweeps per period, each from the loads of the previous round's choice. One is
            the default: its first sweep already starts from the last period's choice, and a
            second round cost 60 % more time for no measurable gain on ``paper``.
        seed: seeds the K draws (with the network's seed and the period).
        search: how the level sweep runs: ``exact`` (the default: each (draw, cell, slice) runs
            its levels in ascending order and stops at its first r = 1, whose higher levels
            are then 1 too; compiled engine, :meth:`slicesim.Network.replay_levels`) or ``full``
            (every level of every group replayed). Both give the same value tables and
            decisions.
        local_rounds: under RRMPolicyRatio sharing (``sim.slicing: rrm_policy``), the local
            search's rounds at most (:meth:`SimOracleAgent._local_search`; 0: none).
        local_step: its step: each round tries every slice's share changed by
            :data:`SHARED_MOVES` steps.
    """

    draws: int = num(1, 10**4, ORACLE_DRAWS)
    every: int = num(1, 10**6, 1)
    step: float = num(0, 1, 0.05, lo_open=True)
    rounds: int = num(1, 100, 1)
    seed: int = num(0, 2**32 - 1, 0)
    search: str = choice("exact", *SEARCHES)
    local_rounds: int = num(0, 100, 4)
    local_step: float = num(0, 0.5, 0.1, lo_open=True)

    def _check(self) -> None:
        try:
            grid_units(self.step)
        except ValueError as err:
            raise ConfigError(str(err)) from None


SHARED_MOVES = (-2, -1, 1, 2)
"""Under RRMPolicyRatio sharing, the changes of one slice's share the local search tries, in
steps of :attr:`SimOracleConfig.local_step`."""


def moved(x: np.ndarray, active: np.ndarray, s: int, delta: float) -> np.ndarray:
    """Shares ``x`` with slice column ``s`` changed by ``delta`` (within [0, 1]) in every cell
    where it is active, the cell's other active slices scaled to keep its sum (split equally
    where they held nothing)."""
    out = x.copy()
    here = active[:, s]
    total = np.where(active, x, 0.0).sum(axis=1)
    new = np.clip(x[:, s] + delta, 0.0, np.minimum(total, 1.0))
    others = active.copy()
    others[:, s] = False
    rest = np.where(others, x, 0.0)
    held = rest.sum(axis=1, keepdims=True)
    n_others = np.maximum(others.sum(axis=1, keepdims=True), 1)
    scale = np.where(held > 0, rest / np.where(held > 0, held, 1.0), others / n_others)
    spread = scale * (total - new)[:, None]
    out[here] = np.where(others[here], spread[here], out[here])
    out[here, s] = new[here]
    return out


class SimOracleAgent(Agent):
    """The stochastic simulator oracle (module docstring): a yardstick, not a controller.

    Args:
        config: the settings (default :class:`SimOracleConfig`).
        hindsight: optimise on the scored draw itself (then ``draws`` is ignored).
        **settings: fields of :class:`SimOracleConfig` replacing the config's.

    Raises:
        ConfigError: a setting out of range (named).
    """

    name = "sim-oracle"
    role = "yardstick"

    def __init__(
        self, config: SimOracleConfig | None = None, hindsight: bool = False, **settings: Any
    ) -> None:
        config = config or self.default_config()
        self.config = dataclasses.replace(config, **settings) if settings else config
        self.n_units = grid_units(self.config.step)
        self.draws, self.every, self.rounds = (
            self.config.draws,
            self.config.every,
            self.config.rounds,
        )
        self.hindsight, self.seed = hindsight, self.config.seed
        self.env: SlicingEnv | None = None
        self._replica: Network | None = None
        self._sweeper: Network | None = None
        self.predicted: list[float] = []
        """Predicted mean utility of each evaluated period's choice (over its draws)."""
        self.sweep_runs = [0, 0]
        """(draw, level, cell-slice) runs the exact sweeps made, and all there were."""

    @classmethod
    def default_config(cls) -> SimOracleConfig:
        """K = :data:`~slicesim.rollout.ORACLE_DRAWS` draws, every period, a 0.05 grid, one
        round."""
        return SimOracleConfig()

    def bind_simulator(self, env: SlicingEnv) -> None:
        """The runner's hook: the env whose simulator is replayed (never stepped here)."""
        self.env = env

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        super().reset(spec, seed)
        self._x_prev: np.ndarray | None = None
        self.predicted = []
        self.sweep_runs = [0, 0]

    def stats(self) -> dict[str, Any]:
        runs, all_runs = self.sweep_runs
        return {
            "draws": 1 if self.hindsight else self.draws,
            "every": self.every,
            "rounds": self.rounds,
            "hindsight": self.hindsight,
            "search": self.config.search,
            "sweep_runs": runs / all_runs if all_runs else None,  # share the exact sweep ran
        }

    # ------------------------------------------------------------------ interface

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        active = np.asarray(info["active_next"], dtype=bool)
        net = self._network()
        unscored = net.period < net.config.timeline.first_phase_end  # the collection phase H0
        if unscored or not scored_periods(net.period, self.every):
            return equal_split(active)
        state = net.get_state()
        replica = self._replica_of(net)
        x, predicted = self.optimise(replica, self.draw_states(state, net.seed), active)
        self._x_prev = x
        self.predicted.append(predicted)
        return x

    # ------------------------------------------------------------------ the search

    def draw_states(self, state: dict[str, Any], net_seed: int) -> list[dict[str, Any]]:
        """The states to optimise on: the real one (hindsight) or K others of the same period."""
        if self.hindsight:
            return [state]
        out = []
        for k in range(self.draws):
            rng = np.random.default_rng([self.seed, net_seed, int(state["period"]), k, 0x6F72])
            out.append({**state, "rng": rng.bit_generator.state})
        return out

    def optimise(
        self, net: Network, states: list[dict[str, Any]], active: np.ndarray
    ) -> tuple[np.ndarray, float]:
        """Shares maximising the mean utility over ``states``, and that mean utility.

        Every candidate (the start point, equal shares, each round's choice) is replayed with its
        own loads on every state; the best replayed candidate wins, so the result is never
        worse on ``states`` than equal shares.
        """
        equal = equal_split(active)  # exactly: a candidate of its own, off the grid if need be
        x = self._start(active)
        levels = full_levels(active, self.n_units)
        sweep = np.broadcast_to(
            levels[:, None, None] / self.n_units, (len(levels), net.n_cells, net.n_slices)
        )
        unused = np.setdiff1d(np.arange(self.n_units + 1), levels)
        offered: list[Any] = []  # the draws' traffic, recorded once, replayed by every pass
        starts = [x] if np.array_equal(x, equal) else [x, equal]  # one replay when they agree
        first = net.replay(np.stack(starts), states=states, offered=offered)
        scores = first.utility.mean(axis=0)
        best = int(np.argmax(scores))  # the start point on a tie (as before)
        best_x, best_u = starts[best], scores[best]
        loads = first.cell_util[:, 0]
        seen = [x, equal]
        for _ in range(self.rounds):
            r = self._sweep(net, sweep, states, loads, offered, active)
            table = np.log1p(r).mean(axis=0).transpose(1, 2, 0)  # (cells, slices, levels)
            full = np.zeros((net.n_cells, net.n_slices, self.n_units + 1))
            full[..., levels] = table
            full[..., unused] = -np.inf
            chosen = best_levels(torch.from_numpy(full), torch.from_numpy(active)).numpy()
            x = chosen / self.n_units
            if any(np.array_equal(x, old) for old in seen):
                break
            seen.append(x)
            replayed = net.replay(x[None], states=states, offered=offered)
            u = float(replayed.utility.mean())
            if u > best_u:
                best_x, best_u = x, u
            loads = replayed.cell_util[:, 0]
        if net.config.sim.slicing != "isolated":
            best_x, best_u = self._local_search(net, states, offered, active, best_x, best_u)
        return best_x, float(best_u)

    def _local_search(
        self,
        net: Network,
        states: list[dict[str, Any]],
        offered: list[Any],
        active: np.ndarray,
        x: np.ndarray,
        u: float,
    ) -> tuple[np.ndarray, float]:
        """Under sharing: from ``x`` (mean utility ``u``), moves of one slice's share by each of
        :data:`SHARED_MOVES` steps in every cell at once (the others scaled to keep the cell's
        sum), all replayed in one pass; every cell takes the move that served it best, and the
        combination is kept if its own replay beats ``u``. Up to ``local_rounds`` rounds."""
        steps = [d * self.config.local_step for d in SHARED_MOVES]
        cols = [int(s) for s in np.flatnonzero(active.any(axis=0))]
        for _ in range(self.config.local_rounds):
            copies = np.stack([x, *(moved(x, active, s, d) for s in cols for d in steps)])
            replay = net.replay(copies, states=states, offered=offered)
            per_cell = np.log1p(replay.r).sum(axis=3).mean(axis=0)  # (copies, cells)
            best = np.argmax(per_cell, axis=0)  # the base (copy 0) on a tie
            if not best.any():
                break
            candidate = copies[best, np.arange(net.n_cells)]
            got = float(net.replay(candidate[None], states=states, offered=offered).utility.mean())
            if got <= u:
                break
            x, u = candidate, got
        return x, u

    def _sweep(
        self,
        net: Network,
        sweep: np.ndarray,
        states: list[dict[str, Any]],
        loads: np.ndarray,
        offered: list[Any],
        active: np.ndarray,
    ) -> np.ndarray:
        """r of every (state, level, cell, slice) under the frozen ``loads``."""
        net = self._isolated(net)
        if self.config.search == "full":
            return net.replay(sweep, states=states, frozen_util=loads, offered=offered).r
        r, runs = net.replay_levels(sweep, states, loads, offered, exact=True)
        self.sweep_runs[0] += runs
        self.sweep_runs[1] += r.shape[0] * r.shape[1] * int(np.count_nonzero(active))
        return r

    def _isolated(self, net: Network) -> Network:
        """The network the level sweep runs on: ``net``, or under RRMPolicyRatio sharing
        (``sim.slicing = rrm_policy``) the same network with isolated slices. A slice's KPIs
        depend on its own share alone only where slices do not share (the sweep's premise);
        under sharing the sweep proposes the shares that would serve each slice on its own,
        every candidate is scored by a full replay under sharing, and a local search
        (:meth:`_local_search`) follows."""
        if net.config.sim.slicing == "isolated":
            return net
        if self._sweeper is None or self._sweeper.seed != net.seed:
            sim = dataclasses.replace(net.config.sim, slicing="isolated")
            self._sweeper = Network(dataclasses.replace(net.config, sim=sim), seed=net.seed)
        return self._sweeper

    def _start(self, active: np.ndarray) -> np.ndarray:
        """Last evaluated period's shares if the slice set is the same; else equal shares."""
        if self._x_prev is not None and np.array_equal(self._x_prev > 0, active):
            return self._x_prev
        return equal_split(active)

    def _network(self) -> Network:
        if self.env is None or self.env.net is None:
            raise RuntimeError(
                f"{self.name} replays the simulator: run it with agents.run, which binds the env "
                "(bind_simulator), after the env's reset"
            )
        return self.env.net

    def _replica_of(self, net: Network) -> Network:
        """A network with the same static world as ``net`` (config and seed), for replays."""
        if (
            self._replica is None
            or self._replica.seed != net.seed
            or (self._replica.config is not net.config)
        ):
            self._replica = Network(net.config, seed=net.seed)
            self._sweeper = None
        return self._replica


class SimOracleHindsightAgent(SimOracleAgent):
    """The clairvoyant simulator oracle: optimises on the draw it is scored on (an upper bound)."""

    name = "sim-oracle-hindsight"
    role = "bound"

    def __init__(self, config: SimOracleConfig | None = None, **settings: Any) -> None:
        super().__init__(config, hindsight=True, **settings)
