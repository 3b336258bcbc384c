"""The settings of ``idla`` and ``idla-paper``: one validated config, its parts and the default
estimator (``--set agent.idla.<field>=...``; what each part does: :mod:`agents.idla.agent`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.idla.ensemble import EnsembleConfig
from agents.idla.estimator import TrainConfig
from agents.idla.solver import LagrangianSolver
from slicesim.typed_config import ConfigError, Validated, choice, num

__all__ = ["BASELINES", "ESTIMATOR", "LOAD_INPUTS", "ExploreConfig", "IDLAConfig", "OnlineConfig"]


BASELINES = ("none", "hold", "joined", "equal")
"""What ``idla``'s doubt is measured from (:attr:`OnlineConfig.baseline`)."""
LOAD_INPUTS = ("forecast", "last")
"""What ``idla``'s load input is (:attr:`IDLAConfig.load_input`)."""


@dataclass(frozen=True)
class OnlineConfig(Validated):
    """Continued learning and guards of ``idla`` (:mod:`agents.idla.agent`, items 2-4).

    Attributes:
        refresh_every: periods between estimator refreshes (0: none on a schedule; the end of
            a safe start still refreshes).
        refresh_epochs: epochs of one refresh (warm start).
        recent_periods: a refresh trains on the samples of these last periods and as many
            samples drawn from the older ones.
        safe_hours: after a slice-set change, hours of network time of equal shares before the
            estimator (refreshed with them) decides again; in periods, rounded, and at most half
            of what is left of the phase the change starts
            (:meth:`agents.idla.agent.IDLAAgent.safe_periods`).
        trust: largest distance of a share from the equal split (None: no bound); at least the
            solver's grid step 0.05, so that the region always holds a grid point. It bounds
            where idla may go, not what it learns: on ``paper`` about a third of the converged
            sim-oracle's shares lie further than 0.2 from equal before slice 3 joins, 5 % after
            it (``benchmarks/idla_diagnose.py``); with the default estimator, 0.3 or no bound
            closed no more of the gap (``benchmarks/RESULTS.md``, *How idla's estimator was
            chosen*).
        baseline: what an ensemble's doubt is measured from. ``joined`` (default): after a
            slice-set change that started a safe hold, the doubt about a slice that joined is
            about the improvement over the hold's equal share - the std of the members'
            differences to their values there (:class:`agents.idla.ensemble.Baseline`) -
            while the slices that were there keep the absolute bound; ``hold``: the same for
            every slice after the hold; ``none``: the absolute utility always (the decision
            maximises mean - pessimism x std of each share's value); ``equal``: the
            improvement over equal shares always. A joined slice's data all lie at the hold's
            equal share and near the shares played after it: the absolute bound doubted that
            share itself. On ``paper`` ``joined`` closes 0.70 instead of 0.64 of the gap after
            slice 3 joins and ties ``none`` on the held-out cases; ``hold`` closes 0.73 but
            costs 0.05 on the held-out case at 1.2x load (``benchmarks/RESULTS.md``, *How
            idla's estimator was chosen*).
    """

    refresh_every: int = num(0, 10**9, 96)
    refresh_epochs: int = num(0, 10**6, 15)
    recent_periods: int = num(0, 10**9, 288)
    safe_hours: float = num(0, 10**6, 6.0, "h")
    trust: float | None = num(0.05, 1, 0.2)
    baseline: str = choice("joined", *BASELINES)


@dataclass(frozen=True)
class ExploreConfig(Validated):
    """Exploration that buys the slope the estimator lacks, at a bounded cost.

    Each period, each cell moves ``step`` of its share from one active slice to another with
    probability ``rate`` (drawn from the agent's generator): a small perturbation around the
    decision, spread over the whole phase, whose cost is in the utility the agent is scored on.

    Attributes:
        rate: probability that a cell is perturbed in a period.
        step: the share moved.
        directed: with an ensemble, move along the pair of slices whose move its members'
            mean + ``optimism`` x std values most, and only where that is a gain (an
            upper-confidence step against the decision's lower bound); else a random pair.
        optimism: the weight of the members' spread in a directed move.
    """

    rate: float = num(0, 1, 0.1)
    step: float = num(0.01, 0.5, 0.05)
    directed: bool = True
    optimism: float = num(0, 10, 1.0)


ESTIMATOR = EnsembleConfig(members=5, pessimism=1.0, head="monotone", load=True)
"""``idla``'s estimator: 5 members with the monotone headroom head and the load input, deciding
on mean - 1 std (``benchmarks/RESULTS.md``, *How idla's estimator was
chosen*)."""


@dataclass(frozen=True)
class IDLAConfig(Validated):
    """The settings of an IDLA agent (``--set agent.idla.<field>=...``; nested with dots).

    Attributes:
        collect_periods: periods of exploration and sample collection before the first training
            (None: until the timeline's second phase starts, i.e. H0).
        use_augmentation: apply the two augmentation rules of Section V-B (the paper's; off in
            ``idla``: its synthetic samples steepened the estimated curve of a new slice below
            the shares played, and every held-out case gained without them).
        train: estimator training.
        online: continued learning and guards; None for one offline training and no guards.
        solver: None for :func:`agents.idla.solve` (exact, fast), or the paper's primal-dual
            :class:`LagrangianSolver`.
        ensemble: the estimator's shape (:class:`agents.idla.ensemble.EnsembleConfig`): its
            members, pessimism, head and inputs; the default is ``idla``'s (:data:`ESTIMATOR`),
            ``EnsembleConfig()`` the paper's single MLP.
        explore: perturbations of the decisions (None: none).
        load_input: what an estimator with a load input (``ensemble.load``) is given for the
            coming period: ``forecast`` (default), each slice's daily profile at the recent
            level split over the cells by their shares (:mod:`agents.idla.forecast`), or
            ``last``, the last period's offered traffic.
    """

    collect_periods: int | None = num(1, 10**9, None)
    use_augmentation: bool = False
    train: TrainConfig = field(default_factory=lambda: TrainConfig(target="utility"))
    online: OnlineConfig | None = field(default_factory=OnlineConfig)
    solver: LagrangianSolver | None = None
    ensemble: EnsembleConfig = field(default_factory=lambda: ESTIMATOR)
    explore: ExploreConfig | None = None
    load_input: str = choice("forecast", *LOAD_INPUTS)

    def _check(self) -> None:
        if not self.ensemble.plain and self.train.target != "utility":
            raise ConfigError(
                f"ensemble = {self.ensemble}: an ensemble or a load input learns the expected "
                f"utility; train.target = {self.train.target!r} must be 'utility'"
            )
