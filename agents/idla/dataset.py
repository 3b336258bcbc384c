"""IDLA's training samples (paper eq. 7-9) and the two augmentation rules of Section V-B.

A sample of slice s in cell c at period t is the input row
``[x, users_1..H, cqi_1..H, thr*, d*]`` (x = the slice's PRB share in t; the users and CQI of
the H periods before t; the needs, normalised as in the observation) and the target r(t).

The paper takes x = the PRB *utilisation*, arguing that a slice given exactly the PRBs it used
would see the same throughput. In our simulator (and a proportional-fair RAN) that is not so:
the throughput of a user while it has data grows with the slice's idle headroom, so r is not a
function of the utilisation (a slice using 10 % of a 50 % share is far better off than one using
all of a 10 % share). ``x_source="share"`` (default) learns r from the allocated share, which the
O&M knows as well; ``"prb_util"`` is the paper's choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.base import SlicingSpec
from slicesim.config import ScenarioConfig
from slicesim.sim.link import CQI_EFFICIENCY

__all__ = ["SampleBuffer", "augment", "context", "context_width", "peak_rate_mbps"]


def peak_rate_mbps(config: ScenarioConfig) -> float:
    """A cell's rate at the highest CQI on all its PRBs (Mbit/s): the scale of the load input."""
    radio = config.radio
    bits = radio.n_prb * radio.prb_bandwidth_hz * (1.0 - radio.overhead)
    return float(bits * CQI_EFFICIENCY[-1] / 1e6)


def context_width(spec: SlicingSpec, load: bool = False) -> int:
    """Width W of the context z: H past users, H past CQI, (the load,) thr*, d* (paper eq. 8;
    the paper's H = 5 gives W = 12 and the 13 inputs of its MLP)."""
    return 2 * spec.history + 2 + int(load)


def context(obs: np.ndarray, spec: SlicingSpec, load: np.ndarray | None = None) -> np.ndarray:
    """The estimator's context z of every (cell, slice): (n_cells, n_slices, W).

    ``load``: the traffic each (cell, slice) is expected to be offered (Mbit/s; the agent's
    forecast, or the last period's counter); given, it is a column between the CQI and the
    needs, divided by :func:`peak_rate_mbps` (the needs stay last: the augmentation replaces
    them).
    """
    h = spec.history
    users = spec.feature("users_1")
    cqi = spec.feature("cqi_1")
    needs = [spec.feature("thr_need"), spec.feature("delay_need")]
    cols = [*range(users, users + h), *range(cqi, cqi + h), *needs]
    z = np.asarray(obs, dtype=np.float32)[..., cols]
    if load is None:
        return z
    column = np.asarray(load, dtype=np.float64) / peak_rate_mbps(spec.config)
    column = (column * (z[..., -2] > 0))[..., None].astype(np.float32)  # 0 where inactive
    return np.concatenate([z[..., : 2 * h], column, z[..., 2 * h :]], axis=-1)


@dataclass
class SampleBuffer:
    """Samples collected from any cell and slice, with what augmentation needs.

    Args:
        spec: the environment's spec (feature layout, needs).
        x_source: ``"share"`` (allocated share) or ``"prb_util"`` (the paper's choice).
        with_load: the context holds the load input, the offered traffic the agent expected
            for the period (:func:`context`).
    """

    def __post_init__(self) -> None:
        if self.x_source not in ("share", "prb_util"):
            raise ValueError(
                f"x_source = {self.x_source!r} is unknown: allowed 'share', 'prb_util'"
            )

    spec: SlicingSpec
    x_source: str = "share"
    with_load: bool = False
    inputs: list[np.ndarray] = field(default_factory=list)  # (n, 1 + 2H + 2)
    targets: list[np.ndarray] = field(default_factory=list)  # (n,)
    achieved: list[np.ndarray] = field(default_factory=list)  # (n, 2): thr, delay, normalised

    def add(self, obs: np.ndarray, info: dict[str, Any], load: np.ndarray | None = None) -> None:
        """Add the active (cell, slice) pairs of one period: ``obs`` before it, ``info`` after,
        ``load`` the load input the agent decided with (``with_load``)."""
        active = np.asarray(info["active"], dtype=bool)
        kpi = info["kpi"]
        x_all = info["x"] if self.x_source == "share" else kpi["prb_util"]
        x = np.asarray(x_all, dtype=np.float32)[active]
        if self.with_load and load is None:
            raise ValueError("this buffer's contexts hold the load: give add(..., load=...)")
        z = context(obs, self.spec, load if self.with_load else None)[active]
        self.inputs.append(np.column_stack([x, z]))
        self.targets.append(np.asarray(info["r"], dtype=np.float32)[active])
        scale = np.array([self.spec.thr_need_mbps.max(), self.spec.delay_need_ms.max()])
        both = np.stack([kpi["thr_mbps"], kpi["delay_ms"]], axis=-1)[active] / scale
        self.achieved.append(both.astype(np.float32))

    def __len__(self) -> int:
        return int(sum(len(t) for t in self.targets))

    def arrays(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inputs (n, 1 + W), targets (n,), achieved (thr, delay) normalised like the needs (n, 2).

        Args:
            rows: indices of the samples to return (default: all, in the order collected).
        """
        width = 1 + context_width(self.spec, self.with_load)
        if not self.inputs:
            return np.empty((0, width), np.float32), np.empty(0, np.float32), np.empty((0, 2))
        out = (
            np.concatenate(self.inputs),
            np.concatenate(self.targets),
            np.concatenate(self.achieved),
        )
        return out if rows is None else (out[0][rows], out[1][rows], out[2][rows])

    def recent(self, periods: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of the samples of the last ``periods`` periods and as many drawn (without
        replacement) from the older ones: a training set that weights what is recent."""
        sizes = [len(t) for t in self.targets]
        start = sum(sizes[: max(len(sizes) - periods, 0)])
        newer = np.arange(start, sum(sizes))
        older = (
            rng.choice(start, size=min(start, len(newer)), replace=False) if start else newer[:0]
        )
        return np.concatenate([older.astype(np.int64), newer])


def augment(
    inputs: np.ndarray, targets: np.ndarray, achieved: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The original samples plus the two augmentation rules of paper Section V-B.

    1. r < 1: had the achieved (thr, delay) been the needs, they would have been met: a copy
       with the needs replaced by the achieved values and r = 1 (only where the slice carried
       data, i.e. a positive achieved throughput).
    2. r = 1: r is non-decreasing in the share and capped at 1, so more PRBs also give r = 1: a
       copy with x replaced by a value drawn uniformly from [x, 1].
    """
    short = (targets < 1.0) & (achieved[:, 0] > 0)
    rule1 = inputs[short].copy()
    rule1[:, -2:] = achieved[short]
    met = targets >= 1.0
    rule2 = inputs[met].copy()
    rule2[:, 0] = rng.uniform(rule2[:, 0], 1.0).astype(np.float32)
    out_x = np.concatenate([inputs, rule1, rule2]).astype(np.float32)
    out_y = np.concatenate([targets, np.ones(len(rule1) + len(rule2))]).astype(np.float32)
    return out_x, out_y
