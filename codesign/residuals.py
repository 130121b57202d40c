"""Compression fidelity: per-variable residuals of reconstructed jets and their summaries (seed 002).

The seed plots (reco - orig) / orig for every variable. That is the right measure for scale
variables (pT, m, E: a 1 % error is a 1 % error at any pT), but not for eta and phi, whose
values cross zero (dividing by a tiny eta makes any error huge) and, for phi, wrap at +-pi
(phi = pi - e reconstructed as -pi + e is an error of 2e, not 2 pi). So scale variables get
relative residuals, angles absolute ones, phi wrapped — the convention of the HEP autoencoder
compression studies the seed cites. Pure functions over numpy arrays.
"""

from __future__ import annotations

import numpy as np

from codesign.errors import DataError

RELATIVE = frozenset({"pt", "m", "E", "e", "mass", "energy"})
ANGULAR = frozenset({"phi"})
QUANTILES = (0.01, 0.05, 0.16, 0.5, 0.84, 0.95, 0.99)


def wrap_angle(delta: np.ndarray) -> np.ndarray:
    """Angles differences mapped into [-pi, pi)."""
    return (np.asarray(delta, dtype=np.float64) + np.pi) % (2 * np.pi) - np.pi


def residuals(original: np.ndarray, reconstructed: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """{name: residual per jet}: relative for scale variables, absolute (phi wrapped) for angles.

    A scale variable that is zero in the original (e.g. a massless jet) has no relative
    residual: NaN there, never an infinity in a summary.
    """
    x = np.asarray(original, dtype=np.float64)
    r = np.asarray(reconstructed, dtype=np.float64)
    if x.shape != r.shape or x.ndim != 2 or x.shape[1] != len(names):
        raise DataError(f"residuals need (jets, {len(names)}) arrays for {names}, got {x.shape} and {r.shape}")
    out = {}
    for i, name in enumerate(names):
        diff = r[:, i] - x[:, i]
        if name in ANGULAR:
            out[name] = wrap_angle(diff)
        elif name in RELATIVE:
            with np.errstate(divide="ignore", invalid="ignore"):
                out[name] = np.where(x[:, i] != 0, diff / np.where(x[:, i] != 0, x[:, i], 1.0), np.nan)
        else:
            out[name] = diff
    return out


def summary(res: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per variable: kind of residual, mean, RMS, the 68 % half-width (robust to tails), quantiles, count."""
    out = {}
    for name, values in res.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            out[name] = {"n": 0}
            continue
        q = np.quantile(v, QUANTILES)
        out[name] = {"kind": "relative" if name in RELATIVE else "absolute", "n": int(v.size),
                     "mean": float(v.mean()), "rms": float(np.sqrt(np.mean(v * v))),
                     "half_width_68": float((q[4] - q[2]) / 2),
                     "quantiles": {f"{p:g}": float(x) for p, x in zip(QUANTILES, q)}}
    return out


def correlations(res: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Pearson correlation matrix of the residuals (jets where every residual is finite)."""
    names = list(res)
    m = np.column_stack([np.asarray(res[n], dtype=np.float64) for n in names])
    m = m[np.all(np.isfinite(m), axis=1)]
    if len(m) < 2:
        return names, np.full((len(names), len(names)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return names, np.corrcoef(m, rowvar=False)


def with_intervals(res: dict[str, np.ndarray], n_bootstrap: int = 200, seed: int = 0) -> tuple[dict[str, dict], dict]:
    """`summary` plus each RMS's bootstrap 68 % interval, and the mean RMS over variables with its error.

    The figure of merit of a compression (what a search minimises) is the mean of the
    per-variable residual RMS: relative for pT and m, absolute for eta and phi — all a few
    per cent for a useful compression, so no variable's units swamp the others. Resampling
    jets (the same resample for every variable) gives the spread of the mean.
    """
    out = summary(res)
    names = [n for n in res if out[n].get("n")]
    m = np.column_stack([np.asarray(res[n], dtype=np.float64) for n in names])
    finite = np.isfinite(m)
    sq = np.where(finite, m * m, 0.0)
    rng = np.random.default_rng(seed)
    boot = np.empty((n_bootstrap, len(names)))
    for b in range(n_bootstrap):
        idx = rng.integers(0, len(m), len(m))
        boot[b] = np.sqrt(sq[idx].sum(axis=0) / np.maximum(finite[idx].sum(axis=0), 1))
    for j, name in enumerate(names):
        lo, hi = np.quantile(boot[:, j], (0.16, 0.84))
        out[name]["rms_interval"] = [float(lo), float(hi)]
    mean_rms = float(np.mean([out[n]["rms"] for n in names]))
    lo, hi = np.quantile(boot.mean(axis=1), (0.16, 0.84))
    return out, {"rms": mean_rms, "rms_error": float((hi - lo) / 2), "n": int(len(m)),
                 "n_bootstrap": n_bootstrap}


def histograms(res: dict[str, np.ndarray], summaries: dict[str, dict], bins: int = 80) -> dict[str, dict]:
    """Residual distributions for plots: per variable, counts in `bins` bins over the 0.5-99.5 % range
    (widened to hold +-3 RMS of the core), with the under/overflow counted separately."""
    out = {}
    for name, values in res.items():
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        lo, hi = np.quantile(v, (0.005, 0.995))
        half = 3 * summaries[name].get("half_width_68", 0.0)
        lo, hi = min(lo, -half), max(hi, half)
        if hi <= lo:
            lo, hi = lo - 1e-6, hi + 1e-6
        counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
        out[name] = {"edges": edges.tolist(), "counts": counts.tolist(), "underflow": int((v < lo).sum()),
                     "overflow": int((v > hi).sum())}
    return out
