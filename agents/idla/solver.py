"""Lagrangian primal-dual solver for IDLA's per-cell slicing problem (paper Section IV-B, IV-C).

Each cell b maximises ``F(x) = sum_{s active} log(1 + f(x_s, z_s))`` subject to ``sum_s x_s <= 1``
and ``x >= 0`` (Problem 2, eq. 11), where ``f`` is the QoS estimator: any ``nn.Module`` that maps
float32 rows ``[x, z]`` of shape ``(N, 1 + W)`` to ``(N, 1)`` or ``(N,)`` in ``[0, 1]``
(:mod:`agents.idla.values`).
The solver runs the primal-dual updates of eq. 15-16, the gradient of ``F`` coming from
``torch.autograd`` on the estimator, from P starts around the previous solution (Algorithm 1) for
all cells at once: cells x starts x active slices are one batch of rows, fed to the model in chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from agents.idla.estimator import frozen_model
from agents.idla.values import _utility, check_inputs, chunked, model_rows
from slicesim.typed_config import Validated, num

_BIG = 1e6  # clamp for diverged iterates, so the projection's sums stay finite


def project_feasible(x: Tensor, active: Tensor, equality: bool = False) -> Tensor:
    """Euclidean projection of each row onto ``{x >= 0, sum x <= 1}`` over its active entries.

    Vectorised sort-based simplex projection (Held et al. 1974; Duchi et al. 2008). NaN entries
    count as 0 and infinities are clamped, so the result is feasible for any input.

    Args:
        x: Shares, shape ``(..., S)``.
        active: Bool mask broadcastable to ``x``; inactive entries come back as exactly 0.
        equality: Project onto ``{x >= 0, sum x = 1}`` instead (rows with an active entry).

    Returns:
        The projected shares, same shape as ``x``.
    """
    active = active.expand_as(x)
    y = torch.nan_to_num(x, nan=0.0).clamp(-_BIG, _BIG)
    if not equality:
        y = y.clamp(min=0.0)
    y = torch.where(active, y, torch.full_like(y, -torch.inf))
    u = torch.sort(y, dim=-1, descending=True).values
    css = torch.cumsum(u, dim=-1)
    j = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype, device=x.device)
    n_active = active.sum(-1, keepdim=True)
    support = (j <= n_active) & (u * j > css - 1.0)
    k = support.sum(-1, keepdim=True).clamp(min=1)
    tau = (css.gather(-1, k - 1) - 1.0) / k
    if not equality:
        tau = tau.clamp(min=0.0)
    out = torch.where(active, (y - tau).clamp(min=0.0), torch.zeros_like(y))
    return out / out.sum(-1, keepdim=True).clamp(min=1.0)  # guard against rounding


@dataclass(frozen=True)
class LagrangianSolver(Validated):
    """IDLA's batched primal-dual solver (paper Algorithm 1, eq. 15-16).

    Iteration i updates every running path (cell b, start p) by eq. 15 with the gradient of eq. 16:
    ``x_s <- [x_s + d_s (dF/dx_s - lam)]_+`` and ``lam <- [lam - d_lam (1 - sum_s x_s)]_+``.
    Rates: ``d_s = decay**i * b_s``, each primal move capped at ``max_step``. With
    ``curvature_rates`` (default), ``b_s = min(max_rate, 1 / c_s)`` where ``c_s`` is a secant
    estimate of ``-d2F/dx_s2`` from the last two iterates (F is separable over slices, so this is
    an exact diagonal quasi-Newton scaling for concave F; ``b_s = lr_x`` until the first estimate);
    otherwise ``b_s = lr_x`` throughout (the paper's scalar rate). ``d_lam = lr_lambda / sum_s b_s``
    over slices above 0, so one dual step removes about ``decay**i * lr_lambda`` of the budget
    violation whatever the primal scale. ``lam`` starts at the mean marginal utility of the start
    point. A path stops once its step ``||x_i - x_{i-1}||_2 < eta`` (Algorithm 1, line 8); the
    loop ends at ``max_iter`` or when every path has stopped. Each cell then keeps the best of its
    P end points, each projected onto ``{x >= 0, sum <= 1}`` and onto ``{x >= 0, sum = 1}``.

    Attributes:
        starts: P, parallel start points per cell (paper: 5); the first is ``x0`` itself.
        sigma: Standard deviation of the start offsets ``N(0, sigma)`` (paper: 0.05).
        max_iter: Maximum primal-dual iterations ``i_max``.
        eta: A path stops when its step norm falls below ``eta``.
        lr_x: Primal rate before the first curvature estimate (throughout without it).
        lr_lambda: Dual gain, the share of the budget violation one dual step removes.
        decay: Rates are multiplied by ``decay**i`` at iteration i.
        max_rate: Cap on the curvature-scaled primal rate ``b_s``.
        max_step: Cap on each slice's move per iteration (a trust region; shares live in [0, 1]).
        curvature_rates: Scale each slice's primal rate by its secant curvature.
        chunk_rows: Rows per model call (20-50 k rows is fastest on CPU).
    """

    starts: int = num(1, 10**4, 5)
    sigma: float = num(0, 1, 0.05)
    max_iter: int = num(0, 10**6, 20)
    eta: float = num(0, 1, 1e-4)
    lr_x: float = num(0, 1e12, 0.1, lo_open=True)
    lr_lambda: float = num(0, 1e12, 0.7, lo_open=True)
    decay: float = num(0, 1, 0.98, lo_open=True)
    max_rate: float = num(0, 1e12, 100.0, lo_open=True)
    max_step: float = num(0, 1e12, 0.2, lo_open=True)
    curvature_rates: bool = True
    chunk_rows: int = num(1, 10**9, 32768)

    def solve(
        self,
        model: nn.Module,
        z: Tensor,
        active: Tensor,
        x0: Tensor,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Best shares per cell for Problem 2, all cells and starts in one batch.

        Args:
            model: QoS estimator ``(N, 1 + W) -> (N, 1)`` in ``[0, 1]``; copied, never modified.
            z: Context features ``(B, S, W)``, normalised as the estimator was trained.
            active: Bool mask ``(B, S)`` of the slices configured in each cell.
            x0: Start shares ``(B, S)``, e.g. last period's solution; projected to the feasible set.
            generator: Source of the start offsets (the global RNG when ``None``).

        Returns:
            float32 shares ``(B, S)``: ``x >= 0``, row sums ``<= 1``, inactive slices exactly 0.
        """
        with torch.inference_mode(False):
            z, active, x0 = _prepare(model, z, active, x0)
            frozen = frozen_model(model)
            act = active.unsqueeze(1)
            x = self._iterate(frozen, z, act, self._starts(x0, act, generator))
            with torch.no_grad():
                return self._best(frozen, z, act, x)

    def _starts(self, x0: Tensor, act: Tensor, generator: torch.Generator | None) -> Tensor:
        """P start points ``(B, P, S)``: x0 and x0 + N(0, sigma) offsets, projected."""
        base = project_feasible(x0.unsqueeze(1), act)
        shape = (x0.shape[0], self.starts, x0.shape[1])
        noise = torch.randn(shape, generator=generator, dtype=x0.dtype) * self.sigma
        noise[:, 0] = 0.0
        return project_feasible(base + noise, act)

    def _iterate(self, model: nn.Module, z: Tensor, act: Tensor, x: Tensor) -> Tensor:
        """Primal-dual steps of eq. 15 on every path until ``max_iter`` or all paths stopped."""
        paths = _Paths(x, act.expand_as(x), 1.0 / self.lr_x)
        z_rows = z.unsqueeze(1).expand(*x.shape, z.shape[-1]).reshape(-1, z.shape[-1])
        grad = _objective_grad(model)
        for i in range(self.max_iter):
            index = paths.rows()
            x_rows = paths.x.reshape(-1)
            if index is not None:
                x_rows, zi = x_rows.index_select(0, index), z_rows.index_select(0, index)
            g_rows = chunked(grad, x_rows, z_rows if index is None else zi, self.chunk_rows)
            if index is not None:
                g_rows = torch.zeros(x.numel(), dtype=x.dtype).index_copy_(0, index, g_rows)
            self._step(paths, g_rows.view_as(x), i)
            if not bool(paths.running.any()):
                break
        return paths.x

    def _step(self, p: _Paths, g: Tensor, i: int) -> None:
        """One update of eq. 15 with the rates of iteration ``i`` on the running paths of ``p``."""
        if i == 0:  # the multiplier that balances the mean marginal utility at the start
            p.lam = (g.sum(-1) / p.mask.sum(-1).clamp(min=1)).clamp(min=0.0)
        elif self.curvature_rates:
            p.curv = _secant(p, g)
        base = self._base_rates(p)
        raw = self.decay**i * base * (g - p.lam.unsqueeze(-1))
        x_new = (p.x + raw.clamp(-self.max_step, self.max_step)).clamp(min=0.0)
        x_new = torch.where(p.mask, x_new, torch.zeros_like(x_new))
        # dual rate: lr_lambda over the rate at which sum_s x_s answers lambda (slices held at 0
        # do not answer), so one dual step removes about decay**i * lr_lambda of the violation
        free = torch.where(x_new > 0.0, base, torch.zeros_like(base)).sum(-1)
        slope = torch.where(free > 0.0, free, base.sum(-1)).clamp(min=1e-12)
        lam_new = (p.lam - self.lr_lambda / slope * (1.0 - x_new.sum(-1))).clamp(min=0.0)
        run = p.running
        p.x_prev, p.g_prev = p.x, g
        p.x = torch.where(run.unsqueeze(-1), x_new, p.x)
        p.lam = torch.where(run, lam_new, p.lam)
        p.running = run & ((x_new - p.x_prev).norm(dim=-1) >= self.eta)  # NaN steps stop too

    def _base_rates(self, p: _Paths) -> Tensor:
        """Undecayed primal rates ``b_s``: ``min(max_rate, 1 / c_s)`` or ``lr_x``; 0 if inactive."""
        if self.curvature_rates:
            base = (1.0 / p.curv).clamp(max=self.max_rate)
        else:
            base = torch.full_like(p.x, self.lr_x)
        return torch.where(p.mask, base, torch.zeros_like(base))

    def _best(self, model: nn.Module, z: Tensor, act: Tensor, x: Tensor) -> Tensor:
        """Per cell, the best of the projected end points (onto sum <= 1 and onto sum = 1)."""
        cands = torch.cat([project_feasible(x, act), project_feasible(x, act, equality=True)], 1)
        u = _utility(model, z.unsqueeze(1), act, cands, self.chunk_rows)
        best = torch.nan_to_num(u, nan=-torch.inf).argmax(dim=1)
        index = best.view(-1, 1, 1).expand(-1, 1, cands.shape[-1])
        return cands.gather(1, index).squeeze(1)


class _Paths:
    """State of the search paths (cell, start): iterate, multiplier, curvature, running flag."""

    def __init__(self, x: Tensor, mask: Tensor, curvature: float) -> None:
        self.x, self.mask = x, mask
        self.lam = torch.zeros(x.shape[:-1], dtype=x.dtype)
        self.curv = torch.full_like(x, curvature)
        self.x_prev, self.g_prev = x, torch.zeros_like(x)
        self.running = mask.any(-1)

    def rows(self) -> Tensor | None:
        """Flat indices of the active slices of running paths (``None``: every entry)."""
        rows = self.mask & self.running.unsqueeze(-1)
        return None if bool(rows.all()) else rows.reshape(-1).nonzero().squeeze(1)


def _secant(p: _Paths, g: Tensor) -> Tensor:
    """Secant estimate of ``-d2F/dx_s2`` per slice from the last step (old one kept unless > 0)."""
    dx = p.x - p.x_prev
    ok = p.mask & (dx.abs() > 1e-6)
    est = (p.g_prev - g) / torch.where(ok, dx, torch.ones_like(dx))
    return torch.where(ok & (est > 0.0), est, p.curv)


def _objective_grad(model: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    """Row function ``d log(1 + f(x, z)) / dx`` (eq. 16 without lambda) by reverse-mode autograd."""

    def grad(x: Tensor, z: Tensor) -> Tensor:
        with torch.enable_grad():
            xi = x.detach().requires_grad_(True)
            obj = torch.log1p(model_rows(model, xi, z)).sum()
            return torch.autograd.grad(obj, xi)[0]

    return grad


def _prepare(
    model: nn.Module, z: Tensor, active: Tensor, x0: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Check shapes; return float32 copies (never inference tensors) and a bool mask.

    x0 is not range-checked: the solver projects any start (even NaN or inf) to the feasible set.
    """
    check_inputs(model, z, active, x0, range_check=False)
    as_f32 = lambda t: t.detach().to(torch.float32, copy=True)  # noqa: E731
    return as_f32(z), active.detach().to(torch.bool, copy=True), as_f32(x0)
