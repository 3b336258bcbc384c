"""The agent interface: what every slicing controller implements, and what it may know.

A controller is a class with ``act(obs, info) -> shares`` (:class:`Policy`); everything else is
optional, and :class:`Agent` gives the optional hooks their defaults:

>>> class Equal:
...     def act(self, obs, info):
...         active = info["active_next"]
...         return active / np.maximum(active.sum(axis=1, keepdims=True), 1)
>>> trajectory = agents.run(env, Equal())

``info`` of ``act`` is the env's last step (or reset) info; what it says of the coming period is
in the ``*_next`` keys (``active_next``, ``demand_next``, ``period_next``, ``phase_next``). The
runner is :func:`slicesim.rollout.run` (also ``agents.run``), which owns the protocol
(:class:`~slicesim.rollout.Policy` and the optional hooks); to evaluate an agent with
stable-baselines3's ``evaluate_policy`` wrap it in :class:`agents.adapters.SB3Policy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from slicesim.rollout import Learner, Policy, SimulatorUser, SlicingSpec

if TYPE_CHECKING:
    from slicesim.envs import SlicingEnv

__all__ = ["Agent", "Learner", "Policy", "SimulatorUser", "SlicingSpec"]


class Agent:
    """Base class with every hook the platform may call; subclasses implement :meth:`act`.

    Lifecycle: :meth:`reset` before every episode (it keeps what the agent has learned, so a
    trained agent run again goes on from where it was); :meth:`act` once a period;
    :meth:`observe` after each period (online learners); :meth:`forget` for a fresh start.
    A user's class may implement any subset of these hooks without deriving from this class
    (:class:`~slicesim.rollout.Policy`, :class:`~slicesim.rollout.Learner` and
    :class:`~slicesim.rollout.SimulatorUser` are the protocols); the class attributes below
    have these defaults then.

    Class attributes:
        name: the agent's label in trajectories and reports.
        role: what the benchmark reads it as: ``"floor"`` (equal shares: every controller is
            read against it), ``"yardstick"`` (the achievable bound a gap is measured to),
            ``"bound"`` (a clairvoyant upper bound), ``"baseline"`` (a fixed rule that does not
            learn) or ``"controller"``.
        transfer: how a trained agent deploys on another network (:meth:`save`, then
            :meth:`load`): ``()`` not at all, ``("frozen",)``, or ``("frozen", "online")`` if
            ``load(path, learn=True)`` keeps learning.
        paper_p_r1: the paper's P(r = 1) per slice set for this method, if it reports one.
    """

    name: ClassVar[str] = "agent"
    role: ClassVar[str] = "controller"
    transfer: ClassVar[tuple[str, ...]] = ()
    paper_p_r1: ClassVar[dict[str, float]] = {}
    _spec: SlicingSpec | None = None

    @classmethod
    def default_config(cls) -> Any:
        """The agent's settings with their defaults: a validated frozen dataclass
        (:mod:`slicesim.typed_config`) that its constructor takes as ``config=``, or None if it
        has none. ``slicesim bench`` and ``sweep`` set its fields with ``--set
        agent.<name>.<field>=...``, checked before any run."""
        return None

    @property
    def spec(self) -> SlicingSpec:
        """The environment's spec, set by :meth:`reset`."""
        if self._spec is None:
            raise RuntimeError(
                f"{type(self).__name__} has not been reset: call reset(spec, seed) first "
                "(agents.run does)"
            )
        return self._spec

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        """Prepare for an episode on an environment described by ``spec``; keep what was learned."""
        self._spec = spec
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """PRB shares of shape (n_cells, n_slices) for the coming period."""
        raise NotImplementedError

    def observe(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        """Learn from one transition (online learners); no-op by default."""

    def forget(self) -> None:
        """Drop everything learned: the next :meth:`reset` starts from scratch (no-op here)."""

    def bind_simulator(self, env: SlicingEnv) -> None:
        """Yardsticks only (:class:`~slicesim.rollout.SimulatorUser`): the env whose simulator
        they may replay, handed over by the runner before the first period. Controllers see the
        O&M KPIs in ``info`` and nothing else, so the default does nothing."""

    def stats(self) -> dict[str, Any]:
        """Plain-data facts about the agent's learning for reports (e.g. gradient steps)."""
        return {}

    def save_artifacts(self, folder: Path) -> None:
        """Write files worth keeping with a run's results into ``folder`` (the benchmark calls
        it after the run; nothing by default)."""

    def save(self, path: str | Path) -> None:
        """Persist what the agent has learned into folder ``path`` (nothing by default)."""

    @classmethod
    def load(cls, path: str | Path, learn: bool = False, **kwargs: Any) -> Agent:
        """A ready agent restored from what :meth:`save` wrote (default: a fresh one).

        Args:
            path: the folder :meth:`save` wrote.
            learn: keep learning after loading; only for classes whose :attr:`transfer`
                includes ``"online"``.
        """
        if learn and "online" not in cls.transfer:
            raise ValueError(
                f"{cls.__name__} cannot keep learning after load (transfer = {cls.transfer})"
            )
        return cls(**kwargs)
