"""IDLA's Lagrangian solver against closed-form optima, and its feasibility under abuse."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from agents.idla.solver import LagrangianSolver, project_feasible
from agents.idla.values import estimated_utility as utility
from tests.conftest import random_mlp


class ExpUtility(nn.Module):
    """f_s(x) = 1 - exp(-a_s x), with a_s read from the first context feature z[..., 0]."""

    def forward(self, rows: Tensor) -> Tensor:
        return 1.0 - torch.exp(-rows[:, 1] * rows[:, 0])


def cells(n_cells: int, n_slices: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """Random a in [0.5, 20], random active masks (at least one active slice a cell)."""
    gen = torch.Generator().manual_seed(seed)
    a = 0.5 + 19.5 * torch.rand(n_cells, n_slices, generator=gen)
    active = torch.rand(n_cells, n_slices, generator=gen) < 0.7
    active[torch.arange(n_cells), torch.randint(0, n_slices, (n_cells,), generator=gen)] = True
    z = torch.zeros(n_cells, n_slices, 12)
    z[..., 0] = a
    return z, active, a


def water_filling(a: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
    """Exact optimum of sum_s log(2 - exp(-a_s x_s)) on the simplex, and its utility (float64).

    KKT: a e^{-ax} / (2 - e^{-ax}) = lam where x > 0, <= lam where x = 0. With u = e^{-ax}:
    u = 2 lam / (a + lam), so x(lam) = max(0, ln((a + lam) / (2 lam)) / a), decreasing in lam;
    bisect lam (geometrically: it spans orders of magnitude) until sum_s x_s(lam) = 1.
    """
    a = a.double()

    def shares(lam: Tensor) -> Tensor:
        x = (torch.log((a + lam[:, None]) / (2.0 * lam[:, None])) / a).clamp(min=0.0)
        return torch.where(active, x, torch.zeros_like(x))

    lo = torch.full(a.shape[:1], 1e-12, dtype=torch.float64)
    hi = torch.full_like(lo, 100.0)
    for _ in range(200):
        mid = (lo * hi).sqrt()
        over = shares(mid).sum(-1) > 1.0
        lo, hi = torch.where(over, mid, lo), torch.where(over, hi, mid)
    x = shares(hi)
    terms = torch.log(2.0 - torch.exp(-a * x))
    return x, torch.where(active, terms, torch.zeros_like(terms)).sum(-1)


def assert_feasible(x: Tensor, active: Tensor) -> None:
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert (x >= 0).all()
    assert (x.sum(-1) <= 1 + 1e-6).all()
    assert (x[~active] == 0).all()


def test_water_filling_reference_meets_kkt() -> None:
    _, active, a = cells(64, 4, seed=1)
    x, _ = water_filling(a, active)
    assert torch.allclose(x.sum(-1), torch.ones(64, dtype=torch.float64), atol=1e-9)
    u = torch.exp(-a.double() * x)
    marginal = a * u / (2 - u)
    interior = active & (x > 1e-9)
    lam = torch.where(interior, marginal, torch.zeros_like(marginal)).amax(-1, keepdim=True)
    lam = lam.expand_as(x)
    assert torch.allclose(marginal[interior], lam[interior], rtol=1e-6)
    assert (marginal[active & ~interior] <= lam[active & ~interior] + 1e-9).all()


@pytest.mark.parametrize("n_slices", [2, 3, 4])
@pytest.mark.parametrize("start", ["uniform", "random", "corner"])
def test_solver_reaches_water_filling_optimum(n_slices: int, start: str) -> None:
    z, active, a = cells(128, n_slices, seed=n_slices)
    gen = torch.Generator().manual_seed(7)
    x0 = {
        "uniform": active / active.sum(-1, keepdim=True),
        "random": torch.rand(active.shape, generator=gen),
        "corner": nn.functional.one_hot(
            torch.randint(0, n_slices, (128,), generator=gen), n_slices
        ),
    }[start].float()
    x = LagrangianSolver().solve(ExpUtility(), z, active, x0, torch.Generator().manual_seed(0))
    assert_feasible(x, active)
    _, best = water_filling(a, active)
    gap = best - utility(ExpUtility(), z, active, x).double()
    assert gap.max() < 1e-3
    assert gap.min() > -1e-5  # no better than the true optimum


def test_paper_scalar_rates_converge_slowly_but_surely() -> None:
    z, active, a = cells(64, 3, seed=3)
    solver = LagrangianSolver(curvature_rates=False, max_iter=400, decay=0.995)
    x = solver.solve(ExpUtility(), z, active, active / active.sum(-1, keepdim=True))
    assert_feasible(x, active)
    _, best = water_filling(a, active)
    assert (best - utility(ExpUtility(), z, active, x).double()).max() < 5e-3


def test_batched_solve_equals_cell_by_cell() -> None:
    z, active, _ = cells(24, 4, seed=5)
    x0 = torch.rand(active.shape, generator=torch.Generator().manual_seed(3))
    solver = LagrangianSolver(starts=1, sigma=0.0)
    together = solver.solve(ExpUtility(), z, active, x0)
    alone = torch.cat(
        [
            solver.solve(ExpUtility(), z[b : b + 1], active[b : b + 1], x0[b : b + 1])
            for b in range(24)
        ]
    )
    u_together = utility(ExpUtility(), z, active, together)
    u_alone = utility(ExpUtility(), z, active, alone)
    assert torch.allclose(u_together, u_alone, atol=1e-4)
    assert torch.allclose(together, alone, atol=1e-3)


def test_chunking_and_seed_give_the_same_answer() -> None:
    z, active, _ = cells(40, 4, seed=6)
    x0 = active / active.sum(-1, keepdim=True)
    whole = LagrangianSolver().solve(ExpUtility(), z, active, x0, torch.Generator().manual_seed(1))
    again = LagrangianSolver().solve(ExpUtility(), z, active, x0, torch.Generator().manual_seed(1))
    chunked = LagrangianSolver(chunk_rows=7).solve(
        ExpUtility(), z, active, x0, torch.Generator().manual_seed(1)
    )
    assert torch.equal(whole, again)
    assert torch.allclose(whole, chunked, atol=1e-5)


def test_model_is_left_as_it_was() -> None:
    model = nn.Sequential(nn.Linear(13, 8), nn.Dropout(0.5), nn.Linear(8, 1), nn.Sigmoid())
    before = [p.detach().clone() for p in model.parameters()]
    z = torch.randn(5, 3, 12)
    active = torch.ones(5, 3, dtype=torch.bool)
    first = LagrangianSolver().solve(
        model, z, active, torch.full((5, 3), 1 / 3), torch.Generator().manual_seed(0)
    )
    second = LagrangianSolver().solve(
        model, z, active, torch.full((5, 3), 1 / 3), torch.Generator().manual_seed(0)
    )
    assert torch.equal(first, second)  # dropout is off while optimising
    assert model.training
    for p, old in zip(model.parameters(), before, strict=True):
        assert p.requires_grad and p.grad is None and torch.equal(p, old)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_works_inside_no_grad_and_inference_mode(context: type) -> None:
    z, active, _ = cells(8, 3, seed=8)
    x0 = active / active.sum(-1, keepdim=True)
    plain = LagrangianSolver().solve(ExpUtility(), z, active, x0, torch.Generator().manual_seed(2))
    with context():
        inside = LagrangianSolver().solve(
            ExpUtility(), z, active, x0, torch.Generator().manual_seed(2)
        )
    assert torch.equal(plain, inside)


def test_inactive_slices_and_empty_cells_get_nothing() -> None:
    z, active, _ = cells(6, 4, seed=9)
    active[0] = False
    active[1] = torch.tensor([False, True, False, False])
    x = LagrangianSolver().solve(ExpUtility(), z, active, torch.full((6, 4), 0.5))
    assert_feasible(x, active)
    assert (x[0] == 0).all()
    assert x[1, 1] == pytest.approx(1.0)


class NaNBelowHalf(nn.Module):
    """An estimator that breaks (NaN) on part of its domain."""

    def forward(self, rows: Tensor) -> Tensor:
        f = torch.sigmoid(5 * rows[:, 0] + rows[:, 1])
        return torch.where(rows[:, 0] < 0.5, torch.full_like(f, math.nan), f)


@settings(max_examples=40, deadline=None)
@given(
    n_cells=st.integers(1, 6),
    n_slices=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    lr=st.floats(1e-3, 1e8),
    scale=st.floats(-1e6, 1e6),
    curvature=st.booleans(),
)
def test_always_feasible_under_abuse(
    n_cells: int, n_slices: int, seed: int, lr: float, scale: float, curvature: bool
) -> None:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n_cells, n_slices, 12, generator=gen) * 10
    active = torch.rand(n_cells, n_slices, generator=gen) < 0.6
    x0 = torch.randn(n_cells, n_slices, generator=gen) * scale
    x0[0, 0] = math.nan if seed % 3 == 0 else math.inf
    solver = LagrangianSolver(
        lr_x=lr,
        lr_lambda=lr,
        max_rate=lr,
        max_step=lr,
        decay=1.0,
        curvature_rates=curvature,
        max_iter=8,
    )
    for model in (ExpUtility(), NaNBelowHalf()):
        assert_feasible(solver.solve(model, z, active, x0, gen), active)


def test_projection_is_the_euclidean_projection() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(200, 4, generator=gen)
    active = torch.rand(200, 4, generator=gen) < 0.8
    y = project_feasible(x, active)
    assert_feasible(y, active)
    assert torch.equal(project_feasible(y, active), y)
    # optimality of a projection onto a convex set: <x - y, w - y> <= 0 for every feasible w
    w = project_feasible(torch.rand(200, 64, 4, generator=gen) * 2, active.unsqueeze(1))
    inner = ((x - y).unsqueeze(1) * (w - y.unsqueeze(1)) * active.unsqueeze(1)).sum(-1)
    assert inner.max() < 1e-5
    on_simplex = project_feasible(x, active, equality=True)
    assert torch.allclose(on_simplex.sum(-1), active.any(-1).float(), atol=1e-6)


def test_utility_is_the_sum_over_active_slices() -> None:
    z, active, a = cells(10, 3, seed=10)
    x = project_feasible(torch.rand(10, 3), active)
    manual = torch.where(active, torch.log(2 - torch.exp(-a * x)), torch.zeros_like(x)).sum(-1)
    assert torch.allclose(utility(ExpUtility(), z, active, x), manual, atol=1e-6)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("starts", 0, r"starts = 0 is out of range: allowed \[1, 10000\]"),
        ("sigma", -0.1, r"sigma = -0.1 is out of range: allowed \[0, 1\]"),
        ("lr_x", 0.0, r"lr_x = 0.0 is out of range: allowed \(0, 1e\+12\]"),
        ("decay", 1.5, r"decay = 1.5 is out of range: allowed \(0, 1\]"),
        ("chunk_rows", 0, r"chunk_rows = 0 is out of range: allowed \[1, 1e\+09\]"),
    ],
)
def test_config_errors_name_the_field(field: str, value: float, message: str) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=message):
        LagrangianSolver(**kwargs)


def test_shape_errors() -> None:
    # the context width W comes from the estimator (13 inputs: W = 12)
    with pytest.raises(ValueError, match=r"z must have shape \(B, S, 12\), got \(2, 3, 11\)"):
        LagrangianSolver().solve(
            random_mlp(0),
            torch.zeros(2, 3, 11),
            torch.ones(2, 3, dtype=torch.bool),
            torch.zeros(2, 3),
        )
    with pytest.raises(ValueError, match=r"x0 must have shape \(2, 3\)"):
        LagrangianSolver().solve(
            ExpUtility(),
            torch.zeros(2, 3, 12),
            torch.ones(2, 3, dtype=torch.bool),
            torch.zeros(3, 2),
        )
