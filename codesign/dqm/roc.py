"""The ROC of a DQM algorithm with its bootstrap band, shared by `dqm assess` (runs) and `dqm lumisections
assess` (lumisections): good = label 0 (background), bad = label 1 (signal), higher score = more anomalous.

The curve and the AUC (Mann-Whitney) are computed on the joint dense ranks of the scores: the same
curve and area as on the scores themselves, and +inf (an empty histogram) ranks above every finite score.
"""

from __future__ import annotations

import numpy as np

from codesign import metrics

GRID = np.linspace(0.0, 1.0, 101)  # common FPR grid of the bootstrap bands


def interval(values) -> tuple[float, list[float]]:
    """(half the 68 % interval, [low, high]) of bootstrap values."""
    lo, hi = np.percentile(values, metrics.ONE_SIGMA)
    return float(hi - lo) / 2, [float(lo), float(hi)]


def with_band(good: np.ndarray, bad: np.ndarray, n_bootstrap: int, seed: int) -> dict:
    """auc, fpr, tpr (the exact curve) and, with `n_bootstrap` resamplings, auc_error, auc_interval and the
    ±1σ band of the TPR on `GRID` ({fpr, lo, hi}); else those are None."""
    rb, rs = metrics.joint_ranks(good, bad)
    fpr, tpr, _ = metrics.roc_curve(rb, rs)
    out = {"auc": metrics.auc(rb, rs), "fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc_error": None,
           "auc_interval": None, "band": None}
    if n_bootstrap:
        tprs, aucs = metrics.bootstrap_roc(good, bad, GRID, n_bootstrap, seed)
        lo, hi = np.percentile(tprs, metrics.ONE_SIGMA, axis=0)
        out["auc_error"], out["auc_interval"] = interval(aucs)
        out["band"] = {"fpr": GRID.tolist(), "lo": lo.tolist(), "hi": hi.tolist()}
    return out


def auc_with_error(good: np.ndarray, bad: np.ndarray, n_bootstrap: int, seed: int) -> tuple[float, float | None]:
    """(AUC, half the bootstrap 68 % interval or None): each class resampled on its own."""
    rb, rs = metrics.joint_ranks(good, bad)
    if not n_bootstrap:
        return metrics.auc(rb, rs), None
    _, aucs = metrics.bootstrap_roc(good, bad, GRID[:1], n_bootstrap, seed)
    return metrics.auc(rb, rs), interval(aucs)[0]


def for_plot(roc: dict, n_good: int, n_bad: int) -> dict:
    """What `codesign.dqm.figures.roc` draws of a `with_band` result."""
    band = roc["band"] or {}
    return {"fpr": roc["fpr"], "tpr": roc["tpr"], "grid": band.get("fpr"), "lo": band.get("lo"),
            "hi": band.get("hi"), "auc": roc["auc"], "auc_error": roc["auc_error"], "n_good": n_good, "n_bad": n_bad}
