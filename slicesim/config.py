"""Scenario configuration: frozen, validated dataclasses loaded from YAML.

Every numeric field carries its allowed range in ``metadata["range"]``; ``__post_init__``
checks it and raises :class:`ConfigError` naming the field, the value and the range. Scenario
files are read with ``yaml.safe_load``; unknown keys are errors. The physical defaults and their
3GPP sources are cited next to each field and listed in the README's model table.
"""

from __future__ import annotations

import importlib.resources
import math
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from slicesim.profiles import PROFILES, MasksCsvError, load_masks_csv
from slicesim.typed_config import ConfigError, Validated, build, choice, num, replaced

__all__ = [
    "ENGINE_NAMES",
    "KPI_MODEL_NAMES",
    "LINK_NAMES",
    "O2I_NAMES",
    "PATHLOSS_NAMES",
    "RADIO_MODEL_NAMES",
    "RRM_ACTIONS",
    "SLICINGS",
    "AntennaConfig",
    "ConfigError",
    "IndoorConfig",
    "LayoutConfig",
    "LegacyRadioConfig",
    "PhaseConfig",
    "RadioConfig",
    "ScenarioConfig",
    "SimConfig",
    "SliceConfig",
    "TimelineConfig",
    "TimelineWarning",
    "TrafficConfig",
    "cluster_indices",
    "default_engine",
    "list_scenarios",
    "load_scenario",
]

RADIO_MODEL_NAMES = ("3gpp", "legacy")
"""Radio models of ``radio.model`` (classes in :mod:`slicesim.sim.channel`)."""
PATHLOSS_NAMES = ("uma_38901", "macro_36942")
"""Path-loss models of ``radio.legacy.pathloss`` (classes in :mod:`slicesim.sim.channel`)."""
O2I_NAMES = ("tr38901", "tr36873")
"""Outdoor-to-indoor loss models of ``radio.indoor.o2i`` (:mod:`slicesim.sim.channel`)."""
LINK_NAMES = ("cqi", "shannon")
"""Link models of ``radio.link`` (classes in :mod:`slicesim.sim.link`)."""
KPI_MODEL_NAMES = ("legacy", "user_ps")
"""KPI models of ``sim.kpi_model`` (classes in :mod:`slicesim.sim.kpi_model`)."""
ENGINE_NAMES = ("compiled", "reference")
"""Engines of ``sim.engine`` (:mod:`slicesim.sim.window`)."""
SLICINGS = ("isolated", "rrm_policy")
"""How a cell's slices share its PRBs (``sim.slicing``; :attr:`SimConfig.slicing`)."""

RRM_ACTIONS = ("min", "max", "dedicated", "min_max")
"""How an action maps onto RRMPolicyRatio under ``rrm_policy`` (``sim.rrm_action``;
:attr:`SimConfig.rrm_action`)."""


def default_engine() -> str:
    """``sim.engine``'s default: ``compiled``, or ``SLICESIM_ENGINE`` where it is set (CI runs the
    simulator's and env's tests once more with ``SLICESIM_ENGINE=reference``)."""
    return os.environ.get("SLICESIM_ENGINE", "compiled")


class TimelineWarning(UserWarning):
    """A timeline phase starts at or after ``n_periods``: it is never reached."""


def cluster_indices(n_sites: int) -> tuple[int, int]:
    """(i, j) with i^2 + ij + j^2 = n_sites, i >= j >= 0 (the hexagonal cluster shift).

    Raises:
        ConfigError: ``n_sites`` is not a hexagonal cluster size.
    """
    for i in range(math.isqrt(n_sites) + 1):
        for j in range(i + 1):
            if i * i + i * j + j * j == n_sites:
                return i, j
    allowed = sorted({i * i + i * j + j * j for i in range(1, 8) for j in range(i + 1)})
    raise ConfigError(
        f"layout.n_sites = {n_sites} is not a hexagonal cluster size i^2 + ij + j^2: "
        f"allowed {', '.join(map(str, allowed[:12]))}, ..."
    )


@dataclass(frozen=True)
class LayoutConfig(Validated):
    """Site layout: hexagonal grid with wrap-around."""

    n_sites: int = num(1, 10_000, 4)
    """Sites in the wrap-around cluster; must be i^2 + ij + j^2 (1, 3, 4, 7, 12, 13, 19, ...)."""
    isd_m: float = num(10, 20_000, 500.0, "m", lo_open=True)  # TR 36.814 Table A.2.1.1-2 Case 1
    azimuths_deg: tuple[float, ...] = num(-360, 360, (30.0, 150.0, 270.0), "deg")
    bs_height_m: float = num(1, 300, 25.0, "m")  # TR 38.901 Table 7.4.1-1 UMa h_BS
    ue_height_m: float = num(1, 22.5, 1.5, "m")  # outdoor users, TR 38.901 Tables 7.2-1, 7.4.1-1
    min_distance_m: float = num(0, 1_000, 35.0, "m")  # TR 36.814 Table A.2.1.1-2 (35 m)

    def _check(self) -> None:
        cluster_indices(self.n_sites)
        if not self.azimuths_deg:
            raise ConfigError("azimuths_deg must list at least one sector azimuth")
        if self.min_distance_m >= self.isd_m / 2:
            raise ConfigError(
                f"min_distance_m = {self.min_distance_m} must be below isd_m / 2 = {self.isd_m / 2}"
            )


@dataclass(frozen=True)
class AntennaConfig(Validated):
    """BS antenna of the 3GPP radio model: the TR 38.901 element, alone or in a vertical column.

    The element is TR 38.901 Table 7.3-1 (= TR 36.873 Table 7.1-1): A_V = -min(12 ((theta - 90) /
    theta_3dB)^2, SLA_V), A_H = -min(12 (phi / phi_3dB)^2, A_max), A = -min(-(A_V + A_H), A_max),
    peak gain 8 dBi. ``elements`` > 1 stacks it in a uniform vertical column, one port, with
    electrical downtilt weights (TR 36.873 section 7.1.1; TR 38.901 Table 7.8-1 and TR 36.873
    Table 8.2-1: K = M = 10 elements at 0.5 lambda, 102 deg = 12 deg below the horizon).
    """

    elements: int = num(1, 64, 10)
    """Vertical elements M of the column (1: a single element, TR 36.873 K = M = 1)."""
    spacing_wavelengths: float = num(0.1, 4, 0.5)  # d_V / lambda, TR 36.873 Table 8.2-1
    electrical_tilt_deg: float = num(-90, 90, 12.0, "deg")
    """Downtilt of the column's beam below the horizon (theta_etilt = 90 + tilt, TR 38.901 Table
    7.8-1: 102 deg); no effect with one element."""
    element_gain_dbi: float = num(-10, 30, 8.0, "dBi")  # G_E,max, TR 38.901 Table 7.3-1
    beamwidth_h_deg: float = num(1, 360, 65.0, "deg")  # phi_3dB, TR 38.901 Table 7.3-1
    beamwidth_v_deg: float = num(1, 180, 65.0, "deg")  # theta_3dB, TR 38.901 Table 7.3-1
    max_attenuation_db: float = num(0, 100, 30.0, "dB")  # A_max, TR 38.901 Table 7.3-1
    side_lobe_db: float = num(0, 100, 30.0, "dB")  # SLA_V, TR 38.901 Table 7.3-1


@dataclass(frozen=True)
class IndoorConfig(Validated):
    """Indoor users of the 3GPP radio model: heights on floors and outdoor-to-indoor loss.

    Indoor users stand on floor n_fl ~ U{1..N_fl} of a building with N_fl ~ U{floors_min..
    floors_max} floors, at h_UT = 3 (n_fl - 1) + 1.5 m (TR 38.901 Table 7.2-1), at d_2D-in inside
    the building. Their loss adds PL_tw + 0.5 d_2D-in + N(0, sigma_P^2) (TR 38.901 7.4.3.1).
    """

    fraction: float = num(0, 1, 0.8)  # indoor users, TR 38.901 Tables 7.2-1 and 7.8-1 (80 %)
    o2i: str = "tr38901"
    """O2I model: ``tr38901`` (TR 38.901 7.4.3.1, low/high-loss buildings) or ``tr36873`` (TR
    36.873 Table 7.2-1: 20 dB through the wall + 0.5 d_2D-in, d_2D-in ~ U(0, 25 m))."""
    high_loss_fraction: float = num(0, 1, 0.5)
    """Share of indoor users in high-loss buildings (IRR glass + concrete; the rest low-loss:
    standard glass + concrete), TR 38.901 Table 7.4.3-2; the calibration uses 50 % (Table 7.8-1)."""
    max_distance_m: float = num(0, 100, 25.0, "m")
    """d_2D-in: TR 38.901 7.4.3.1 takes the minimum of two U(0, 25 m) draws for UMa."""
    floors_min: int = num(1, 100, 4)  # N_fl ~ U{4..8}, TR 38.901 Table 7.2-1
    floors_max: int = num(1, 100, 8)

    def _check(self) -> None:
        if self.o2i not in O2I_NAMES:
            raise ConfigError(f"o2i = {self.o2i!r} is unknown: allowed {sorted(O2I_NAMES)}")
        if self.floors_min > self.floors_max:
            raise ConfigError(
                f"floors_min = {self.floors_min} must not exceed floors_max = {self.floors_max}"
            )


@dataclass(frozen=True)
class LegacyRadioConfig(Validated):
    """The radio model of slicesim 0.1, before its 3GPP calibration (``radio.model: legacy``).

    A 2-D sector pattern (TR 36.942 4.2.1), every user outdoors at the layout's UE height, users
    dropped on disc wedges, inter-site correlated shadowing and a 70 dB minimum coupling loss.
    Kept so that earlier results stay reproducible bit for bit.
    """

    pathloss: str = "uma_38901"
    """Path-loss model: ``uma_38901`` (TR 38.901 Table 7.4.1-1) or ``macro_36942`` (TR 36.942)."""
    shadowing_correlation: float = num(0, 1, 0.5)  # inter-site, TR 36.942 section 4.5
    min_coupling_loss_db: float = num(0, 150, 70.0, "dB")  # TR 36.942 Table 4.1 (macro, 70 dB)
    antenna_gain_dbi: float = num(-10, 30, 15.0, "dBi")  # TR 36.942 section 4.2.1 (15 dBi)
    beamwidth_deg: float = num(1, 360, 65.0, "deg")  # TR 36.942 section 4.2.1 theta_3dB
    max_attenuation_db: float = num(0, 60, 20.0, "dB")  # TR 36.942 section 4.2.1 A_m

    def _check(self) -> None:
        if self.pathloss not in PATHLOSS_NAMES:
            raise ConfigError(
                f"pathloss = {self.pathloss!r} is unknown: allowed {sorted(PATHLOSS_NAMES)}"
            )


@dataclass(frozen=True)
class RadioConfig(Validated):
    """Carrier, power, propagation and link model.

    ``model: 3gpp`` (the default) is calibrated against TR 38.901 / TR 36.873 (README, "The model
    and its assumptions"): UMa path loss with the user's height and LOS probability, 80 % indoor
    users with O2I loss (``indoor``), the 3-D antenna (``antenna``), drops uniform over the area,
    shadowing uncorrelated between sites. ``model: legacy`` is slicesim 0.1's model (``legacy``).
    """

    model: str = "3gpp"
    """Radio model: ``3gpp`` or ``legacy`` (slicesim 0.1, parameters in ``legacy``)."""
    carrier_ghz: float = num(0.5, 100, 2.6, "GHz")
    n_prb: int = num(6, 275, 100)  # 20 MHz = 100 PRBs, TS 36.101 Table 5.6-1
    prb_bandwidth_hz: float = num(15e3, 1.44e6, 180e3, "Hz")  # 12 x 15 kHz, TS 36.211 6.2.3
    overhead: float = num(0, 0.9, 0.25)  # control + reference signals; peak 75.4 Mbit/s (36.213)
    tx_power_dbm: float = num(0, 70, 46.0, "dBm")  # TR 36.814 Table A.2.1.1-2 (46 dBm, 20 MHz)
    noise_density_dbm_hz: float = num(-200, -100, -174.0, "dBm/Hz")  # thermal noise, 290 K
    noise_figure_db: float = num(0, 20, 9.0, "dB")  # TR 36.814 Table A.2.1.1-2 UE NF
    shadowing_correlation: float = num(0, 1, 0.0)
    """Inter-site correlation of shadowing (co-sited sectors share it): 0, as TR 38.901's
    calibration (Table 7.8-1) leaves sites uncorrelated."""
    min_coupling_loss_db: float = num(0, 150, 0.0, "dB")
    """Lower bound on the coupling loss; 0 = none (TR 38.901 has only the 35 m minimum distance)."""
    antenna: AntennaConfig = field(default_factory=AntennaConfig)
    indoor: IndoorConfig = field(default_factory=IndoorConfig)
    legacy: LegacyRadioConfig = field(default_factory=LegacyRadioConfig)
    link: str = "cqi"
    """Link model: ``cqi`` (TS 36.213 Table 7.2.3-1) or ``shannon`` (TR 36.942 Annex A)."""

    def _check(self) -> None:
        if self.model not in RADIO_MODEL_NAMES:
            raise ConfigError(
                f"model = {self.model!r} is unknown: allowed {sorted(RADIO_MODEL_NAMES)}"
            )
        if self.link not in LINK_NAMES:
            raise ConfigError(f"link = {self.link!r} is unknown: allowed {sorted(LINK_NAMES)}")


@dataclass(frozen=True)
class SimConfig(Validated):
    """Time scales of the engine: a control period is simulated as a shorter stationary window."""

    period_s: float = num(1, 86_400, 900.0, "s")
    """Network time one control period stands for (15 min in the paper)."""
    window_s: float = num(0.1, 86_400, 20.0, "s")
    """Simulated window per period; the traffic level is held stationary inside it."""
    epoch_s: float = num(0.001, 3_600, 1.0, "s")
    """Scheduling epoch: interval at which loads, rates and buffers are updated."""
    buffer_s: float = num(0.01, 3_600, 4.0, "s")
    """Per-user buffer, in seconds of the user's offered rate; data beyond it is dropped."""
    drops_per_cell: int = num(10, 1_000_000, 1000)
    """User drops (position, shadowing, LOS) pre-computed per cell; sessions draw from them."""
    kpi_model: str = "user_ps"
    """How an epoch's burst throughput and each user's time with data are modelled
    (:mod:`slicesim.sim.kpi_model`): ``user_ps`` (user-level processor sharing, checked against
    a TTI-level scheduler) or ``legacy`` (slicesim 0.1's flow-level formulas, bit for bit)."""
    engine: str = field(default_factory=default_engine)
    """What simulates a period's window (:mod:`slicesim.sim.window`): ``compiled`` (one numba
    call per window; the models that have a compiled form) or ``reference`` (SimPy and numpy,
    the specification). Both give the same numbers, bit for bit; where the compiled engine
    cannot run (numba missing, a model without a compiled form) the reference runs, with a
    warning."""

    slicing: str = choice("isolated", *SLICINGS)
    """How a cell's slices share its PRBs (:data:`SLICINGS`):
    ``isolated`` (the paper's: a slice's share caps its PRBs every TTI, what it leaves unused
    stays idle) or ``rrm_policy`` (3GPP TS 28.541 RRMPolicyRatio, as gNBs implement it: PRBs a
    slice leaves idle go to the others, within dedicated, minimum and maximum ratios that the
    action sets through ``rrm_action``)."""
    rrm_action: str = choice("min", *RRM_ACTIONS)
    """Under ``rrm_policy``, how the action maps onto the ratios
    (:data:`RRM_ACTIONS`): ``min`` (the share is the slice's minimum;
    dedicated 0, maximum 100 %), ``max`` (the share is its maximum), ``dedicated`` (all three:
    isolated slicing, bit for bit) or ``min_max`` (the env's action is (n_cells, n_slices, 2):
    minimum and maximum). Ignored under ``isolated``."""

    def _check(self) -> None:
        if self.kpi_model not in KPI_MODEL_NAMES:
            raise ConfigError(
                f"kpi_model = {self.kpi_model!r} is unknown: allowed {sorted(KPI_MODEL_NAMES)}"
            )
        if self.engine not in ENGINE_NAMES:
            raise ConfigError(
                f"engine = {self.engine!r} is unknown: allowed {sorted(ENGINE_NAMES)}"
            )
        if self.epoch_s > self.window_s:
            raise ConfigError(
                f"epoch_s = {self.epoch_s} must not exceed window_s = {self.window_s}"
            )
        if self.window_s > self.period_s:
            raise ConfigError(
                f"window_s = {self.window_s} must not exceed period_s = {self.period_s}"
            )

    @property
    def mapping(self) -> str:
        """How an action becomes RRMPolicyRatio: ``rrm_action`` under ``rrm_policy``, and
        ``dedicated`` (every ratio the share) under isolated slicing."""
        return self.rrm_action if self.slicing == "rrm_policy" else "dedicated"

    @property
    def action_shape(self) -> tuple[int, ...]:
        """The trailing axes of an action beyond (n_cells, n_slices): ``(2,)`` (minimum,
        maximum) under ``min_max``, else none."""
        return (2,) if self.mapping == "min_max" else ()

    @property
    def periods_per_day(self) -> int:
        """Control periods in a day (the traffic masks' cycle), at least 1."""
        return max(1, round(86_400 / self.period_s))

    @property
    def n_epochs(self) -> int:
        """Scheduling epochs in a simulated window."""
        return math.ceil(self.window_s / self.epoch_s - 1e-9)


@dataclass(frozen=True)
class SliceConfig(Validated):
    """One slice type: its QoS needs and its users' traffic."""

    id: int = num(1, 1_000, 1)
    name: str = "slice"
    thr_mbps: float = num(0, 10_000, 1.0, "Mbit/s", lo_open=True)
    """Need on average user throughput (while the user has data), paper Section V-A."""
    delay_ms: float = num(0, 100_000, 100.0, "ms", lo_open=True)
    """Need on packet delay: TS 23.501 Table 5.7.4-1 packet delay budget of the service."""
    profile: str = "residential"
    """Daily traffic profile (``slicesim.profiles.PROFILES``) or a column of ``masks_csv``."""
    users_per_cell: float = num(0, 10_000, 4.0)
    """Mean number of users in session per cell when the traffic mask is 1."""
    session_s: float = num(0, 86_400, 60.0, "s", lo_open=True)
    offered_mbps: float = num(0, 10_000, 0.5, "Mbit/s", lo_open=True)
    """Mean offered rate of a user in session."""
    burst_kbit: float = num(0, 1e6, 100.0, "kbit", lo_open=True)
    """Size of one application burst (a video chunk, a game update, a voice frame bundle)."""
    sst: int = num(1, 255, 1)
    """Slice/Service Type of its S-NSSAI (TS 23.501 clause 5.15.2.2: 1 eMBB, 2 URLLC, 3 MIoT,
    ...); what the O-RAN names carry (:mod:`slicesim.sim.oran`)."""
    sd: str = ""
    """Slice Differentiator of its S-NSSAI: six hex digits (three octets); empty: the slice id."""

    def _check(self) -> None:
        if self.sd and not re.fullmatch(r"[0-9a-fA-F]{6}", self.sd):
            raise ConfigError(
                f"sd = {self.sd!r} must be six hex digits (three octets), e.g. '0000a1'"
            )


@dataclass(frozen=True)
class TrafficConfig(Validated):
    """Traffic masks and the spatial distribution of users."""

    masks_csv: str | None = None
    """CSV of a user's own masks: one column per profile name, one row per period. A relative
    path in a scenario file is relative to that file's folder."""
    load_scale: float = num(0, 10, 1.0, lo_open=True)
    """Scales every slice's offered traffic (session arrivals): the x-axis of a load sweep."""
    day_sigma: float = num(0, 1, 0.05)
    """Std of the day-to-day factor applied to each slice's daily profile."""
    noise_sigma: float = num(0, 1, 0.05)
    """Std of the per-period multiplicative noise of the masks."""
    cell_weight_sigma: float = num(0, 3, 0.3)
    """Std of log spatial weights: cells are unequally loaded (0 = all equal)."""

    def _check(self) -> None:
        if self.masks_csv is not None:
            try:
                load_masks_csv(self.masks_csv)
            except (MasksCsvError, FileNotFoundError) as err:
                raise ConfigError(f"masks_csv: {err}") from None

    def profile_names(self) -> list[str]:
        """The profile names a slice may use: the built-in ones, or the CSV's columns."""
        if self.masks_csv is None:
            return sorted(PROFILES)
        return list(load_masks_csv(self.masks_csv))


@dataclass(frozen=True)
class PhaseConfig(Validated):
    """A phase of the timeline: from period ``start`` on, the slice ids in ``slices`` are active."""

    name: str = "H0"
    start: int = num(0, 10**9, 0)
    slices: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class TimelineConfig(Validated):
    """Phases and the episode length in periods (phases past the end are never reached)."""

    n_periods: int = num(1, 10**9, 96)
    phases: tuple[PhaseConfig, ...] = field(default_factory=lambda: (PhaseConfig(),))

    @property
    def first_phase_end(self) -> int:
        """Start of the second phase (H1 of ``paper``): where learners stop collecting.

        A one-phase timeline gives a fifth of its length.
        """
        return self.phases[1].start if len(self.phases) > 1 else max(1, self.n_periods // 5)

    def _check(self) -> None:
        if not self.phases or self.phases[0].start != 0:
            raise ConfigError("phases must start with a phase at start = 0")
        starts = [p.start for p in self.phases]
        if starts != sorted(set(starts)):
            raise ConfigError(f"phases[].start = {starts} must be strictly increasing")
        late = [p.name for p in self.phases if p.start >= self.n_periods]
        if late:  # allowed (a shortened run), but never silently
            warnings.warn(
                f"timeline phases {late} start at or after n_periods = {self.n_periods} and are "
                "never reached",
                TimelineWarning,
                stacklevel=2,
            )


@dataclass(frozen=True)
class ScenarioConfig(Validated):
    """A whole scenario: network, slices, traffic and the timeline of slice changes."""

    name: str = "custom"
    description: str = ""
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    radio: RadioConfig = field(default_factory=RadioConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    slices: tuple[SliceConfig, ...] = field(default_factory=lambda: (SliceConfig(),))
    timeline: TimelineConfig = field(default_factory=TimelineConfig)

    def _check(self) -> None:
        ids = [s.id for s in self.slices]
        if not ids:
            raise ConfigError("slices must list at least one slice type")
        if len(set(ids)) != len(ids):
            raise ConfigError(f"slices[].id = {ids} must be unique")
        for i, phase in enumerate(self.timeline.phases):
            for sid in phase.slices:
                if sid not in ids:
                    raise ConfigError(
                        f"timeline.phases[{i}].slices: unknown slice id {sid} (known: {ids})"
                    )
        profiles = self.traffic.profile_names()
        for i, sl in enumerate(self.slices):
            if sl.profile not in profiles:
                source = "traffic.masks_csv columns" if self.traffic.masks_csv else "built in"
                raise ConfigError(
                    f"slices[{i}].profile = {sl.profile!r} is unknown: allowed {profiles} "
                    f"({source})"
                )

    @property
    def n_slices(self) -> int:
        """Number of slice types (the action's second dimension)."""
        return len(self.slices)

    @property
    def slice_ids(self) -> tuple[int, ...]:
        """Id of every slice type, in column order."""
        return tuple(s.id for s in self.slices)

    @property
    def thr_need_mbps(self) -> np.ndarray:
        """Throughput need thr* of every slice type (Mbit/s), shape (n_slices,)."""
        return np.array([s.thr_mbps for s in self.slices])

    @property
    def delay_need_ms(self) -> np.ndarray:
        """Delay need d* of every slice type (ms), shape (n_slices,)."""
        return np.array([s.delay_ms for s in self.slices])

    def slice_index(self, slice_id: int) -> int:
        """Column of slice ``slice_id`` in every (n_cells, n_slices) array."""
        try:
            return self.slice_ids.index(slice_id)
        except ValueError:
            raise KeyError(f"unknown slice id {slice_id} (known: {list(self.slice_ids)})") from None

    def phase_at(self, period: int) -> PhaseConfig:
        """The timeline phase in force at ``period``."""
        current = self.timeline.phases[0]
        for phase in self.timeline.phases:
            if phase.start <= period:
                current = phase
        return current

    def timeline_overrides(self, n_periods: int) -> dict[str, Any]:
        """Overrides that shorten (or stretch) the timeline to ``n_periods``, phases scaled.

        Every phase is kept (so the slice change), e.g. ``paper`` at 500 periods: phases at 0,
        100, 300.
        """
        old = self.timeline
        starts: list[int] = []
        for phase in old.phases:
            scaled = round(phase.start * n_periods / old.n_periods)
            starts.append(scaled if not starts else max(scaled, starts[-1] + 1))
        phases = [
            {"name": p.name, "start": s, "slices": list(p.slices)}
            for p, s in zip(old.phases, starts, strict=True)
        ]
        return {"timeline.n_periods": n_periods, "timeline.phases": phases}

    def compressed(self, n_periods: int) -> ScenarioConfig:
        """This scenario with its timeline scaled to ``n_periods`` (:meth:`timeline_overrides`)."""
        return self.replace(self.timeline_overrides(n_periods))

    def replace(self, overrides: Mapping[str, Any]) -> ScenarioConfig:
        """A copy with ``overrides`` applied: nested dicts or dotted keys (``"sim.window_s"``).

        A number in a dotted key indexes a list by position: ``"slices.1.thr_mbps"``.

        Raises:
            ConfigError: an unknown key, a list index out of range, or a bad value (named).
        """
        return replaced(self, overrides, moved=_MOVED)


_MOVED = {
    f"radio.{name}": f"radio.legacy.{name}"
    for name in ("pathloss", "antenna_gain_dbi", "beamwidth_deg", "max_attenuation_db")
}
"""Scenario keys of slicesim 0.1 that moved, for a helpful error."""


# ---------------------------------------------------------------- scenario files


def _shipped() -> dict[str, Any]:
    """The scenario files shipped inside the package (``slicesim/scenarios/*.yaml``) by name."""
    folder = importlib.resources.files("slicesim") / "scenarios"
    return {p.name[:-5]: p for p in folder.iterdir() if p.name.endswith(".yaml")}


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(_shipped())


def load_scenario(
    name_or_path: str | Path, overrides: Mapping[str, Any] | None = None
) -> ScenarioConfig:
    """Load a shipped scenario by name (``paper``, ``small``) or a YAML file by path.

    Args:
        name_or_path: a shipped scenario's name or the path of a scenario YAML file.
        overrides: nested dict or dotted keys applied on top of the file.

    Raises:
        FileNotFoundError: no such scenario name or file.
        ConfigError: the file is malformed (the message names the field and allowed range).
    """
    path = Path(name_or_path)
    shipped = _shipped()
    if not path.suffix:
        if str(name_or_path) not in shipped:
            raise FileNotFoundError(
                f"unknown scenario {str(name_or_path)!r}: shipped scenarios are {sorted(shipped)}"
            )
        resource, folder, label = shipped[str(name_or_path)], None, f"{name_or_path}.yaml"
    elif not path.is_file():
        raise FileNotFoundError(f"scenario file {str(path)!r} does not exist")
    else:
        resource, folder, label = path, path.resolve().parent, str(path)
    try:
        data = yaml.safe_load(resource.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"scenario file {label!r} is not valid YAML: {err}") from None
    try:
        config = build(ScenarioConfig, _relative_to(data, folder), "", _MOVED)
        return config.replace(overrides) if overrides else config
    except ConfigError as err:
        raise ConfigError(f"scenario file {label!r}: {err}") from None


def _relative_to(data: Any, folder: Path | None) -> Any:
    """``traffic.masks_csv`` of a scenario file, resolved against the file's folder."""
    traffic = data.get("traffic") if isinstance(data, dict) else None
    csv = traffic.get("masks_csv") if isinstance(traffic, dict) else None
    if folder is None or traffic is None or not isinstance(csv, str) or Path(csv).is_absolute():
        return data
    return {**data, "traffic": {**traffic, "masks_csv": str(folder / csv)}}
