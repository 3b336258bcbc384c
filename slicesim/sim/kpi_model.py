"""Flow-level KPI models (``sim.kpi_model``): a user's time with data within an epoch.

The throughput KPI of a period is volume over time with data (TS 36.314 scheduled IP throughput),
summed over a slice's users and epochs. The window knows each user-epoch's volume exactly (the
water-filled time share ``phi``); how long the user had data to get it is a model, this one.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from slicesim.config import KPI_MODEL_NAMES

__all__ = ["KPI_MODELS", "KpiModel", "LegacyKpis"]


class KpiModel:
    """A burst's throughput and each user's time with data in one epoch; registered by ``name``.

    :meth:`epoch` is called once per scheduling epoch with arrays over every user of every draw
    and copy (shape (copies, n_users) unless noted); it must stay vectorised.
    """

    name: ClassVar[str] = ""

    def epoch(
        self,
        full_rate: np.ndarray,
        rate: np.ndarray,
        phi: np.ndarray,
        work: np.ndarray,
        flat: np.ndarray,
        load: np.ndarray,
        dt: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A burst's throughput (bit/s, the delay's ``burst / thr``) and seconds with data.

        Args:
            full_rate: bit/s each user would get with the whole slice budget (R).
            rate: bit/s each user was served on average (``phi * R``).
            phi: water-filled time shares of the slice's epoch.
            work: share of the slice's epoch each user needed (backlog + arrivals).
            flat: group (draw, copy, cell, slice) of every user, ``phi.size`` entries.
            load: sum of ``work`` per group (rho), indexed by ``flat``.
            dt: epoch length (s).
        """
        raise NotImplementedError


class LegacyKpis(KpiModel):
    """slicesim 0.1: flow-level processor sharing, ``thr = R max(1 - rho, phi)`` with rho the
    slice's load including the user's own work; time with data = served bits / thr."""

    name = "legacy"

    def epoch(self, full_rate, rate, phi, work, flat, load, dt):  # type: ignore[no-untyped-def]
        # the floor keeps idle users at 0 / x
        thr = full_rate * np.maximum(np.maximum(1.0 - load[flat].reshape(phi.shape), phi), 1e-9)
        return thr, rate / thr * dt


KPI_MODELS: dict[str, type[KpiModel]] = {m.name: m for m in (LegacyKpis,)}
assert tuple(KPI_MODELS) == KPI_MODEL_NAMES, "config.KPI_MODEL_NAMES lists the models"
