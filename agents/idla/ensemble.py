"""IDLA's estimator that knows what it does not know: an ensemble, and physics built in.

Issue 28's diagnosis (``benchmarks/idla_diagnose.py``): one estimator learns on-policy, near the
shares the agent plays; it gets the slope of a new slice's utility in its share wrong, and the
search walks to where its errors are most optimistic (the optimiser's curse). Two remedies live
here, each a setting of :class:`EnsembleConfig`:

* **An ensemble** of M members, trained together as one batched network, each on its own
  bootstrap weights of the samples (Poisson(1) per sample and member) from its own
  initialisation. Where the data say little, the members disagree; the decision maximises
  ``mean - pessimism * std`` of their E[log(1 + r)] (a lower confidence bound) instead of one
  estimate.
* **The shape of the problem** (``head="monotone"``): r does not fall when a slice gets more
  PRBs, and saturates at 1. Each member maps the context z to a curve in the slice's headroom
  ``h = (x C - D) / thr*`` - C the cell's rate at the slice's recent CQI (TS 36.213 Table
  7.2.3-1 efficiencies, the carrier's PRBs and overhead), D the traffic the slice was offered in
  the last period, thr* its need. Under processor sharing a user's throughput while it has data
  is about ``x C - D``, so ``r ~ min(h, 1)`` whatever the slice type: what the estimator learns
  of slices {1, 2, 4} carries to a new slice through h. The curve
  ``sum_k pi_k(z) sigmoid(s_k(z) (asinh(h) - c_k(z)))`` (pi on the simplex, s > 0) is
  non-decreasing in the share and saturates at 1 by construction. The ``mlp`` head is the
  paper's MLP on ``[x, z]``.

``load=True`` gives the estimator D as an input (the ``monotone`` head needs it): the traffic
the slice is expected to be offered in the coming period, the agent's forecast from the O&M's
counters (``info["kpi"]["demand_mbps"]``, :mod:`agents.idla.forecast`), or the last period's
counter itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from agents.idla.estimator import (
    CHUNK_ROWS,
    EstimatorReport,
    QosEstimator,
    TrainConfig,
    evaluate,
    training_data,
)
from slicesim.sim.link import CQI_EFFICIENCY
from slicesim.typed_config import ConfigError, Validated, choice, num

__all__ = [
    "HEADS",
    "Baseline",
    "EnsembleConfig",
    "EnsembleEstimator",
    "Estimator",
    "Headroom",
    "Members",
    "fit_members",
    "load_estimator",
]

HEADS = ("mlp", "monotone")
KIND = "ensemble"
"""The ``kind`` of a saved :class:`EnsembleEstimator` (a :class:`QosEstimator` file has none)."""
_LOG2 = math.log(2.0)
_DEFAULT_CQI = 7.0  # a slice with no CQI reported in its history (no users): a mid-range channel


@dataclass(frozen=True)
class EnsembleConfig(Validated):
    """The estimator of ``idla`` (``--set agent.idla.ensemble.<field>=...``).

    Attributes:
        members: ensemble size M (1 with the ``mlp`` head and no ``load``: the paper's single
            MLP, :class:`QosEstimator`).
        pessimism: the decision maximises mean - pessimism * std over the members of
            E[log(1 + r)] (0: the mean).
        head: ``mlp`` (the paper's MLP on [x, z]) or ``monotone`` (a curve in the headroom).
        load: the slice's offered traffic as an input (``monotone`` needs it): the agent's
            forecast for the coming period or the last period's counter
            (:attr:`agents.idla.config.IDLAConfig.load_input`).
        components: sigmoids K of a ``monotone`` curve.
    """

    members: int = num(1, 64, 1)
    pessimism: float = num(0, 10, 0.0)
    head: str = choice("mlp", *HEADS)
    load: bool = False
    components: int = num(1, 32, 4)

    def _check(self) -> None:
        if self.head == "monotone" and not self.load:
            raise ConfigError("head = 'monotone' needs load = true (the headroom uses it)")

    @property
    def plain(self) -> bool:
        """The paper's single MLP (:class:`QosEstimator`), no ensemble."""
        return self.members == 1 and self.head == "mlp" and not self.load


@dataclass(frozen=True)
class Headroom:
    """Where the context holds what ``h = (x C - D) / thr*`` needs, and the carrier's rate.

    Context columns (:func:`agents.idla.dataset.context` with a load): users_1..H, cqi_1..H,
    load, thr*, d*.
    """

    history: int
    thr_max_mbps: float
    peak_mbps: float
    """The cell's rate at the highest CQI, all PRBs (Mbit/s); the load column is D / this."""

    def __call__(self, x: Tensor, z: Tensor) -> Tensor:
        """h for shares ``x (A, V)`` and contexts ``z (A, W)``: ``(A, V)``."""
        h = self.history
        cqi = z[:, h : 2 * h] * 15.0
        reported = (cqi > 0).sum(dim=1)
        mean_cqi = cqi.sum(dim=1) / reported.clamp(min=1)
        mean_cqi = torch.where(reported > 0, mean_cqi, torch.full_like(mean_cqi, _DEFAULT_CQI))
        rate = _efficiency(mean_cqi) / float(CQI_EFFICIENCY[-1]) * self.peak_mbps
        load = z[:, 2 * h] * self.peak_mbps
        need = (z[:, 2 * h + 1] * self.thr_max_mbps).clamp(min=1e-3)
        return (x * rate[:, None] - load[:, None]) / need[:, None]


def _efficiency(cqi: Tensor) -> Tensor:
    """Spectral efficiency at a mean CQI, linear between TS 36.213 Table 7.2.3-1's entries."""
    table = torch.as_tensor(CQI_EFFICIENCY, dtype=cqi.dtype)
    c = cqi.clamp(1.0, 15.0) - 1.0
    low = c.floor().long().clamp(max=13)
    frac = c - low
    return table[low] * (1 - frac) + table[low + 1] * frac


class Members(nn.Module):
    """M MLPs of one shape evaluated as one batched network (``(N, in)`` -> ``(M, N, out)``).

    Initialised as ``nn.Linear`` is (uniform in +-1/sqrt(fan_in)), each member its own draw.
    """

    def __init__(
        self, members: int, n_inputs: int, hidden: tuple[int, ...], n_outputs: int, seed: int
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        width = n_inputs
        for out in (*hidden, n_outputs):
            bound = 1.0 / math.sqrt(width)
            w = (torch.rand(members, width, out, generator=gen) * 2 - 1) * bound
            b = (torch.rand(members, 1, out, generator=gen) * 2 - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))
            width = out

    def forward(self, x: Tensor, first: Tensor | None = None) -> Tensor:
        """The members' outputs for inputs ``x (N, in)``; or, given ``first`` (the first
        layer's pre-activations ``(M, N, h)``), from there on."""
        h = first if first is not None else torch.matmul(x, self.weights[0]) + self.biases[0]
        for w, b in zip(list(self.weights)[1:], list(self.biases)[1:], strict=True):
            h = torch.baddbmm(b, h.relu(), w)
        return h


class EnsembleEstimator(nn.Module):
    """M estimators of E[log(1 + r)] / log 2 (module docstring); the decision objective is
    ``mean - pessimism * std`` over the members.

    :meth:`forward` returns the objective's certainty-equivalent r (``2**g - 1``), and
    :meth:`grid_log_values` the objective in log(1 + r) units, so every IDLA search takes it.
    """

    target = "utility"

    def __init__(
        self,
        n_inputs: int,
        config: EnsembleConfig,
        headroom: Headroom | None = None,
        hidden: tuple[int, ...] = (36, 24, 16, 16),
        seed: int = 0,
    ) -> None:
        super().__init__()
        if config.head == "monotone" and headroom is None:
            raise ValueError("a monotone head needs the headroom's columns (Headroom)")
        self.n_inputs, self.config, self.headroom, self.hidden = n_inputs, config, headroom, hidden
        if config.head == "mlp":
            self.net = Members(config.members, n_inputs, hidden, 1, seed)
        else:
            self.net = Members(config.members, n_inputs - 1, hidden, 3 * config.components, seed)

    # ------------------------------------------------------------------ members

    def members(self, x: Tensor, z: Tensor) -> Tensor:
        """Each member's E[log(1 + r)] / log 2 at shares ``x (A, V)``, contexts ``z (A, W)``:
        ``(M, A, V)``."""
        if self.config.head == "monotone":
            assert self.headroom is not None
            return self._curve(self.net(z), self.headroom(x, z))
        w0, b0 = self.net.weights[0], self.net.biases[0]
        hz = torch.matmul(z, w0[:, 1:]) + b0  # (M, A, h): the z part once per row
        first = hz.unsqueeze(2) + x[None, :, :, None] * w0[:, :1].unsqueeze(1)  # (M, A, V, h)
        out = self.net(z, first.flatten(1, 2))
        return torch.sigmoid(out).reshape(out.shape[0], *x.shape)

    def _curve(self, params: Tensor, h: Tensor) -> Tensor:
        """``sum_k pi_k sigmoid(s_k (asinh(h) - c_k))``: params ``(M, A, 3K)``, h ``(A, V)``."""
        a, b, c = params.chunk(3, dim=-1)
        # softmax and softplus by hand: torch's kernels are slow on a last axis of K = 4
        weight = (a - a.max(dim=-1, keepdim=True).values).exp()
        pi = weight / weight.sum(dim=-1, keepdim=True)
        slope = b.clamp(max=8.0).exp()
        phi = torch.asinh(h)[None, :, :, None]
        parts = torch.sigmoid(slope.unsqueeze(2) * (phi - c.unsqueeze(2)))  # (M, A, V, K)
        return (parts * pi.unsqueeze(2)).sum(dim=-1)

    def member_rows(self, rows: Tensor) -> Tensor:
        """Each member's output for input rows ``[x, z]`` ``(N, n_inputs)``: ``(M, N)``."""
        return self.members(rows[:, :1], rows[:, 1:])[..., 0]

    # ------------------------------------------------------------------ the estimator

    def stats(self, g: Tensor, base: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The objective ``mean - pessimism * std`` (at least 0), the mean and the std of the
        members' values ``g`` (axis 0); the std is 0 for one member.

        With ``base`` (the members' values at baseline shares, broadcast against ``g``; NaN in
        rows without one) the std is that of the members' differences ``g - base``: doubt about
        the improvement over the baseline, none at the baseline itself (:class:`Baseline`)."""
        mean = g.mean(dim=0)
        if g.shape[0] == 1:
            return mean, mean, torch.zeros_like(mean)
        std = g.std(dim=0)
        if base is not None:
            relative = (g - base).std(dim=0)
            std = torch.where(torch.isnan(relative), std, relative)
        if self.config.pessimism == 0:
            return mean, mean, std
        return (mean - self.config.pessimism * std).clamp(min=0.0), mean, std

    def raw(self, rows: Tensor) -> Tensor:
        """The members' mean E[log(1 + r)] / log 2 of input rows (what training reports)."""
        return self.member_rows(rows).mean(dim=0)

    def forward(self, rows: Tensor) -> Tensor:
        """The objective's certainty-equivalent r of input rows ``(N, n_inputs)``: ``(N,)``."""
        return torch.expm1(self.stats(self.member_rows(rows))[0] * _LOG2)

    def grid_log_values(self, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS) -> Tensor:
        """The objective in log(1 + r) units for contexts ``z (A, W)``, shares ``x (A, V)``."""
        return self.grid_stats(z, x, chunk_rows)[0]

    def grid_stats(
        self, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS, base: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The objective, the members' mean and their std, in log(1 + r) units: ``(A, V)``;
        ``base`` ``(A,)``: baseline shares of the rows (:meth:`stats`)."""
        n_rows, n_values = x.shape
        if base is not None and tuple(base.shape) != (n_rows,):
            raise ValueError(f"base must have shape ({n_rows},), got {tuple(base.shape)}")
        out = torch.empty((3, n_rows, n_values))
        width = n_values + (base is not None)
        per_call = max(1, chunk_rows // max(width * self.config.members, 1))
        for a in range(0, n_rows, per_call):
            rows = slice(a, a + per_call)
            if base is None:
                out[:, rows] = torch.stack(self.stats(self.members(x[rows], z[rows])))
                continue
            given = base[rows, None]
            g = self.members(torch.cat([x[rows], given.nan_to_num(0.0)], dim=1), z[rows])
            g0 = torch.where(torch.isnan(given), torch.nan, g[..., -1:])
            out[:, rows] = torch.stack(self.stats(g[..., :-1], g0))
        return out[0] * _LOG2, out[1] * _LOG2, out[2] * _LOG2

    # ------------------------------------------------------------------ files

    def save(self, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        """Save weights, settings and ``meta`` (plain data); :func:`load_estimator` reads it."""
        from slicesim.io import atomic_write

        payload = {
            "kind": KIND,
            "n_inputs": self.n_inputs,
            "hidden": list(self.hidden),
            "config": asdict(self.config),
            "headroom": None if self.headroom is None else asdict(self.headroom),
            "state_dict": self.state_dict(),
            "meta": meta or {},
        }
        with atomic_write(path, "wb") as fh:
            torch.save(payload, fh)


class Baseline(nn.Module):
    """An ensemble deciding on its doubt about the improvement over baseline shares.

    The objective is ``mean - pessimism * std`` as the ensemble's, but the std is that of the
    members' differences to their values at the baseline shares of the same rows: no doubt at
    the baseline itself, and doubt that grows with what the members disagree on about a move
    away from it (a safe improvement over a baseline policy, as in SPIBB, Laroche et al. 2019).
    ``idla`` decides on it after a slice-set change, with the equal shares it held while it
    learnt the new set as the baseline (:class:`agents.idla.config.OnlineConfig`).

    Args:
        model: the ensemble.
        shares: the baseline share of each row the searches pass, ``(A,)``: the active (cell,
            slice) pairs in row-major order (:func:`agents.idla.values.value_table`); NaN where
            a row has none (its doubt is about its absolute value).
    """

    def __init__(self, model: EnsembleEstimator, shares: Tensor) -> None:
        super().__init__()
        self.model, self.shares = model, shares.float()
        self.eval()

    def grid_stats(
        self, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS
    ) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`EnsembleEstimator.grid_stats` against the baseline shares."""
        return self.model.grid_stats(z, x, chunk_rows, base=self.shares)

    def grid_log_values(self, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS) -> Tensor:
        """The objective in log(1 + r) units (what every IDLA search reads)."""
        return self.grid_stats(z, x, chunk_rows)[0]


Estimator = QosEstimator | EnsembleEstimator
"""An estimator IDLA decides with: the paper's single MLP or an ensemble."""


def load_estimator(path: str | Path) -> tuple[Estimator, dict[str, Any]]:
    """An estimator saved by :meth:`EnsembleEstimator.save` or :meth:`QosEstimator.save`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a supported estimator.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"estimator model file {str(path)!r} does not exist")
    payload = torch.load(path, weights_only=True)
    if not (isinstance(payload, dict) and payload.get("kind") == KIND):
        return QosEstimator.load(path)
    headroom = payload["headroom"]
    model = EnsembleEstimator(
        int(payload["n_inputs"]),
        EnsembleConfig(**payload["config"]),
        None if headroom is None else Headroom(**headroom),
        tuple(int(h) for h in payload["hidden"]),
    )
    model.load_state_dict(payload["state_dict"])
    return model.eval(), dict(payload["meta"])


def fit_members(
    inputs: np.ndarray,
    targets: np.ndarray,
    config: TrainConfig,
    estimator: EnsembleConfig,
    headroom: Headroom | None = None,
    model: EnsembleEstimator | None = None,
) -> tuple[EnsembleEstimator, EstimatorReport]:
    """Train an ensemble on ``inputs`` (n, 1 + W) -> r ``targets`` (n,): squared error of
    E[log(1 + r)] / log 2, each member on its own bootstrap weights (module docstring).

    ``model`` continues training from its weights. The report's errors are the members' mean's.
    """
    if config.target != "utility":
        raise ValueError(f"an ensemble learns the expected utility, not target {config.target!r}")
    gen, x, y, train, test = training_data(inputs, targets, config)
    if model is None:
        model = EnsembleEstimator(x.shape[1], estimator, headroom, seed=config.seed)
    else:  # the settings may set another pessimism; the shape is the model's
        model.config = replace(model.config, pessimism=estimator.pessimism)
    weights = torch.poisson(torch.ones(estimator.members, len(x)), generator=gen)
    if estimator.members == 1:
        weights = torch.ones_like(weights)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    for _ in range(config.epochs):
        perm = train[torch.randperm(len(train), generator=gen)]
        for batch in perm.split(config.batch_size):
            optimiser.zero_grad(set_to_none=True)
            w = weights[:, batch]
            err = (model.member_rows(x[batch]) - y[batch]) ** 2
            loss = (err * w).sum() / w.sum().clamp(min=1.0)
            loss.backward()
            optimiser.step()
    model.eval()
    return model, evaluate(model.raw, x, y, train, test)
