"""When a lumisection is flagged: a threshold on its score (seed 000's percentile, or a false-alarm rate on
good validation LS) and the flags and flagged-LS list it gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign import metrics
from codesign.errors import ConfigError, MetricError

DEFAULT_PERCENTILE = 99.7


def threshold_percentile(scores, q: float = DEFAULT_PERCENTILE) -> float:
    """Seed 000's rule: the q-th percentile of the scores of the monitored series itself (NaN left out).

    It flags about (100 - q) % of whatever it is given, anomalous or not: a fixed alarm budget, not a
    rate. LS at the threshold are flagged (`flag`: at or above): identical inputs (every empty LS is the
    same all-zero histogram) score the same, and a tie at the top must not hide them all.
    """
    if not 0.0 < q < 100.0:
        raise ConfigError(f"percentile {q}: expected a value in (0, 100), e.g. 99.7")
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise MetricError("no finite score to take a percentile of")
    return float(np.percentile(s, q))


def threshold_false_alarm(good_scores, rate: float) -> float:
    """The threshold at or above which at most a fraction `rate` of good (validation) LS lie: a false-alarm rate.

    Refused (MetricError) unless floor(rate x N) >= `metrics.MIN_BACKGROUND_ABOVE` (10) good LS may lie
    above it: a threshold resting on fewer is noise. `metrics.threshold_at_fpr` counts scores strictly
    above; the next float up gives the same set with `flag`'s "at or above".
    """
    s = np.asarray(good_scores, dtype=np.float64)
    s = s[~np.isnan(s)]
    try:
        return float(np.nextafter(metrics.threshold_at_fpr(s, rate)[0], np.inf))
    except MetricError as exc:
        raise MetricError(f"false-alarm rate: {str(exc).replace('background events', 'good lumisections')}") \
            from None


def flag(scores, threshold: float) -> np.ndarray:
    """True where the score is at or above the threshold; never for an unscored (NaN) LS."""
    s = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(s), False, s >= threshold)


def flagged_csv(path, frame, tag: str) -> Path:
    """The flagged LS in LS order: run, lumisection, score, label, kind, split."""
    rows = frame[frame[f"flag_{tag}"]]
    out = rows[["run", "lumisection", f"score_{tag}", "label", "kind", "split"]].rename(
        columns={f"score_{tag}": "score"})
    path = Path(path)
    out.to_csv(path, index=False, float_format="%.6g")
    return path

