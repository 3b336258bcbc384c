"""The oracle's table-lookup grid search against a brute-force evaluation of every grid point."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

from agents.idla.oracle import grid_search
from tests.conftest import compositions, random_mlp


def brute_force(
    model: nn.Module, z: Tensor, active: Tensor, n_units: int
) -> tuple[Tensor, Callable[[int, Tensor], Tensor]]:
    """Every grid point of each cell through the model itself: (best utility, utility function)."""

    def cell_utility(b: int, x: Tensor) -> Tensor:
        """Utility of shares x (K, S) in cell b, the model run on every active (point, slice)."""
        slices = active[b].nonzero().squeeze(1)
        rows = torch.cat([x[:, slices].reshape(-1, 1), z[b, slices].repeat(x.shape[0], 1)], 1)
        with torch.no_grad():
            f = model(rows).reshape(x.shape[0], slices.numel())
        return torch.log1p(f).double().sum(-1)

    best = []
    for b in range(active.shape[0]):
        n_act = int(active[b].sum())
        points = [
            p for p in itertools.product(range(n_units + 1), repeat=n_act) if sum(p) <= n_units
        ]
        x = torch.zeros(len(points), active.shape[1])
        x[:, active[b]] = (
            torch.tensor(points, dtype=torch.float32).reshape(len(points), n_act) / n_units
        )
        best.append(cell_utility(b, x).max())
    return torch.stack(best), cell_utility


@pytest.mark.parametrize(
    ("n_slices", "step"), [(1, 0.05), (2, 0.05), (3, 0.05), (3, 0.1), (4, 0.1)]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_brute_force(n_slices: int, step: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(6, n_slices, 12, generator=gen)
    active = torch.rand(6, n_slices, generator=gen) < 0.7
    active[0] = True
    active[1] = False
    model = random_mlp(seed)
    x = grid_search(model, z, active, step=step, full=False)
    n_units = round(1 / step)
    assert x.dtype == torch.float32
    assert (x[~active] == 0).all() and (x >= 0).all()
    assert (x.sum(-1) <= 1 + 1e-6).all()
    assert torch.allclose(x * n_units, (x * n_units).round(), atol=1e-5)  # on the grid
    best, cell_utility = brute_force(model, z, active, n_units)
    found = torch.stack([cell_utility(b, x[b : b + 1])[0] for b in range(6)])
    assert torch.allclose(found, best, atol=1e-5, rtol=0)  # a maximiser (ties allowed)


def test_paper_size_search_is_exact_for_an_exp_utility() -> None:
    """Four slices at step 0.05 (10 626 points) against the closed form at every grid point."""
    gen = torch.Generator().manual_seed(3)
    a = 0.5 + 19.5 * torch.rand(50, 4, generator=gen, dtype=torch.float64)
    active = torch.rand(50, 4, generator=gen) < 0.8
    z = torch.zeros(50, 4, 12)
    z[..., 0] = a.float()

    class ExpUtility(nn.Module):
        def forward(self, rows: Tensor) -> Tensor:
            return 1.0 - torch.exp(-rows[:, 1] * rows[:, 0])

    x = grid_search(ExpUtility(), z, active, full=False)
    points = compositions(4, 20).double() / 20  # (K, 4)
    terms = torch.log(2 - torch.exp(-a.unsqueeze(1) * points))  # (50, K, 4)
    allowed = (points.unsqueeze(0) == 0) | active.unsqueeze(1)
    u = torch.where(active.unsqueeze(1), terms, torch.zeros_like(terms)).sum(-1)
    u = torch.where(allowed.all(-1), u, torch.full_like(u, -math.inf))
    mine = torch.where(active, torch.log(2 - torch.exp(-a * x.double())), torch.zeros_like(a)).sum(
        -1
    )
    assert torch.allclose(mine, u.max(1).values, atol=1e-5, rtol=0)


def test_compositions_enumerate_the_grid_once_in_order() -> None:
    comps = compositions(4, 20)
    assert comps.shape == (math.comb(24, 4), 4) == (10626, 4)
    assert (comps >= 0).all() and (comps.sum(1) <= 20).all()
    assert torch.equal(comps[0], torch.zeros(4, dtype=torch.long))
    assert len({tuple(c) for c in comps.tolist()}) == comps.shape[0]
    keys = [tuple(c) for c in comps.tolist()]
    assert keys == sorted(keys)


def test_deterministic_and_model_untouched() -> None:
    model = random_mlp(5)
    before = [p.detach().clone() for p in model.parameters()]
    z = torch.randn(30, 4, 12)
    active = torch.ones(30, 4, dtype=torch.bool)
    first = grid_search(model, z, active)
    assert torch.equal(first, grid_search(model, z, active, chunk_rows=50))
    for p, old in zip(model.parameters(), before, strict=True):
        assert p.requires_grad and p.grad is None and torch.equal(p, old)


def test_cells_without_active_slices_get_zeros() -> None:
    x = grid_search(random_mlp(0), torch.randn(3, 4, 12), torch.zeros(3, 4, dtype=torch.bool))
    assert torch.equal(x, torch.zeros(3, 4))


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (0.0, r"step must be in \(0, 1\], got 0.0"),
        (1.5, r"step must be in \(0, 1\]"),
        (0.3, "step must divide 1"),
    ],
)
def test_step_errors(step: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        grid_search(
            random_mlp(0), torch.randn(2, 3, 12), torch.ones(2, 3, dtype=torch.bool), step=step
        )


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"active must have shape \(2, 3\), got \(3, 2\)"):
        grid_search(random_mlp(0), torch.randn(2, 3, 12), torch.ones(3, 2, dtype=torch.bool))
