"""IDLA's per-slice QoS estimator f_theta(x, z) -> r (paper Section IV-A and V-B).

Two targets: ``r`` (the paper's: the QoS satisfaction, trained on MAE) and ``utility`` (ours:
the expected utility E[log(1 + r)] / log 2, trained on the squared error). The decision
maximises the expected utility of the coming period; r of one period is noisy (a 20-s window's
users are a Poisson draw), and the median r that MAE learns, or log(1 + E[r]), overstates it
where r is uncertain. A ``utility`` estimator still outputs an r in [0, 1] - the certainty
equivalent ``2**g - 1``, whose utility is the expected one - so every solver and oracle takes
either estimator.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from slicesim.typed_config import Validated, choice, num

__all__ = [
    "CHUNK_ROWS",
    "FORMAT_VERSION",
    "TARGETS",
    "EstimatorReport",
    "QosEstimator",
    "TrainConfig",
    "evaluate",
    "fit",
    "frozen_model",
    "training_data",
]

FORMAT_VERSION = 2
"""Version of the saved estimator file (2 adds ``target``); :meth:`QosEstimator.load` reads 1-2."""
TARGETS = ("r", "utility")
_LOG2 = math.log(2.0)
# Model rows per call on the grid path: 16 k rows keep the hidden activations in cache; 64 k rows
# were 10 % slower on this machine at 100 000 cells (benchmarks/idla_speed.py).
CHUNK_ROWS = 16384


def frozen_model(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with no parameter requiring grad; the original is untouched.

    Eval mode makes dropout/batch-norm estimators deterministic while they are optimised over.
    """
    return copy.deepcopy(model).requires_grad_(False).eval()


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"target = {target!r} is unknown: allowed {list(TARGETS)}")


class QosEstimator(nn.Module):
    """MLP 13 -> 36 -> 24 -> 16 -> 16 -> 1 with a sigmoid output in [0, 1] (paper Section V-B).

    Input rows: ``[x, users_1..H, cqi_1..H, thr*, d*]`` (see :mod:`agents.idla.dataset`).
    With ``target="utility"`` the sigmoid output g estimates E[log(1 + r)] / log 2 and
    :meth:`forward` returns the certainty-equivalent r = 2**g - 1 (module docstring).
    """

    def __init__(
        self, n_inputs: int = 13, hidden: tuple[int, ...] = (36, 24, 16, 16), target: str = "r"
    ) -> None:
        super().__init__()
        _check_target(target)
        self.target = target
        layers: list[nn.Module] = []
        width = n_inputs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.n_inputs, self.hidden = n_inputs, tuple(hidden)

    def raw(self, rows: torch.Tensor) -> torch.Tensor:
        """The network's sigmoid output, shape (N,): r, or E[log(1 + r)] / log 2."""
        return self.net(rows).squeeze(-1)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """r estimates, shape (N,), for input rows of shape (N, n_inputs)."""
        out = self.raw(rows)
        return torch.expm1(out * _LOG2) if self.target == "utility" else out

    def grid_log_values(
        self, z: torch.Tensor, x: torch.Tensor, chunk_rows: int = CHUNK_ROWS
    ) -> torch.Tensor:
        """``log(1 + f(x[a, v], z[a]))`` for ``z (A, n_inputs - 1)``, ``x (A, V)``: ``(A, V)``.

        The first layer is linear in ``[x, z]``: its z part is computed once per row and the
        x part added per share, which saves a quarter of the paper MLP's multiply-adds.
        """
        layers = list(self.net)
        first = layers[0]
        assert isinstance(first, nn.Linear)
        w_x, w_z = first.weight[:, 0], first.weight[:, 1:]
        n_rows, n_values = x.shape
        out = torch.empty((n_rows, n_values))
        per_call = max(1, chunk_rows // max(n_values, 1))
        for a in range(0, n_rows, per_call):
            hz = torch.addmm(first.bias, z[a : a + per_call], w_z.T)  # (p, hidden)
            h = torch.addcmul(hz.unsqueeze(1), x[a : a + per_call].unsqueeze(-1), w_x).flatten(0, 1)
            for layer in layers[1:]:  # plain calls: module hooks cost more than the maths here
                if isinstance(layer, nn.Linear):
                    h = torch.addmm(layer.bias, h, layer.weight.T)
                elif isinstance(layer, nn.ReLU):
                    h = h.relu_()
                else:
                    h = layer(h)
            h = h.reshape(-1, n_values)
            out[a : a + per_call] = h * _LOG2 if self.target == "utility" else h.log1p_()
        return out

    def save(self, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        """Save weights, architecture and ``meta`` (plain data) with a format version."""
        from slicesim.io import atomic_write

        payload = {
            "format_version": FORMAT_VERSION,
            "n_inputs": self.n_inputs,
            "hidden": list(self.hidden),
            "target": self.target,
            "state_dict": self.state_dict(),
            "meta": meta or {},
        }
        with atomic_write(path, "wb") as fh:
            torch.save(payload, fh)

    @classmethod
    def load(cls, path: str | Path) -> tuple[QosEstimator, dict[str, Any]]:
        """Load a saved estimator (``torch.load(weights_only=True)``) and its meta data.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: the file is not an estimator of a supported format version.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"estimator model file {str(path)!r} does not exist")
        payload = torch.load(path, weights_only=True)
        version = payload.get("format_version") if isinstance(payload, dict) else None
        if version not in (1, FORMAT_VERSION):
            raise ValueError(
                f"estimator file {str(path)!r} has format_version {version!r}; "
                f"this slicesim reads versions 1 to {FORMAT_VERSION}"
            )
        hidden = tuple(int(h) for h in payload["hidden"])
        model = cls(int(payload["n_inputs"]), hidden, str(payload.get("target", "r")))
        model.load_state_dict(payload["state_dict"])
        return model.eval(), dict(payload["meta"])


@dataclass(frozen=True)
class TrainConfig(Validated):
    """Training of the estimator: Adam, 75/25 split, 200 epochs (paper Section V-B).

    ``target="r"`` (the paper's) minimises the MAE, after a ``mse_warmup`` fraction of the epochs
    on the squared error: with most targets at exactly r = 1, plain MAE drives the sigmoid output
    into saturation at the MAE-optimal constant (the median, 1) and the gradients of the other
    samples vanish. ``target="utility"`` minimises the squared error of E[log(1 + r)] / log 2
    throughout (the mean, not the median: what the decision needs).
    """

    epochs: int = num(1, 10**6, 200)
    target: str = choice("r", *TARGETS)
    mse_warmup: float = num(0, 1, 0.5)
    batch_size: int = num(1, 10**7, 2048)  # large batches: far fewer optimiser steps per epoch
    lr: float = num(0, 1, 2e-3, lo_open=True)
    test_fraction: float = num(0.01, 0.9, 0.25)
    seed: int = num(0, 2**32 - 1, 0)


@dataclass
class EstimatorReport:
    """Outcome of :func:`fit`: test MAE, the constant predictor's MAE, per-sample errors."""

    test_mae: float
    constant_mae: float
    train_mae: float
    n_train: int
    n_test: int
    errors: np.ndarray  # absolute errors on the test split

    def as_dict(self) -> dict[str, float | int]:
        d = asdict(self)
        d.pop("errors")
        return d


def training_data(
    inputs: np.ndarray, targets: np.ndarray, config: TrainConfig
) -> tuple[torch.Generator, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """What every estimator's training starts from: its generator (seeded ``config.seed``), the
    inputs and the targets as tensors (E[log(1 + r)] / log 2 for ``target="utility"``) and the
    rows of the training and the held-out test set (``config.test_fraction``).

    Raises:
        ValueError: fewer than 8 samples.
    """
    if len(inputs) < 8:
        raise ValueError(f"{len(inputs)} samples are too few to train the estimator (need >= 8)")
    gen = torch.Generator().manual_seed(config.seed)
    x = torch.as_tensor(inputs, dtype=torch.float32)
    y = torch.as_tensor(targets, dtype=torch.float32)
    if config.target == "utility":
        y = torch.log1p(y) / _LOG2
    order = torch.randperm(len(x), generator=gen)
    n_test = max(1, round(config.test_fraction * len(x)))
    return gen, x, y, order[n_test:], order[:n_test]


def fit(
    inputs: np.ndarray,
    targets: np.ndarray,
    config: TrainConfig = TrainConfig(),
    model: QosEstimator | None = None,
    progress: bool = False,
) -> tuple[QosEstimator, EstimatorReport]:
    """Train an estimator on ``inputs`` (n, 1 + W) -> r ``targets`` (n,) and report its test MAE.

    A new model's input width is the inputs' (13 for the paper's H = 5).

    ``model`` continues training from its weights (its ``target`` must be ``config.target``).
    The MAE is in the units of the target (r, or E[log(1 + r)] / log 2).
    """
    if model is not None and model.target != config.target:
        raise ValueError(f"the model's target {model.target!r} is not {config.target!r}")
    gen, x, y, train, test = training_data(inputs, targets, config)
    torch.manual_seed(config.seed)
    model = model or QosEstimator(n_inputs=x.shape[1], target=config.target)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    warmup = config.epochs if config.target == "utility" else int(config.mse_warmup * config.epochs)
    model.train()
    for epoch in tqdm(
        range(config.epochs), desc="train estimator", unit="epoch", disable=not progress
    ):
        loss_fn = nn.MSELoss() if epoch < warmup else nn.L1Loss()
        perm = train[torch.randperm(len(train), generator=gen)]
        for batch in perm.split(config.batch_size):
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model.raw(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
    model.eval()
    return model, evaluate(model.raw, x, y, train, test)


def evaluate(
    raw: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    train: torch.Tensor,
    test: torch.Tensor,
) -> EstimatorReport:
    """The report of a trained estimator, ``raw`` mapping its rows to its training target, on the
    held-out rows ``test`` and the training rows ``train`` of ``(x, y)``."""
    with torch.no_grad():
        errors = (raw(x[test]) - y[test]).abs().numpy()
        train_mae = float((raw(x[train]) - y[train]).abs().mean())
    return EstimatorReport(
        test_mae=float(errors.mean()),
        constant_mae=float((y[test] - y[train].median()).abs().mean()),
        train_mae=train_mae,
        n_train=len(train),
        n_test=len(test),
        errors=errors,
    )
