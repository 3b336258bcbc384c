"""IDLA's per-slice QoS estimator f_theta(x, z) -> r (paper Section IV-A and V-B)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

__all__ = ["FORMAT_VERSION", "EstimatorReport", "QosEstimator", "TrainConfig", "fit"]

FORMAT_VERSION = 1
"""Version of the saved estimator file; :meth:`QosEstimator.load` refuses others."""


class QosEstimator(nn.Module):
    """MLP 13 -> 36 -> 24 -> 16 -> 16 -> 1 with a sigmoid output in [0, 1] (paper Section V-B).

    Input rows: ``[x, users_1..H, cqi_1..H, thr*, d*]`` (see :mod:`agents.idla.dataset`).
    """

    def __init__(self, n_inputs: int = 13, hidden: tuple[int, ...] = (36, 24, 16, 16)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.n_inputs, self.hidden = n_inputs, tuple(hidden)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """r estimates, shape (N,), for input rows of shape (N, n_inputs)."""
        return self.net(rows).squeeze(-1)

    def save(self, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        """Save weights, architecture and ``meta`` (plain data) with a format version."""
        from slicesim.io import atomic_write

        payload = {
            "format_version": FORMAT_VERSION,
            "n_inputs": self.n_inputs,
            "hidden": list(self.hidden),
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
        if version != FORMAT_VERSION:
            raise ValueError(
                f"estimator file {str(path)!r} has format_version {version!r}; "
                f"this slicesim reads version {FORMAT_VERSION}"
            )
        model = cls(int(payload["n_inputs"]), tuple(int(h) for h in payload["hidden"]))
        model.load_state_dict(payload["state_dict"])
        return model.eval(), dict(payload["meta"])


@dataclass(frozen=True)
class TrainConfig:
    """Training of the estimator: Adam on MAE, 75/25 split, 200 epochs (paper Section V-B).

    The first ``mse_warmup`` fraction of the epochs minimises the squared error instead: with
    most targets at exactly r = 1, plain MAE drives the sigmoid output into saturation at the
    MAE-optimal constant (the median, 1) and the gradients of the other samples vanish.
    """

    epochs: int = 200
    mse_warmup: float = 0.5
    batch_size: int = 2048  # large batches: ~10x faster per epoch on 2 CPU cores
    lr: float = 2e-3
    test_fraction: float = 0.25
    seed: int = 0


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


def fit(
    inputs: np.ndarray,
    targets: np.ndarray,
    config: TrainConfig = TrainConfig(),
    model: QosEstimator | None = None,
    progress: bool = False,
) -> tuple[QosEstimator, EstimatorReport]:
    """Train an estimator on ``inputs`` (n, 13) -> ``targets`` (n,) and report its test MAE."""
    if len(inputs) < 8:
        raise ValueError(f"{len(inputs)} samples are too few to train the estimator (need >= 8)")
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    x = torch.as_tensor(inputs, dtype=torch.float32)
    y = torch.as_tensor(targets, dtype=torch.float32)
    order = torch.randperm(len(x), generator=gen)
    n_test = max(1, round(config.test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    model = model or QosEstimator(n_inputs=x.shape[1])
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    warmup = int(config.mse_warmup * config.epochs)
    model.train()
    for epoch in tqdm(range(config.epochs), desc="train estimator", unit="epoch",
                      disable=not progress):  # fmt: skip
        loss_fn = nn.MSELoss() if epoch < warmup else nn.L1Loss()
        perm = train[torch.randperm(len(train), generator=gen)]
        for batch in perm.split(config.batch_size):
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        errors = (model(x[test]) - y[test]).abs().numpy()
        train_mae = float((model(x[train]) - y[train]).abs().mean())
    constant = float((y[test] - y[train].median()).abs().mean())
    report = EstimatorReport(
        test_mae=float(errors.mean()),
        constant_mae=constant,
        train_mae=train_mae,
        n_train=len(train),
        n_test=n_test,
        errors=errors,
    )
    return model, report
