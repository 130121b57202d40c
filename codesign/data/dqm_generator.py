"""Synthetic per-run DQM ROOT files in the layout of the CMS DQM GUI store, with labelled anomalies.

Real DQM files live on CERN's /eos and are not reachable here, so `generate` writes look-alikes that the
fetch step (`codesign.data.dqm_root`) reads exactly as it would read real ones:

- the store layout and file names: ``Run2018/SingleMuon/R0003152xx/DQM_V0001_R000315267__SingleMuon__Run2018A-
  12Nov2019_UL2018-v2__DQMIO.root``, run numbers inside the real 2017 (B-F) and 2018 (A-D) era ranges;
- inside, ``DQMData/Run <run>/<subsystem>/Run summary/...`` with ten CSC and EMTF histograms (TH1F/TH2F with titles
  and axis titles), the set of AutoDQM_ML's tutorial;
- per-run conditions that move the shapes smoothly: integrated luminosity (entries span 2-3 decades; a few % of
  runs fall under AutoDQM's 10,000-entry cut), pile-up, a drift with run number within a year (chamber ageing,
  timing drift) and era-to-era offsets (re-synchronisations); fixed detector non-uniformities shared by all runs
  (chamber efficiencies, two known-weak chambers, per-bin EMTF response); Poisson bin contents;
- incidents of the kinds shifters see (dead region, hot channel, shifted peak, broadened peak, missing statistics,
  wrong normalization of one endcap), one per bad run, in one subsystem, touching the 1-3 histograms it would
  really touch, with severities from obvious to subtle. Labelled and unlabelled runs are bad at the same rate.

`contents.json` and `datasets.json` (AutoDQM formats) and `truth.json` (settings, per-run conditions, every
incident) are written beside the store. Everything is a deterministic function of the seed: run r draws from the
seed sequence (seed, r). The ROOT bytes still differ between two generations, because uproot stamps each file with
its creation time and a UUID; the histogram contents do not.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.special import ndtr

import codesign
from codesign import outdir
from codesign.errors import CodesignError

# Real Run-2 era boundaries (first, last run) and UL reprocessings.
ERAS = {
    2017: {"B": (297046, 299329), "C": (299368, 302029), "D": (302030, 303434), "E": (303824, 304797),
           "F": (305040, 306460)},
    2018: {"A": (315252, 316995), "B": (317080, 319310), "C": (319337, 320065), "D": (320673, 325175)},
}
ERA_LUMI = {"2017B": 4.8, "2017C": 9.6, "2017D": 4.2, "2017E": 9.3, "2017F": 13.5,  # fb^-1: runs per era
            "2018A": 14.0, "2018B": 7.1, "2018C": 6.9, "2018D": 31.9}
PRODUCTIONS = {2017: ("09Aug2019_UL2017", 1), 2018: ("12Nov2019_UL2018", 2)}  # (processing, version)
PILEUP = {2017: 32.0, 2018: 34.0}
# Era-to-era differences: CSC timing offset [ns] after re-synchronisations, EMTF early/late BX asymmetry.
ERA_T0 = {"2017B": 1.1, "2017C": 0.4, "2017D": 0.5, "2017E": -0.3, "2017F": -0.2,
          "2018A": 0.6, "2018B": 0.1, "2018C": 0.2, "2018D": -0.4}
ERA_BX = {"2017B": 0.25, "2017C": 0.1, "2017D": 0.1, "2017E": -0.1, "2017F": -0.15,
          "2018A": 0.15, "2018B": 0.0, "2018C": 0.0, "2018D": -0.2}

TRACKS_PER_PB = 2500.0  # EMTF tracks per pb^-1 in this stream
LOG10_LUMI = (1.55, 0.45)  # mean, sd of log10(integrated luminosity / pb^-1) per run

CSC_OCC = "/Run summary/CSCOfflineMonitor/Occupancy/"
CSC_SEG = "/Run summary/CSCOfflineMonitor/Segments/"
EMTF = "/Run summary/L1TStage2EMTF/"
# Station-ring rows of the CSC occupancy plots, bottom to top, as in CSCOfflineMonitor.
CSC_ROWS = ("ME-4/2", "ME-4/1", "ME-3/2", "ME-3/1", "ME-2/2", "ME-2/1", "ME-1/3", "ME-1/2", "ME-1/1b", "ME-1/1a",
            "ME+1/1a", "ME+1/1b", "ME+1/2", "ME+1/3", "ME+2/1", "ME+2/2", "ME+3/1", "ME+3/2", "ME+4/1", "ME+4/2")
# Hit rate per chamber: (at pile-up 35, slope with pile-up); inner rings see more pile-up.
RING_RATE = {"1/1a": (1.3, 0.9), "1/1b": (1.2, 0.6), "1/2": (1.0, 0.25), "1/3": (0.55, 0.1), "2/1": (1.6, 0.6),
             "2/2": (0.9, 0.2), "3/1": (1.4, 0.5), "3/2": (0.8, 0.15), "4/1": (1.3, 0.5), "4/2": (0.75, 0.15)}
STATION_Z = {"1/1a": 600.0, "1/1b": 610.0, "1/2": 700.0, "1/3": 700.0, "2/1": 830.0, "2/2": 830.0, "3/1": 935.0,
             "3/2": 935.0, "4/1": 1025.0, "4/2": 1025.0}
EMTF_MODES = {15: 0.45, 14: 0.12, 13: 0.10, 11: 0.10, 7: 0.08, 12: 0.05, 10: 0.03, 9: 0.03, 6: 0.02, 5: 0.01, 3: 0.01}
MODE_QUALITY = {15: 12.0, 14: 11.0, 13: 10.0, 11: 10.0, 7: 9.0, 12: 7.0, 10: 6.0, 9: 5.0, 6: 5.0, 5: 4.0, 3: 4.0}


@dataclass(frozen=True)
class Spec:
    """One histogram: where it lives, its binning (n, low, high per axis), title and axis titles."""

    subsystem: str
    path: str
    title: str
    axes: tuple[tuple[int, float, float, str], ...]
    per_track: float  # entries per EMTF track

    @property
    def column(self) -> str:
        return f"{self.subsystem}/{self.path}"

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def n_bins(self) -> int:
        return self.axes[0][0] * (self.axes[1][0] if self.name in TWO_D else 1)

    def edges(self, axis: int = 0) -> np.ndarray:
        n, lo, hi, _ = self.axes[axis]
        return np.linspace(lo, hi, n + 1)

    def centres(self, axis: int = 0) -> np.ndarray:
        e = self.edges(axis)
        return 0.5 * (e[1:] + e[:-1])


SPECS = {s.name: s for s in (
    Spec("CSC", CSC_OCC + "hORecHits", "RecHit Occupancy",
         ((36, 0.5, 36.5, "Chamber #"), (20, 0.5, 20.5, "Station/Ring (ME-4/2 ... ME+4/2)")), 6.0),
    Spec("CSC", CSC_OCC + "hOSegments", "Segment Occupancy",
         ((36, 0.5, 36.5, "Chamber #"), (20, 0.5, 20.5, "Station/Ring (ME-4/2 ... ME+4/2)")), 1.1),
    Spec("CSC", CSC_SEG + "hSTimeCombinedSerial", "Segment Time (anode+cathode, serial)",
         ((100, -50.0, 50.0, "Time [ns]"), (1, 0.0, 1.0, "Segments")), 0.8),
    Spec("CSC", CSC_SEG + "hSTimeVsZ", "Segment Time vs. Z",
         ((88, -1100.0, 1100.0, "Global Z [cm]"), (40, -50.0, 50.0, "Time [ns]")), 0.8),
    Spec("CSC", CSC_SEG + "hSGlobalTheta", "Segment Global Theta",
         ((128, 0.0, np.pi, "Global #theta [rad]"), (1, 0.0, 1.0, "Segments")), 0.85),
    Spec("L1T", EMTF + "emtfTrackBX", "EMTF Track BX",
         ((7, -3.5, 3.5, "BX"), (1, 0.0, 1.0, "Tracks")), 1.0),
    Spec("L1T", EMTF + "emtfTrackEta", "EMTF Track #eta",
         ((100, -2.5, 2.5, "Track #eta"), (1, 0.0, 1.0, "Tracks")), 1.0),
    Spec("L1T", EMTF + "emtfTrackPhi", "EMTF Track #phi",
         ((126, -np.pi, np.pi, "Track #phi [rad]"), (1, 0.0, 1.0, "Tracks")), 1.0),
    Spec("L1T", EMTF + "emtfTrackOccupancy", "EMTF Track Occupancy",
         ((50, -2.5, 2.5, "#eta"), (72, -np.pi, np.pi, "#phi [rad]")), 1.0),
    Spec("L1T", EMTF + "emtfTrackQualityVsMode", "EMTF Track Quality vs Mode",
         ((16, -0.5, 15.5, "Mode"), (16, -0.5, 15.5, "Quality")), 1.0),
)}
TWO_D = ("hORecHits", "hOSegments", "hSTimeVsZ", "emtfTrackOccupancy", "emtfTrackQualityVsMode")

# Which histograms each kind of incident touches, per subsystem (and variant).
KINDS = ("dead_channel", "hot_channel", "shifted_peak", "broadened_peak", "missing_statistics",
         "wrong_normalization")
AFFECTS = {
    ("CSC", "dead_channel"): ("hORecHits", "hOSegments"),
    ("CSC", "hot_channel"): ("hORecHits", "hOSegments"),
    ("CSC", "shifted_peak"): ("hSTimeCombinedSerial", "hSTimeVsZ"),
    ("CSC", "broadened_peak"): ("hSTimeCombinedSerial", "hSTimeVsZ"),
    ("CSC", "missing_statistics"): ("hSTimeCombinedSerial", "hSTimeVsZ", "hSGlobalTheta"),
    ("CSC", "wrong_normalization"): ("hORecHits", "hOSegments", "hSGlobalTheta"),
    ("L1T", "dead_channel"): ("emtfTrackEta", "emtfTrackPhi", "emtfTrackOccupancy"),  # a dead sector
    ("L1T", "dead_station"): ("emtfTrackQualityVsMode",),  # a station missing from the track finder
    ("L1T", "hot_channel"): ("emtfTrackEta", "emtfTrackPhi", "emtfTrackOccupancy"),
    ("L1T", "shifted_peak"): ("emtfTrackBX",),
    ("L1T", "broadened_peak"): ("emtfTrackBX",),
    ("L1T", "missing_statistics"): ("emtfTrackBX", "emtfTrackEta", "emtfTrackPhi"),
    ("L1T", "wrong_normalization"): ("emtfTrackEta", "emtfTrackOccupancy"),
}
SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Generated:
    """What `generate` wrote."""

    root: Path
    files: tuple[Path, ...]
    contents: Path
    datasets: Path
    truth: Path
    n_runs: int
    n_bad: int
    n_unlabelled: int
    n_labelled_bad: int


@dataclass(frozen=True)
class Detector:
    """Fixed non-uniformities every run shares: chamber efficiencies and per-bin responses."""

    chamber_eff: np.ndarray  # (20 rows, 36 chambers), 0 where a ring has only 18 chambers
    theta_eff: np.ndarray  # (128,)
    phi_eff: np.ndarray  # (126,)
    cell_eff: np.ndarray  # (50, 72)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Detector":
        eff = np.clip(0.97 - np.abs(rng.normal(0.0, 0.025, (20, 36))), 0.8, 1.0)
        eff[rng.integers(0, 20, 2), rng.integers(0, 18, 2)] = 0.55  # two known-weak chambers (HV trouble)
        eff *= _chamber_exists()
        return cls(eff, 1 + rng.normal(0, 0.01, 128), 1 + rng.normal(0, 0.02, 126), 1 + rng.normal(0, 0.03, (50, 72)))


@dataclass
class State:
    """Everything one run's expected histograms depend on; incidents edit it before sampling."""

    tracks: float
    pileup: float
    drift: float
    era: str
    chamber_eff: np.ndarray  # the detector's, shared by all runs
    chamber_dead: np.ndarray = field(default_factory=lambda: np.ones((20, 36)))  # efficiency lost to an incident
    chamber_hot: np.ndarray = field(default_factory=lambda: np.ones((20, 36)))
    csc_endcap: np.ndarray = field(default_factory=lambda: np.ones(2))  # (minus, plus) scale
    t_shift: float = 0.0
    t_width: float = 1.0
    sector_eff: np.ndarray = field(default_factory=lambda: np.ones((2, 6)))  # (endcap, sector)
    station_eff: np.ndarray = field(default_factory=lambda: np.ones((2, 4)))
    emtf_endcap: np.ndarray = field(default_factory=lambda: np.ones(2))
    hot_cell: tuple[int, int, float] | None = None  # (eta bin, phi bin, factor) of the occupancy plot
    bx_shift: float = 0.0  # fraction moved to BX +-1 (sign = direction)
    bx_width: float = 1.0
    kept: dict = field(default_factory=dict)  # histogram name -> fraction of events recorded

    @property
    def pu(self) -> float:
        return self.pileup / 35.0 - 1.0

    def healthy(self) -> "State":
        """The same run without its incident."""
        return State(self.tracks, self.pileup, self.drift, self.era, self.chamber_eff)


def _chamber_exists() -> np.ndarray:
    """Stations 2-4 ring 1 have 18 (20-degree) chambers; every other ring has 36."""
    exists = np.ones((20, 36))
    for i, row in enumerate(CSC_ROWS):
        if row[3:] in ("2/1", "3/1", "4/1"):
            exists[i, 18:] = 0.0
    return exists


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gauss_bins(edges, mu, sigma):
    """Probability of each bin under N(mu, sigma); mu/sigma may broadcast (e.g. one per row)."""
    cdf = ndtr((edges - np.asarray(mu)[..., None]) / np.asarray(sigma)[..., None])
    return np.diff(cdf, axis=-1)


def _sector(phi):
    """EMTF sector 0-5 of an azimuth; sector 1 starts at 15 degrees."""
    return (np.floor((np.asarray(phi) - np.radians(15)) / (np.pi / 3)) % 6).astype(int)


# --- expected shapes (pure numpy): each returns expected counts in the spec's (nx[, ny]) binning --------------


def csc_occupancy(state: State, segments: bool) -> np.ndarray:
    rates = np.array([RING_RATE[r[3:]][0] + (0.4 if segments else 1.0) * RING_RATE[r[3:]][1] * state.pu
                      for r in CSC_ROWS])
    eff = (state.chamber_eff * state.chamber_dead) ** (1.5 if segments else 1.0)  # a segment needs >= 4 of 6 layers
    inner = np.array([r[3:] in ("1/1a", "1/1b") for r in CSC_ROWS])
    eff = eff * np.where(inner, 1.0 - 0.04 * state.drift, 1.0)[:, None]  # ME1/1 ageing through the year
    n_ch = np.where(_chamber_exists()[:, 18], 36, 18)
    phi = 2 * np.pi * (np.arange(36)[None, :] + 0.5) / n_ch[:, None]
    shape = rates[:, None] * eff * (1 + 0.04 * np.cos(phi)) * (36 / n_ch)[:, None]
    hot = 1 + (state.chamber_hot - 1) * (0.2 if segments else 1.0)
    shape = shape * hot * np.where(np.arange(20) < 10, state.csc_endcap[0], state.csc_endcap[1])[:, None]
    return (shape / 36.0 / 20.0).T  # (chamber, row)


def csc_time(state: State, edges, z=None) -> np.ndarray:
    """Segment time: the in-time peak, satellites one BX (25 ns) early and late, and a flat noise floor."""
    t0 = ERA_T0[state.era] + 0.9 * state.drift + state.t_shift
    if z is not None:
        t0 = t0 + 0.5 * (np.abs(z) - 800.0) / 100.0
    sigma = 2.8 * (1 + 0.15 * state.pu) * state.t_width
    oot, noise = 0.015 * (1 + state.pu), 0.01 * (2 + state.pu)
    flat = np.diff(edges) / (edges[-1] - edges[0])
    satellites = 0.6 * _gauss_bins(edges, t0 - 25.0, 1.2 * sigma) + 0.4 * _gauss_bins(edges, t0 + 25.0, 1.2 * sigma)
    return (1 - oot - noise) * _gauss_bins(edges, t0, sigma) + oot * satellites + noise * flat


def csc_time_vs_z(state: State) -> np.ndarray:
    spec = SPECS["hSTimeVsZ"]
    z = spec.centres(0)
    weight = np.zeros_like(z)
    for ring, (rate, slope) in RING_RATE.items():
        for sign in (-1, 1):
            weight += (rate + 0.4 * slope * state.pu) * np.exp(-0.5 * ((z - sign * STATION_Z[ring]) / 18.0) ** 2)
    return weight[:, None] * csc_time(state, spec.edges(1), z)


def csc_theta(state: State, det: Detector) -> np.ndarray:
    """Flat in eta (dN/dtheta = 1/sin theta) inside 0.9 < |eta| < 2.4, tilted forward by pile-up."""
    theta = SPECS["hSGlobalTheta"].centres()
    out = np.zeros_like(theta)
    for th, scale in ((theta, state.csc_endcap[1]), (np.pi - theta, state.csc_endcap[0])):
        acc = _sigmoid((th - 0.18) / 0.01) * _sigmoid((0.79 - th) / 0.01)
        gaps = 1 - 0.2 * np.exp(-0.5 * ((th - 0.396) / 0.008) ** 2) - 0.2 * np.exp(-0.5 * ((th - 0.243) / 0.008) ** 2)
        out += scale * acc * gaps * (1 + 0.4 * state.pu * (0.79 - th)) / np.sin(np.clip(th, 0.05, None))
    return out * det.theta_eff


def emtf_bx(state: State) -> np.ndarray:
    a = ERA_BX[state.era]
    side = 0.006 * (1 + state.pu) * state.bx_width
    p = np.array([3e-4 * state.bx_width, 8e-4 * state.bx_width, side * (1 + a), 0.0, side * (1 - a),
                  8e-4 * state.bx_width, 3e-4 * state.bx_width])
    p[3] = 1 - p.sum()
    shift = abs(state.bx_shift) * p[3]
    p[3] -= shift
    p[4 if state.bx_shift > 0 else 2] += shift
    return p


def emtf_eta_density(state: State, eta) -> np.ndarray:
    """Track density in eta: two endcap lobes (1.24 < |eta| < 2.4, partial overlap from 0.9), empty barrel."""
    a = np.abs(eta)
    acc = (0.3 * _sigmoid((a - 0.95) / 0.03) + 0.7 * _sigmoid((a - 1.24) / 0.03)) * _sigmoid((2.4 - a) / 0.03)
    shape = acc * (1 + 0.35 * (a - 1.2) + 0.4 * state.pu * (a - 1.2))
    shape *= 1 - 0.15 * np.exp(-0.5 * ((a - 1.6) / 0.03) ** 2) - 0.15 * np.exp(-0.5 * ((a - 2.1) / 0.03) ** 2)
    shape *= np.where(a > 2.1, 1 - 0.04 * state.drift, 1.0)
    endcap = np.where(np.asarray(eta) < 0, 0, 1)
    return shape * state.emtf_endcap[endcap]


def emtf_phi_density(phi) -> np.ndarray:
    """Six 60-degree sectors: a dip at every sector boundary and a mild bump in between."""
    rel = (np.asarray(phi) - np.radians(15)) % (np.pi / 3)
    d = np.minimum(rel, np.pi / 3 - rel)
    return (1 - 0.3 * np.exp(-0.5 * (d / 0.035) ** 2)) * (1 + 0.06 * np.cos(6 * (np.asarray(phi) - np.radians(45))))


def emtf_occupancy(state: State, det: Detector) -> np.ndarray:
    spec = SPECS["emtfTrackOccupancy"]
    eta, phi = spec.centres(0), spec.centres(1)
    sector = state.sector_eff[np.where(eta < 0, 0, 1)[:, None], _sector(phi)[None, :]]
    occ = emtf_eta_density(state, eta)[:, None] * emtf_phi_density(phi)[None, :] * sector * det.cell_eff
    if state.hot_cell is not None:
        i, j, factor = state.hot_cell
        occ[i, j] *= factor
    return occ


def emtf_eta(state: State, occupancy: np.ndarray) -> np.ndarray:
    """The 1D eta shape with the occupancy plot's sector and hot-cell effects folded in."""
    spec = SPECS["emtfTrackOccupancy"]
    nominal = emtf_eta_density(state, spec.centres(0)) * emtf_phi_density(spec.centres(1)).sum()
    ratio = np.where(nominal > 0, occupancy.sum(1) / np.maximum(nominal, 1e-300), 1.0)  # per 0.1-wide eta bin
    return emtf_eta_density(state, SPECS["emtfTrackEta"].centres()) * np.repeat(ratio, 2)


def emtf_phi(state: State, det: Detector, occupancy: np.ndarray) -> np.ndarray:
    phi = SPECS["emtfTrackPhi"].centres()
    out = emtf_phi_density(phi) * state.sector_eff.mean(0)[_sector(phi)] * det.phi_eff
    if state.hot_cell is not None:
        i, j, factor = state.hot_cell
        extra = occupancy[i, j] * (1 - 1 / factor) / occupancy.sum() * out.sum()
        out[np.searchsorted(SPECS["emtfTrackPhi"].edges(), SPECS["emtfTrackOccupancy"].centres(1)[j]) - 1] += extra
    return out


def emtf_quality_vs_mode(state: State) -> np.ndarray:
    """Station-pattern modes (8*ME1 + 4*ME2 + 2*ME3 + ME4); quality follows the mode; pile-up erodes mode 15."""
    p = np.zeros(16)
    for mode, frac in EMTF_MODES.items():
        p[mode] = frac * (1 - 0.15 * state.pu if mode == 15 else 1 + 0.15 * state.pu * 0.45 / 0.55)
    lost = np.zeros(16)
    for endcap in range(2):  # a (partly) dead station turns a mode into the mode without that station
        q = 0.5 * p.copy()
        for station, bit in enumerate((8, 4, 2, 1)):
            loss = 1 - state.station_eff[endcap, station]
            moved = np.where(np.arange(16) & bit, q * loss, 0.0)
            q -= moved
            np.add.at(q, np.arange(16) ^ bit, np.where(np.arange(16) & bit, moved, 0.0))
        lost += q
    lost[[0, 1, 2, 4, 8]] = 0.0  # fewer than two stations: no track
    shift = 0.3 * ERA_BX[state.era] / 0.25
    quality = _gauss_bins(SPECS["emtfTrackQualityVsMode"].edges(1),
                          [MODE_QUALITY.get(m, 2.0) + shift for m in range(16)], 1.2)
    return lost[:, None] * quality


_FLAT = Detector(np.ones((20, 36)), np.ones(128), np.ones(126), np.ones((50, 72)))


def expected(state: State, det: Detector, names=None) -> dict[str, np.ndarray]:
    """Expected counts per histogram (all, or those in `names`) for one run (before Poisson sampling)."""
    shapes = {
        "hORecHits": lambda: csc_occupancy(state, False), "hOSegments": lambda: csc_occupancy(state, True),
        "hSTimeCombinedSerial": lambda: csc_time(state, SPECS["hSTimeCombinedSerial"].edges()),
        "hSTimeVsZ": lambda: csc_time_vs_z(state), "hSGlobalTheta": lambda: csc_theta(state, det),
        "emtfTrackBX": lambda: emtf_bx(state), "emtfTrackEta": lambda: emtf_eta(state, emtf_occupancy(state, det)),
        "emtfTrackPhi": lambda: emtf_phi(state, det, emtf_occupancy(state, det)),
        "emtfTrackOccupancy": lambda: emtf_occupancy(state, det),
        "emtfTrackQualityVsMode": lambda: emtf_quality_vs_mode(state),
    }
    nominal = expected_totals(state)
    out = {}
    for name in names or shapes:
        shape = shapes[name]()
        out[name] = shape / shape.sum() * nominal[name] * state.kept.get(name, 1.0) * _scale(state, name)
    return out


def expected_totals(state: State) -> dict[str, float]:
    """Entries of each histogram for a healthy detector: tracks x entries per track, more hits with pile-up."""
    return {name: state.tracks * spec.per_track * (1 + (0.3 if name == "hORecHits" else 0.05) * state.pu)
            for name, spec in SPECS.items()}


def _scale(state: State, name: str) -> float:
    """Change of a histogram's entries caused by the run's incident (shapes are normalised in `expected`)."""
    healthy = state.healthy()
    if name in ("hORecHits", "hOSegments"):
        seg = name == "hOSegments"
        return float(csc_occupancy(state, seg).sum() / csc_occupancy(healthy, seg).sum())
    if name == "hSGlobalTheta":
        return float(csc_theta(state, _FLAT).sum() / csc_theta(healthy, _FLAT).sum())
    if name in ("emtfTrackEta", "emtfTrackOccupancy", "emtfTrackPhi"):
        if name == "emtfTrackPhi":  # a wrong endcap normalisation of the eta plots does not reach phi
            state = replace(state, emtf_endcap=np.ones(2))
        return float(emtf_occupancy(state, _FLAT).sum() / emtf_occupancy(healthy, _FLAT).sum())
    if name == "emtfTrackQualityVsMode":
        return float(emtf_quality_vs_mode(state).sum() / emtf_quality_vs_mode(healthy).sum())
    return 1.0


# --- runs and incidents -------------------------------------------------------------------------------------


def _allocate(n: int, weights: dict[str, float]) -> dict[str, int]:
    """Split n over keys in proportion to weights, largest remainders first (sums to n exactly)."""
    w = np.array(list(weights.values()))
    raw = n * w / w.sum()
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return dict(zip(weights, counts.tolist()))


def draw_runs(n_runs: int, rng: np.random.Generator) -> list[dict]:
    """Run numbers inside the real eras, luminosity from stratified quantiles (so the low-statistics tail is
    populated at any n), pile-up correlated with luminosity, drift = position of the run within its year."""
    runs = []
    for key, k in _allocate(n_runs, ERA_LUMI).items():
        year, era = int(key[:4]), key[4:]
        lo, hi = ERAS[year][era]
        runs += [(int(r), year, era) for r in rng.choice(np.arange(lo, hi + 1), size=k, replace=False)]
    runs.sort()
    normal = statistics.NormalDist()
    z = np.array([normal.inv_cdf((i + rng.uniform()) / n_runs) for i in rng.permutation(n_runs)])
    out = []
    for (run, year, era), zi in zip(runs, z):
        first, last = min(v[0] for v in ERAS[year].values()), max(v[1] for v in ERAS[year].values())
        pileup = float(np.clip(PILEUP[year] + 3.0 * zi + rng.normal(0, 5.0), 12.0, 60.0))
        lumi = 10 ** (LOG10_LUMI[0] + LOG10_LUMI[1] * zi)
        out.append({"run": run, "year": year, "era": era, "lumi_pb": round(lumi, 4), "pileup": round(pileup, 2),
                    "drift": round((run - first) / (last - first), 4)})
    return out


def draw_incident(rng: np.random.Generator) -> dict:
    """One incident: kind, subsystem, severity in (0.05, 1] (1 = obvious) and the parameters it implies."""
    subsystem = str(rng.choice(["CSC", "L1T"]))
    kind = str(rng.choice(KINDS))
    severity = round(float(rng.uniform(0.05, 1.0)), 3)
    key = kind
    if subsystem == "L1T" and kind == "dead_channel" and rng.uniform() < 0.4:
        key = "dead_station"
    params: dict = {}
    if kind == "dead_channel" and subsystem == "CSC":
        row = int(rng.integers(0, 20))
        n_ch = 36 if _chamber_exists()[row, 18] else 18
        first, width = int(rng.integers(0, n_ch)), int(rng.integers(1, 4))
        params = {"ring": CSC_ROWS[row], "chambers": [(first + i) % n_ch + 1 for i in range(width)],
                  "efficiency_loss": round(0.3 + 0.7 * severity, 3)}
    elif key == "dead_channel":
        params = {"endcap": int(rng.integers(0, 2)), "sector": int(rng.integers(0, 6)) + 1,
                  "efficiency_loss": round(0.3 + 0.7 * severity, 3)}
    elif key == "dead_station":
        params = {"endcap": int(rng.integers(0, 2)), "station": int(rng.integers(0, 4)) + 1,
                  "efficiency_loss": round(0.3 + 0.7 * severity, 3)}
    elif kind == "hot_channel" and subsystem == "CSC":
        row = int(rng.integers(0, 20))
        n_ch = 36 if _chamber_exists()[row, 18] else 18
        params = {"ring": CSC_ROWS[row], "chamber": int(rng.integers(1, n_ch + 1)),
                  "factor": round(1.3 + 12 * severity ** 2, 3)}
    elif kind == "hot_channel":
        eta_bin = int(rng.choice(np.r_[3:13, 37:47]))  # inside an endcap lobe
        params = {"eta_bin": eta_bin, "phi_bin": int(rng.integers(0, 72)), "factor": round(1.5 + 30 * severity ** 2, 3)}
    elif kind == "shifted_peak":
        sign = float(rng.choice([-1.0, 1.0]))
        params = ({"shift_ns": round(sign * (0.8 + 7 * severity), 3)} if subsystem == "CSC"
                  else {"fraction_shifted": round(sign * (0.01 + 0.25 * severity), 4)})
    elif kind == "broadened_peak":
        params = {"width_factor": round((1.2 + 1.3 * severity) if subsystem == "CSC" else (1.5 + 6 * severity), 3)}
    elif kind == "missing_statistics":
        params = {"fraction_recorded": round(0.5 - 0.45 * severity, 4)}
    elif kind == "wrong_normalization":
        up = rng.uniform() < 0.5
        step = 0.1 + 0.5 * severity
        params = {"endcap": int(rng.integers(0, 2)), "factor": round(1 + step if up else 1 - 0.8 * step, 4)}
    hists = [SPECS[h].column for h in AFFECTS[(subsystem, key)]]
    return {"kind": kind, "subsystem": subsystem, "histograms": hists, "severity": severity, "parameters": params}


def apply_incident(state: State, incident: dict) -> None:
    """Edit a run's state as the incident would."""
    kind, sub, p = incident["kind"], incident["subsystem"], incident["parameters"]
    if kind == "dead_channel" and sub == "CSC":
        state.chamber_dead[CSC_ROWS.index(p["ring"]), [c - 1 for c in p["chambers"]]] = 1 - p["efficiency_loss"]
    elif kind == "dead_channel" and "sector" in p:
        state.sector_eff[p["endcap"], p["sector"] - 1] = 1 - p["efficiency_loss"]
    elif kind == "dead_channel":
        state.station_eff[p["endcap"], p["station"] - 1] = 1 - p["efficiency_loss"]
    elif kind == "hot_channel" and sub == "CSC":
        state.chamber_hot[CSC_ROWS.index(p["ring"]), p["chamber"] - 1] = p["factor"]
    elif kind == "hot_channel":
        state.hot_cell = (p["eta_bin"], p["phi_bin"], p["factor"])
    elif kind == "shifted_peak" and sub == "CSC":
        state.t_shift = p["shift_ns"]
    elif kind == "shifted_peak":
        state.bx_shift = p["fraction_shifted"]
    elif kind == "broadened_peak" and sub == "CSC":
        state.t_width = p["width_factor"]
    elif kind == "broadened_peak":
        state.bx_width = p["width_factor"]
    elif kind == "missing_statistics":
        state.kept = {h.rsplit("/", 1)[1]: p["fraction_recorded"] for h in incident["histograms"]}
    elif kind == "wrong_normalization" and sub == "CSC":
        state.csc_endcap[p["endcap"]] = p["factor"]
    elif kind == "wrong_normalization":
        state.emtf_endcap[p["endcap"]] = p["factor"]


def kinds_affecting(name: str) -> list[str]:
    """The incident kinds that change histogram `name` (short name or table column)."""
    short = name.rsplit("/", 1)[-1]
    return [kind for kind in KINDS if any(short in hists for (_, key), hists in AFFECTS.items()
                                          if key == kind or (kind == "dead_channel" and key == "dead_station"))]


def sample(name: str, n_runs: int, seed: int, kind: str | None = None) -> np.ndarray:
    """Counts (n_runs, n_bins) of one histogram for runs drawn as `generate` draws them, without files:
    healthy runs, or runs each with an incident of `kind` that touches this histogram. The detector is
    the one `generate(seed=seed)` uses; the runs are new (a large sample for thresholds at small FPR)."""
    short = name.rsplit("/", 1)[-1]
    if short not in SPECS:
        raise CodesignError(f"unknown generated histogram {name!r}; known: {', '.join(SPECS)}")
    if kind is not None and kind not in kinds_affecting(short):
        raise CodesignError(f"{kind!r} incidents never change {short}; those that do: "
                            f"{', '.join(kinds_affecting(short))}")
    det_seq, _, _ = np.random.SeedSequence(seed).spawn(3)
    det = Detector.draw(np.random.default_rng(det_seq))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919, KINDS.index(kind) + 1 if kind else 0]))
    eras = list(ERA_LUMI)
    weights = np.array(list(ERA_LUMI.values()))
    out = np.empty((n_runs, SPECS[short].n_bins))
    for i in range(n_runs):
        key = eras[rng.choice(len(eras), p=weights / weights.sum())]
        year, z = int(key[:4]), rng.normal()
        pileup = float(np.clip(PILEUP[year] + 3.0 * z + rng.normal(0, 5.0), 12.0, 60.0))
        lumi = 10 ** (LOG10_LUMI[0] + LOG10_LUMI[1] * z)
        state = State(lumi * TRACKS_PER_PB, pileup, float(rng.uniform()), key, det.chamber_eff)
        if kind is not None:
            while True:  # incidents of this kind that reach this histogram, severities as in `generate`
                incident = draw_incident(rng)
                if incident["kind"] == kind and SPECS[short].column in incident["histograms"]:
                    break
            apply_incident(state, incident)
        out[i] = rng.poisson(expected(state, det, [short])[short]).ravel()
    return out


# --- writing ------------------------------------------------------------------------------------------------


def file_name(run: int, primary_dataset: str, year: int, era: str, version: int = 1) -> str:
    production, processing = PRODUCTIONS[year]
    return (f"DQM_V{version:04d}_R{run:09d}__{primary_dataset}__Run{year}{era}-{production}-v{processing}"
            f"__DQMIO.root")


def store_path(run: int, primary_dataset: str, year: int, era: str) -> Path:
    """Relative path as in the DQM GUI store: Run<year>/<pd>/R000<run // 100>xx/<file name>."""
    return Path(f"Run{year}", primary_dataset, f"R{run // 100:07d}xx", file_name(run, primary_dataset, year, era))


def _root_object(spec: Spec, counts: np.ndarray):
    """A TH1F/TH2F with title, axis titles and statistics, in ROOT's flow-bin layout."""
    from uproot.writing import identify as idf

    axes = [idf.to_TAxis(f"{'xyz'[i]}axis", label, n, lo, hi) for i, (n, lo, hi, label) in enumerate(spec.axes)]
    total = float(counts.sum())
    x = spec.centres(0)
    if counts.ndim == 1:
        data = np.pad(counts, 1).astype(np.float32)
        sx, sx2 = float(counts @ x), float(counts @ x ** 2)
        return idf.to_TH1x(spec.name, spec.title, data, total, total, total, sx, sx2, data.astype(np.float64),
                           axes[0], axes[1])
    y = spec.centres(1)
    data = np.pad(counts, 1).T.ravel().astype(np.float32)  # ROOT: x varies fastest, flow bins included
    px, py = counts.sum(1), counts.sum(0)
    return idf.to_TH2x(spec.name, spec.title, data, total, total, total, float(px @ x), float(px @ x ** 2),
                       float(py @ y), float(py @ y ** 2), float(x @ counts @ y), data.astype(np.float64),
                       axes[0], axes[1])


def _write_run(path: Path, run: int, histograms: dict[str, np.ndarray]) -> None:
    import uproot

    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path) as f:  # one update: uproot rewrites its directories once, not per histogram
        f.update({f"DQMData/Run {run}/{SPECS[n].subsystem}{SPECS[n].path}": _root_object(SPECS[n], counts)
                  for n, counts in histograms.items()})


def contents() -> dict[str, list[str]]:
    """The AutoDQM contents JSON for everything the generator writes."""
    out: dict[str, list[str]] = {}
    for spec in SPECS.values():
        out.setdefault(spec.subsystem, []).append(spec.path)
    return out


def _check(n_runs, primary_dataset, bad_fraction, unlabelled_fraction) -> None:
    if not isinstance(n_runs, int) or n_runs < 1:
        raise CodesignError(f"n_runs: expected a positive integer, got {n_runs!r}")
    for name, value in (("bad_fraction", bad_fraction), ("unlabelled_fraction", unlabelled_fraction)):
        if not 0.0 <= value <= 1.0:
            raise CodesignError(f"{name}: expected a fraction between 0 and 1, got {value!r}")
    if not SAFE_NAME.fullmatch(primary_dataset):
        raise CodesignError(f"primary dataset {primary_dataset!r}: expected letters, digits, '_' or '-' only "
                            "(it becomes a directory and file name)")


def generate(out: Path, n_runs: int = 600, seed: int = 1, primary_dataset: str = "SingleMuon",
             bad_fraction: float = 0.1, unlabelled_fraction: float = 0.1, force: bool = False) -> Generated:
    """Write `n_runs` per-run DQM files plus contents.json, datasets.json and truth.json under `out`.

    `out` must be new or empty, or (with `force`) an earlier output of this generator, which is replaced whole
    (codesign.outdir).
    """
    out = Path(out)
    _check(n_runs, primary_dataset, bad_fraction, unlabelled_fraction)
    with outdir.staged(out, "dqm generate", force=force) as stage:
        g = _generate(stage, n_runs, seed, primary_dataset, bad_fraction, unlabelled_fraction)
    moved = {name: out / path.relative_to(stage) for name, path in
             (("contents", g.contents), ("datasets", g.datasets), ("truth", g.truth))}
    return replace(g, root=out, files=tuple(out / f.relative_to(stage) for f in g.files), **moved)


def _generate(out: Path, n_runs: int, seed: int, primary_dataset: str, bad_fraction: float,
              unlabelled_fraction: float) -> Generated:
    root = np.random.SeedSequence(seed)
    det_seq, run_seq, incident_seq = root.spawn(3)
    det = Detector.draw(np.random.default_rng(det_seq))
    rng = np.random.default_rng(run_seq)
    runs = draw_runs(n_runs, rng)

    n_bad = round(bad_fraction * n_runs)
    bad = set(rng.choice(n_runs, n_bad, replace=False).tolist())
    good = [i for i in range(n_runs) if i not in bad]
    unlabelled = set()  # the same fraction of bad and of good runs, so unlabelled runs are as contaminated
    for group in (sorted(bad), good):
        unlabelled |= set(rng.choice(group, round(unlabelled_fraction * len(group)), replace=False).tolist())
    incident_rng = np.random.default_rng(incident_seq)

    files, anomalies, run_records = [], [], []
    labels: dict[int, dict[str, list[str]]] = {y: {"good_runs": [], "bad_runs": []} for y in ERAS}
    for i, info in enumerate(runs):
        state = State(info["lumi_pb"] * TRACKS_PER_PB, info["pileup"], info["drift"], f"{info['year']}{info['era']}",
                      det.chamber_eff)
        labelled = i not in unlabelled
        if i in bad:
            incident = draw_incident(incident_rng)
            apply_incident(state, incident)
            anomalies.append({"run": info["run"], **incident, "labelled": labelled})
        if labelled:
            labels[info["year"]]["bad_runs" if i in bad else "good_runs"].append(str(info["run"]))
        run_rng = np.random.default_rng(np.random.SeedSequence([seed, info["run"]]))
        counts = {name: run_rng.poisson(mu).astype(np.float64) for name, mu in expected(state, det).items()}
        path = out / store_path(info["run"], primary_dataset, info["year"], info["era"])
        _write_run(path, info["run"], counts)
        files.append(path)
        run_records.append({**info, "labelled": labelled, "bad": i in bad})

    years = sorted({r["year"] for r in runs})
    datasets = {"primary_datasets": [primary_dataset],
                "years": {str(y): {"productions": [PRODUCTIONS[y][0].split("_")[1]], **labels[y]} for y in years}}
    truth = {"generator": "codesign.data.dqm_generator", "codesign_version": codesign.__version__, "seed": seed,
             "settings": {"n_runs": n_runs, "primary_dataset": primary_dataset, "bad_fraction": bad_fraction,
                          "unlabelled_fraction": unlabelled_fraction, "tracks_per_pb": TRACKS_PER_PB},
             "runs": run_records, "anomalies": anomalies}
    paths = {}
    for name, data in (("contents", contents()), ("datasets", datasets), ("truth", truth)):
        paths[name] = out / f"{name}.json"
        paths[name].write_text(json.dumps(data, indent=2) + "\n")
    return Generated(out, tuple(files), paths["contents"], paths["datasets"], paths["truth"], n_runs, n_bad,
                     len(unlabelled), sum(1 for a in anomalies if a["labelled"]))
