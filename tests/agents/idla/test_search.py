"""IDLA's fast solver: quality against exhaustive search, speed-independent invariants, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from agents.idla.estimator import QosEstimator
from agents.idla.oracle import grid_search
from agents.idla.search import solve
from agents.idla.values import log_values
from tests.conftest import compositions, random_mlp


def utility(model: nn.Module, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_s log(1 + f(x_s, z_s)) of shares ``x (K, S)`` in one cell with context ``z (S, 12)``."""
    rows = torch.cat([x.reshape(-1, 1).float(), z.repeat(x.shape[0], 1)], 1)
    with torch.no_grad():
        return torch.log1p(model(rows).reshape(x.shape)).double().sum(-1)


def exhaustive(model: nn.Module, z: torch.Tensor, points: torch.Tensor) -> float:
    """Best utility over ``points`` (K, S) on the 0.01 grid: every point scored by lookup in the
    model's value at each of the 101 shares of each slice."""
    shares = torch.arange(101, dtype=torch.float32) / 100
    table = torch.stack([utility(model, z[s : s + 1], shares[:, None]) for s in range(z.shape[0])])
    units = (points * 100).round().long()
    return float(sum(table[s][units[:, s]] for s in range(z.shape[0])).max())


@pytest.mark.parametrize("full", [False, True])
def test_within_1e3_of_exhaustive_search_on_the_fine_grid(full):
    points = compositions(3, 100).double() / 100  # every 0.01 point with sum <= 1
    if full:
        points = points[((points.sum(1) - 1).abs() < 1e-9) & (points >= 0.01 - 1e-9).all(1)]
    gaps, below_oracle = [], []
    for seed in range(30):
        model = random_mlp(seed)
        z = torch.randn(8, 3, 12, generator=torch.Generator().manual_seed(seed))
        active = torch.ones(8, 3, dtype=torch.bool)
        x = solve(model, z, active, full=full)
        oracle = grid_search(model, z, active, full=full)  # the 0.05 grid, exhaustively
        assert (x >= 0).all() and (x.sum(-1) <= 1 + 1e-6).all()
        if full:
            torch.testing.assert_close(x.sum(-1), torch.ones(8))
        for b in range(8):
            mine = utility(model, z[b], x[b : b + 1])[0]
            gaps.append(exhaustive(model, z[b], points) - float(mine))
            below_oracle.append(float(utility(model, z[b], oracle[b : b + 1])[0] - mine))
    assert max(gaps) <= 1e-3, max(gaps)
    assert max(below_oracle) <= 1e-3, max(below_oracle)


def test_fast_path_of_the_paper_mlp_equals_the_plain_call():
    model = QosEstimator().eval()
    z, x = torch.randn(30, 12), torch.rand(30, 7)
    plain = nn.Sequential(*model.net)  # no grid_log_values: rows through forward()
    torch.testing.assert_close(log_values(model, z, x), log_values(plain, z, x))


def test_shapes_bounds_ties_and_inactive_cells():
    model = random_mlp(3)
    z = torch.randn(5, 4, 12)
    active = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 0], [0, 1, 0, 0]])
    x = solve(model, z, active.bool())
    assert x.dtype == torch.float32 and x.shape == (5, 4)
    assert (x[~active.bool()] == 0).all() and (x[2] == 0).all()  # an all-inactive cell: zeros
    assert (x[active.bool()] >= 0.01 - 1e-6).all()  # the whole cell, no active slice starved
    np.testing.assert_allclose(x.sum(-1).numpy(), [1, 1, 0, 1, 1], atol=1e-6)
    upper = torch.full((5, 4), 0.4)
    assert (solve(model, z, active.bool(), upper=upper, full=False) <= 0.4 + 1e-6).all()

    class Saturated(nn.Module):
        def forward(self, rows: torch.Tensor) -> torch.Tensor:
            return torch.ones(rows.shape[0], 1)

    x0 = torch.tensor([[0.4, 0.3, 0.2, 0.1]])
    tied = solve(Saturated(), torch.zeros(1, 4, 12), torch.ones(1, 4, dtype=torch.bool), x0)
    torch.testing.assert_close(tied, x0)  # every point ties: stay at x0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((torch.randn(2, 3, 11), torch.ones(2, 3, dtype=torch.bool)), r"z must have shape \(B, S, 12\), got \(2, 3, 11\)"),
        ((torch.randn(2, 3, 12), torch.ones(3, 2, dtype=torch.bool)), r"active must have shape \(2, 3\), got \(3, 2\)"),
        ((torch.randn(2, 3, 12).index_put_((torch.tensor([1]), torch.tensor([2]), torch.tensor([0])), torch.tensor(float("nan"))), torch.ones(2, 3, dtype=torch.bool)), r"z\[1, 2\] \(cell 1, slice column 2\) is not finite"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(args, message):
    with pytest.raises(ValueError, match=message):
        solve(random_mlp(0), *args)
    with pytest.raises(ValueError, match=r"x0\[0, 0\] = nan: allowed \[0, 1\]"):
        solve(random_mlp(0), torch.randn(2, 3, 12), torch.ones(2, 3, dtype=torch.bool),
              torch.full((2, 3), float("nan")))  # fmt: skip
    with pytest.raises(ValueError, match="must divide step"):
        solve(random_mlp(0), torch.randn(2, 3, 12), torch.ones(2, 3, dtype=torch.bool), fine=0.03)
    with pytest.raises(ValueError, match=r"fine = 0 is out of range: allowed \(0, step = 0.05\]"):
        solve(random_mlp(0), torch.randn(2, 3, 12), torch.ones(2, 3, dtype=torch.bool), fine=0)
    with pytest.raises(ValueError, match=r"upper must have shape \(2, 3\), got \(3,\)"):
        solve(random_mlp(0), torch.randn(2, 3, 12), torch.ones(2, 3, dtype=torch.bool),
              upper=torch.ones(3))  # fmt: skip


def test_bounds_without_a_grid_point_keep_x0():
    x0 = torch.tensor([[0.32, 0.33, 0.35]])
    bounds = {"lower": x0 - 0.004, "upper": x0 + 0.004}  # no 0.05-grid point inside
    x = solve(
        random_mlp(2), torch.randn(1, 3, 12), torch.ones(1, 3, dtype=torch.bool), x0, **bounds
    )
    torch.testing.assert_close(x, x0)


def test_nan_in_an_inactive_slice_is_ignored_and_the_model_untouched():
    model = random_mlp(1)
    before = [p.detach().clone() for p in model.parameters()]
    z = torch.randn(2, 3, 12)
    z[0, 1] = float("nan")
    active = torch.tensor([[True, False, True], [True, True, True]])
    x = solve(model, z, active)
    assert torch.isfinite(x).all() and x[0, 1] == 0
    for p, old in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, old) and p.grad is None
