"""Per-lumisection histogram series: a generator, windows over lumisections, and min-max scaling.

The DQM lumisection path (seed 000: LSTM autoencoders over windows of 50 lumisections) needs a
series of one histogram per lumisection (LS, 23.3 s of beam). Real per-LS DQM is not reachable
here, so this writes what it looks like: a METSig-like distribution (a falling spectrum whose
slope softens with pile-up), instantaneous luminosity decaying within fills and jumping at fill
boundaries (so the entries per LS follow it), a slow drift, and labelled anomalies of the kinds
per-LS monitoring exists for: empty or nearly empty LS (lost DAQ partitions), noisy LS (an extra
flat component), a shifted distribution over a stretch of LS, and short bursts in the tail. Each
incident draws its severity, from obvious to subtle: a nearly empty LS keeps 2-60 % of its
entries, so on its own it can look like a low-luminosity LS late in a fill — its neighbours
tell it apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.errors import DataError

KINDS = ("empty", "noisy", "shifted", "burst")
LS_SECONDS = 23.31
EDGES = np.linspace(0.0, 10.0, 51)  # METSig, 50 bins


@dataclass(frozen=True)
class Series:
    """One histogram per lumisection, in LS order, with labels (0 good, 1 anomalous) and their kind."""

    counts: np.ndarray  # (n_ls, n_bins)
    labels: np.ndarray  # (n_ls,) int8
    kinds: np.ndarray  # (n_ls,) str, '' where good
    lumi: np.ndarray  # (n_ls,) instantaneous luminosity [1e34 cm^-2 s^-1]
    edges: np.ndarray  # (n_bins + 1,)

    def __len__(self) -> int:
        return len(self.counts)

    def __post_init__(self):
        check(self.counts)


def check(counts: np.ndarray, source: str = "series") -> np.ndarray:
    """A (n_ls, n_bins) array of finite bin contents, or a one-line DataError saying what is wrong."""
    if isinstance(counts, (list, tuple)) and counts and len({len(np.atleast_1d(c)) for c in counts}) > 1:
        lengths = sorted({len(np.atleast_1d(c)) for c in counts})
        raise DataError(f"{source}: lumisections have different numbers of bins {lengths}; expected one binning")
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise DataError(f"{source}: expected (lumisections, bins) bin contents, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DataError(f"{source}: {int(bad.sum())} NaN/inf bin(s) in {len(rows)} lumisection(s), first at "
                        f"index {int(rows[0])}; expected finite bin contents")
    return arr


def _spectrum(slope: float) -> np.ndarray:
    """METSig-like shape: ~ x exp(-x / slope) with a small flat noise floor, normalised over EDGES."""
    x = 0.5 * (EDGES[1:] + EDGES[:-1])
    p = x * np.exp(-x / slope) + 2e-4
    return p / p.sum()


def generate(n_ls: int = 6000, seed: int = 1, anomaly_fraction: float = 0.03, rate_hz: float = 60.0) -> Series:
    """`n_ls` lumisections over several fills; about `anomaly_fraction` of them anomalous (labelled)."""
    if n_ls < 1:
        raise DataError(f"n_ls must be positive, got {n_ls}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1033]))
    # Fills of 300-2000 LS (2-13 h): luminosity starts at 1.4-2.0 and decays with a 6-12 h lifetime, so
    # late-fill LS have a fifth of the entries of early ones.
    lumi = np.empty(n_ls)
    i = 0
    while i < n_ls:
        length = int(rng.integers(300, 2000))
        t = np.arange(min(length, n_ls - i)) * LS_SECONDS / 3600.0
        lumi[i:i + len(t)] = rng.uniform(1.4, 2.0) * np.exp(-t / rng.uniform(6.0, 12.0))
        i += len(t)
    drift = 0.05 * np.sin(np.linspace(0.0, 3.0, n_ls) + rng.uniform(0, 6.28))  # slow calibration drift
    slope = 1.2 * (1.0 + 0.15 * (lumi - 1.0)) * (1.0 + drift)  # pile-up softens the spectrum
    entries = rng.poisson(rate_hz * LS_SECONDS * lumi)
    kinds = np.full(n_ls, "", dtype=object)
    severity = np.zeros(n_ls)
    n_incidents = max(1, int(round(anomaly_fraction * n_ls / 4)))  # incidents last 1-8 LS
    for _ in range(n_incidents):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        start = int(rng.integers(0, n_ls))
        length = 1 if kind == "empty" and rng.uniform() < 0.6 else int(rng.integers(2, 9))
        kinds[start:start + length] = kind
        # empty: fraction of entries kept (0 for 40 % of incidents); noisy: flat fraction; shifted: slope
        # factor; burst: fraction in the tail
        severity[start:start + length] = {
            "empty": 0.0 if rng.uniform() < 0.4 else rng.uniform(0.02, 0.6), "noisy": rng.uniform(0.05, 0.3),
            "shifted": rng.uniform(1.08, 1.35), "burst": rng.uniform(0.02, 0.1)}[kind]
    counts = np.empty((n_ls, len(EDGES) - 1))
    for k in range(n_ls):
        p = _spectrum(slope[k] * (severity[k] if kinds[k] == "shifted" else 1.0))
        n = entries[k]
        if kinds[k] == "empty":
            n = int(rng.binomial(n, severity[k]))
        elif kinds[k] == "noisy":
            p = (1 - severity[k]) * p + severity[k] / len(p)
        elif kinds[k] == "burst":
            tail = np.zeros(len(p))
            tail[-15:] = 1.0 / 15
            p = (1 - severity[k]) * p + severity[k] * tail
        counts[k] = rng.multinomial(n, p)
    labels = (kinds != "").astype(np.int8)
    return Series(counts, labels, kinds.astype(str), lumi, EDGES.copy())


def windows(x: np.ndarray, width: int = 50, stride: int = 1) -> np.ndarray:
    """(n_windows, width, n_bins) views of consecutive lumisections: windows start at 0, stride, 2 stride...

    Every window is complete (n_windows = (n_ls - width) // stride + 1); the seed's reshape stopped one
    short of the last lumisection, which then never got a score.
    """
    x = np.asarray(x)
    if width < 1 or stride < 1:
        raise DataError(f"window width and stride must be >= 1, got {width} and {stride}")
    if len(x) < width:
        raise DataError(f"series of {len(x)} lumisections is shorter than the window of {width}; "
                        "use a shorter --window or more lumisections")
    starts = np.arange(0, len(x) - width + 1, stride)
    return np.lib.stride_tricks.sliding_window_view(x, width, axis=0)[starts].transpose(0, 2, 1)


def per_lumisection(window_errors: np.ndarray, n_ls: int, stride: int = 1) -> np.ndarray:
    """Each lumisection's error = the mean over every window position that covers it.

    window_errors: (n_windows, width) errors per position. Lumisections no window covers (the tail
    left over by a stride > 1) get NaN, never a made-up value.
    """
    n_windows, width = window_errors.shape
    total = np.zeros(n_ls)
    count = np.zeros(n_ls)
    for w in range(n_windows):
        s = w * stride
        total[s:s + width] += window_errors[w]
        count[s:s + width] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


@dataclass(frozen=True)
class MinMax:
    """Per-bin min-max scaling fitted on training lumisections; bins constant in training map to 0."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "MinMax":
        x = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
        return cls(x.min(axis=0), x.max(axis=0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        span = self.high - self.low
        scaled = (np.asarray(x, dtype=np.float64) - self.low) / np.where(span > 0, span, 1.0)
        return np.where(span > 0, scaled, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"low": self.low.tolist(), "high": self.high.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "MinMax":
        return cls(np.asarray(data["low"], dtype=np.float64), np.asarray(data["high"], dtype=np.float64))
