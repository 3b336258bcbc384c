"""O-RAN names for what slicesim measures and decides: E2SM-KPM measurements and RRMPolicyRatio.

A near-RT RIC sees a cell's slices through the performance measurements of 3GPP TS 28.552 that
O-RAN's E2SM-KPM service model reports (per cell, with a per-S-NSSAI subcounter), and it sets a
slice's share of a cell's PRBs through the RRMPolicyRatio of the 5G NRM (3GPP TS 28.541, IOC
RRMPolicyRatio, clause 4.3.36; its attributes in clause 4.4.1), which O-RAN's E2SM-RC carries as
the "slice-level PRB quota" control (dedicated, minimum and maximum ratio). This module gives a
period's KPIs under those names (:func:`kpm`, the env's ``info["kpm"]``, ``slicesim simulate
--kpm-csv``) and a decision as RRMPolicyRatio records (:func:`rrm_policy_ratio`), so that a
controller trained here maps one to one onto a RIC's inputs and outputs. Nothing here speaks E2AP
or SCTP: ``docs/concepts/oran.md`` says how to take these to a RIC.

Measurements (TS 28.552 clause, unit as the TS gives it; clause numbers of V18.2.0):

================  =========  =========  ==================================================
name              clause     unit       here
================  =========  =========  ==================================================
DRB.UEThpDl       5.1.1.3.1  kbit/s     the slice's average user throughput while a user
                                        has data (``thr_mbps`` x 1000), per S-NSSAI
DRB.RlcSduDelayDl 5.1.3.3.3  0.1 ms     the slice's average burst delay, queueing and
                                        transmission (``delay_ms`` x 10), per S-NSSAI
RRU.PrbUsedDl     5.1.1.2.5  PRBs       mean PRBs the slice used (``prb_util`` x the
                                        cell's PRBs), per S-NSSAI
DRB.MeanActiveUeDl 5.1.1.23.1 UEs       mean users in session of the slice (``users``),
                                        per S-NSSAI
RRU.PrbAvailDl    5.1.1.2.6  PRBs       the cell's PRBs available for data (all of them)
RRU.PrbTotDl      5.1.1.2.1  %          the cell's total PRB usage (the slices' sum)
================  =========  =========  ==================================================

Where a slice had no data in the period (``served`` False) its throughput and delay are missing
(NaN; 0 in the env's ``info["kpm"]``, as in its ``info["kpi"]``): a gNB reports no sample. The
TS reports PRB counts as integers; they are not rounded here. A TS 38.314 "active UE" has data
buffered; ``users`` counts the users in session, an upper bound of it (a user between bursts is
in session, not active).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slicesim.config import SimConfig, SliceConfig
from slicesim.sim.scheduler import rrm_prbs

__all__ = ["MEASUREMENTS", "Measurement", "kpm", "rrm_policy_ratio", "snssai"]


@dataclass(frozen=True)
class Measurement:
    """A TS 28.552 measurement as slicesim reports it.

    Attributes:
        name: its name, as E2SM-KPM reports it.
        clause: its clause in TS 28.552 (V18.2.0).
        unit: its unit as the TS gives it.
        per_slice: reported per (cell, S-NSSAI); else per cell.
    """

    name: str
    clause: str
    unit: str
    per_slice: bool


MEASUREMENTS = (
    Measurement("DRB.UEThpDl", "5.1.1.3.1", "kbit/s", True),
    Measurement("DRB.RlcSduDelayDl", "5.1.3.3.3", "0.1 ms", True),
    Measurement("RRU.PrbUsedDl", "5.1.1.2.5", "PRB", True),
    Measurement("DRB.MeanActiveUeDl", "5.1.1.23.1", "UE", True),
    Measurement("RRU.PrbAvailDl", "5.1.1.2.6", "PRB", False),
    Measurement("RRU.PrbTotDl", "5.1.1.2.1", "%", False),
)
"""The measurements :func:`kpm` reports, in its order (module docstring)."""


def kpm(
    thr_mbps: np.ndarray,
    delay_ms: np.ndarray,
    prb_util: np.ndarray,
    users: np.ndarray,
    served: np.ndarray,
    active: np.ndarray,
    n_prb: int,
    missing: float = np.nan,
) -> dict[str, np.ndarray]:
    """One period's KPIs under their TS 28.552 names (module docstring).

    Every array is shaped ``(..., n_cells, n_slices)`` and means what the field of that name
    of :class:`~slicesim.sim.kpi.PeriodReport` means.

    Args:
        thr_mbps: average user throughput while a user had data (Mbit/s).
        delay_ms: average burst delay (ms).
        prb_util: share of the cell's PRBs the slice used.
        users: mean users in session.
        served: the slice had data.
        active: the slice is active in the cell.
        n_prb: the cell's PRBs (``radio.n_prb``).
        missing: the value where there is no measurement (NaN; the env gives 0, as its
            ``info["kpi"]`` does, so that two equal infos compare equal).

    Returns:
        Per :data:`MEASUREMENTS` name: ``(..., n_cells, n_slices)`` for a per-slice measurement
        (``missing`` where the slice is inactive, throughput and delay also where it had no
        data), ``(..., n_cells)`` for a per-cell one.
    """
    active = np.asarray(active, dtype=bool)
    sample = active & np.asarray(served, dtype=bool)
    used = np.where(active, np.asarray(prb_util, dtype=np.float64), 0.0) * n_prb
    return {
        "DRB.UEThpDl": np.where(sample, np.asarray(thr_mbps, dtype=np.float64) * 1e3, missing),
        "DRB.RlcSduDelayDl": np.where(
            sample, np.asarray(delay_ms, dtype=np.float64) * 10.0, missing
        ),
        "RRU.PrbUsedDl": np.where(active, used, missing),
        "DRB.MeanActiveUeDl": np.where(active, np.asarray(users, dtype=np.float64), missing),
        "RRU.PrbAvailDl": np.full(active.shape[:-1], float(n_prb)),
        "RRU.PrbTotDl": 100.0 * used.sum(axis=-1) / n_prb,
    }


def snssai(slice_config: SliceConfig) -> str:
    """The slice's S-NSSAI as ``"SST-SD"`` (TS 23.501 clause 5.15.2.1: a Slice/Service Type and
    a Slice Differentiator; TS 23.003: one octet and three, the SD in hex): its ``sst`` and
    ``sd``, the SD the slice id in hex where the scenario gives none."""
    sd = slice_config.sd or f"{slice_config.id:06x}"
    return f"{slice_config.sst}-{sd.lower()}"


def rrm_policy_ratio(
    x: np.ndarray,
    active: np.ndarray,
    slices: Sequence[SliceConfig],
    sim: SimConfig | None = None,
) -> list[dict[str, Any]]:
    """A decision as RRMPolicyRatio records (TS 28.541 clause 4.3.36), one per active (cell, slice).

    The ratios are the ones the simulator applies (``sim.slicing`` and ``sim.rrm_action``,
    :func:`slicesim.sim.scheduler.rrm_prbs`): under isolated slicing (the default) a slice's
    share is reserved for it (idle if unused) and is the most it may use, so its dedicated,
    minimum and maximum ratios are all the share; under ``rrm_policy`` with ``rrm_action: min``
    the share is the minimum (dedicated 0, maximum 100), with ``max`` the maximum (dedicated and
    minimum 0), with ``dedicated`` all three, with ``min_max`` the action's two. Ratios are whole
    percent (TS 28.541 clause 4.4.1: integers 0..100), rounded down, so a cell's dedicated and
    minimum ratios never sum above 100; a share's remainder below 1 % stays unassigned.

    Args:
        x: the action, as the env takes it: ``(n_cells, n_slices)`` shares, or under
            ``rrm_action: min_max`` ``(n_cells, n_slices, 2)`` minimum and maximum.
        active: which slices are active, ``(n_cells, n_slices)``.
        slices: the scenario's slice types, in the columns' order (``config.slices``).
        sim: the scenario's ``sim`` settings (``config.sim``); default isolated slicing.

    Returns:
        Records ``{"cell", "resourceType": "PRB_DL", "rRMPolicyMemberList": [{"sNSSAI"}],
        "rRMPolicyDedicatedRatio", "rRMPolicyMinRatio", "rRMPolicyMaxRatio"}``, cell by cell,
        slices in the columns' order. The member's ``plmnId`` is the operator's to add.

    Raises:
        ValueError: shapes that do not match, or a share outside [0, 1] or NaN.
    """
    sim = sim or SimConfig()
    action = sim.mapping
    x = np.asarray(x, dtype=np.float64)
    active = np.asarray(active, dtype=bool)
    shape = (*active.shape, 2) if action == "min_max" else active.shape
    if active.ndim != 2 or x.shape != shape or active.shape[1] != len(slices):
        raise ValueError(
            f"x has shape {x.shape}, active {active.shape}: expected x {shape} and active "
            f"(n_cells, {len(slices)}), one column per slice type"
        )
    if not np.all((x >= 0) & (x <= 1)):
        raise ValueError("x: every share must lie in [0, 1] (no NaN)")
    dedicated, minimum, maximum = (p.astype(int) for p in rrm_prbs(x, 100, action))
    records = []
    for cell, s in zip(*np.nonzero(active), strict=True):
        records.append(
            {
                "cell": int(cell),
                "resourceType": "PRB_DL",
                "rRMPolicyMemberList": [{"sNSSAI": snssai(slices[s])}],
                "rRMPolicyDedicatedRatio": int(dedicated[cell, s]),
                "rRMPolicyMinRatio": int(minimum[cell, s]),
                "rRMPolicyMaxRatio": int(maximum[cell, s]),
            }
        )
    return records
