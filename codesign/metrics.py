"""Anomaly-detection metrics as pure functions over numpy score arrays.

Convention: a higher score means more anomalous; background is label 0, signal 1.
The trigger metric is the signal efficiency (TPR) at a fixed background false-positive
rate: the threshold is the background score above which at most FPR x N background
events lie. A threshold set by fewer than `min_background_above` (default 10)
background events is statistically meaningless, so asking for it raises MetricError
instead of returning a number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from codesign.errors import MetricError

MIN_BACKGROUND_ABOVE = 10
ONE_SIGMA = (15.865525393145708, 84.13447460685429)  # central 68.27 % interval, in percent


def _as_scores(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise MetricError(f"{name} scores are empty")
    if not np.isfinite(arr).all():
        raise MetricError(f"{name} scores contain {int((~np.isfinite(arr)).sum())} non-finite values")
    return arr


class SortedScores:
    """Background scores sorted once and shared by every signal scored against them.

    At FPR 1e-5 a threshold needs millions of background events; sorting them once turns
    every per-signal quantity (threshold, AUC, ROC points, bootstrap) into searches.
    """

    __slots__ = ("values",)

    def __init__(self, scores, name: str = "background"):
        self.values = np.sort(_as_scores(name, scores))

    def __len__(self) -> int:
        return len(self.values)

    def above(self, threshold: float) -> int:
        """Number of scores strictly above `threshold`."""
        return int(len(self.values) - np.searchsorted(self.values, threshold, side="right"))


def _sorted(background) -> np.ndarray:
    return background.values if isinstance(background, SortedScores) else SortedScores(background).values


def roc_curve(background, signal):
    """(fpr, tpr, thresholds) with thresholds decreasing; a point means 'score > threshold'."""
    b = _sorted(background)
    s = np.sort(_as_scores("signal", signal))
    thresholds = np.unique(np.concatenate([b, s]))[::-1]
    fpr = (len(b) - np.searchsorted(b, thresholds, side="right")) / len(b)
    tpr = (len(s) - np.searchsorted(s, thresholds, side="right")) / len(s)
    # Prepend the point that accepts nothing and append the one that accepts everything.
    return (np.concatenate([[0.0], fpr, [1.0]]), np.concatenate([[0.0], tpr, [1.0]]),
            np.concatenate([[np.inf], thresholds, [-np.inf]]))


def _ranks(b: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per signal event: background events strictly below it, and up to and including it (sorted `b`)."""
    return np.searchsorted(b, s, side="left"), np.searchsorted(b, s, side="right")


def auc(background, signal) -> float:
    """Area under the ROC curve = P(signal score > background score) + P(tie)/2 (Mann-Whitney U)."""
    b = _sorted(background)
    left, right = _ranks(b, _as_scores("signal", signal))
    return float((left.sum() + 0.5 * (right - left).sum()) / (len(b) * len(left)))


def background_events_needed(fpr: float, min_background_above: int = MIN_BACKGROUND_ABOVE) -> int:
    """Smallest background sample for which a threshold at `fpr` has `min_background_above` events above it."""
    return math.ceil(min_background_above / fpr - 1e-9)


def require_resolvable(n_background: int, fpr: float, min_background_above: int = MIN_BACKGROUND_ABOVE) -> int:
    """Number of background events allowed above the threshold; MetricError if too few to trust."""
    if not 0.0 < fpr < 1.0:
        raise MetricError(f"FPR must be in (0, 1), got {fpr}")
    allowed = math.floor(fpr * n_background + 1e-9)
    if allowed < min_background_above:
        raise MetricError(
            f"cannot resolve FPR {fpr:g} with {n_background} background events: the threshold would rest on "
            f"{allowed} events above it, at least {min_background_above} are needed "
            f"(use >= {background_events_needed(fpr, min_background_above)} background events)")
    return allowed


def threshold_at_fpr(background, fpr: float, min_background_above: int = MIN_BACKGROUND_ABOVE):
    """(threshold, n_above): at most floor(fpr * N) background events lie strictly above the threshold.

    The threshold is the (floor(fpr N) + 1)-th largest background score. Where scores tie at
    the top (fixed-point scores saturate) fewer events lie above it than allowed; if fewer than
    `min_background_above` do, the threshold measures the ties, not the model: MetricError.
    """
    b = _sorted(background)
    allowed = require_resolvable(len(b), fpr, min_background_above)
    threshold = float(b[len(b) - allowed - 1])
    n_above = int(len(b) - np.searchsorted(b, threshold, side="right"))
    if n_above < min_background_above:
        tied = int(np.searchsorted(b, threshold, side="right") - np.searchsorted(b, threshold, side="left"))
        raise MetricError(
            f"the threshold at FPR {fpr:g} rests on {n_above} background events strictly above it, fewer than "
            f"{min_background_above}: {tied} of {len(b)} background events tie at the score {threshold:.6g} "
            f"(the scores saturate or are too coarse at the top; widen the score's range or resolution, "
            f"or use more background events)")
    return threshold, n_above


def zero_upper_limit(n: int, cl: float = 0.6827) -> float:
    """The efficiency below which 0 of `n` events passing has probability 1 - cl: 1 - (1 - cl)^(1/n) (~1.15 / n).

    What an efficiency measured as zero is worth in a product of efficiencies (a zero would make any
    other signal's efficiency irrelevant)."""
    if n < 1:
        raise MetricError(f"an upper limit needs at least one event, got {n}")
    return float(-np.expm1(np.log1p(-cl) / n))


def tpr_at_threshold(signal, threshold: float) -> float:
    return float(np.mean(_as_scores("signal", signal) > threshold))


@dataclass(frozen=True)
class SignalScores:
    """Metrics of one signal against the background, with bootstrap 68 % intervals."""

    signal: str
    auc: float
    auc_interval: tuple[float, float]
    fpr: float
    tpr: float
    tpr_interval: tuple[float, float]
    threshold: float
    n_background: int
    n_background_above: int
    n_signal: int
    n_bootstrap: int

    @property
    def tpr_error(self) -> float:
        """Symmetrised half-width of the 68 % interval, for tables and error bars."""
        return 0.5 * (self.tpr_interval[1] - self.tpr_interval[0])

    @property
    def auc_error(self) -> float:
        return 0.5 * (self.auc_interval[1] - self.auc_interval[0])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SignalScores":
        return cls(**{**data, "auc_interval": tuple(data["auc_interval"]), "tpr_interval": tuple(data["tpr_interval"])})


def bootstrap_tpr_at_fpr(background, signal, fpr: float, n_bootstrap: int = 1000, seed: int = 0,
                         min_background_above: int = MIN_BACKGROUND_ABOVE) -> np.ndarray:
    """TPR at `fpr` in `n_bootstrap` resamplings of both samples (threshold re-derived each time).

    Exact multinomial resampling, computed only where it matters: the number of resampled
    background events among the top M scores is Binomial(N, M/N) and spreads uniformly
    over them; the resampled signal count above a threshold is Binomial(n_s, p(threshold)).
    """
    b = _sorted(background)
    s = np.sort(_as_scores("signal", signal))
    allowed = require_resolvable(len(b), fpr, min_background_above)
    rng = np.random.default_rng(seed)
    m = min(len(b), 4 * allowed + 200)
    top = b[len(b) - m:][::-1]  # the m largest, descending
    out = np.empty(n_bootstrap)
    for i in range(n_bootstrap):
        in_top = rng.binomial(len(b), m / len(b)) if m < len(b) else len(b)
        counts = rng.multinomial(in_top, np.full(m, 1.0 / m))
        cumulative = np.cumsum(counts)
        j = int(np.searchsorted(cumulative, allowed, side="right"))
        threshold = top[min(j, m - 1)]
        p = (len(s) - np.searchsorted(s, threshold, side="right")) / len(s)
        out[i] = rng.binomial(len(s), p) / len(s)
    return out


def bootstrap_auc(background, signal, n_bootstrap: int = 100, seed: int = 0) -> np.ndarray:
    """AUC in Poisson-bootstrap resamplings (every event weighted by a Poisson(1) draw).

    Only the background's counts between consecutive signal scores enter the AUC, and a sum of
    k Poisson(1) weights is Poisson(k): each resampling draws one Poisson per such segment
    (at most 2 n_signal + 1 of them) instead of one per background event, with the same
    distribution, so ten million background events cost no more than ten thousand.
    """
    b = _sorted(background)
    s = _as_scores("signal", signal)
    left, right = _ranks(b, s)
    cuts = np.unique(np.concatenate([[0], left, right, [len(b)]]))
    counts = np.diff(cuts)
    li, ri = np.searchsorted(cuts, left), np.searchsorted(cuts, right)
    rng = np.random.default_rng(seed)
    out = np.empty(n_bootstrap)
    for i in range(n_bootstrap):
        below = np.concatenate([[0], np.cumsum(rng.poisson(counts))])  # weighted background below each cut
        ws = rng.poisson(1.0, len(s))
        numerator = np.sum(ws * (below[li] + 0.5 * (below[ri] - below[li])))
        out[i] = numerator / max(ws.sum() * below[-1], 1)
    return out


def score_signal(name: str, background, signal, fpr: float = 1e-5, n_bootstrap: int = 200, seed: int = 0,
                 min_background_above: int = MIN_BACKGROUND_ABOVE) -> SignalScores:
    """AUC and TPR at `fpr` with bootstrap intervals; pass `SortedScores` to share one sort among signals."""
    b = background if isinstance(background, SortedScores) else SortedScores(background)
    s = _as_scores(f"signal '{name}'", signal)
    threshold, n_above = threshold_at_fpr(b, fpr, min_background_above)
    tprs = bootstrap_tpr_at_fpr(b, s, fpr, n_bootstrap=max(n_bootstrap, 200), seed=seed,
                                min_background_above=min_background_above)
    aucs = bootstrap_auc(b, s, n_bootstrap=n_bootstrap, seed=seed + 1)
    return SignalScores(
        signal=name, auc=auc(b, s), auc_interval=tuple(float(v) for v in np.percentile(aucs, ONE_SIGMA)),
        fpr=fpr, tpr=tpr_at_threshold(s, threshold),
        tpr_interval=tuple(float(v) for v in np.percentile(tprs, ONE_SIGMA)),
        threshold=threshold, n_background=len(b), n_background_above=n_above, n_signal=len(s),
        n_bootstrap=n_bootstrap)


def roc_points(background, signal, n_points: int = 120) -> dict[str, list[float]]:
    """The ROC at log-spaced background counts, exact at every point (a compact, plottable record).

    The thresholds are the k-th largest background scores for k = 1 .. N, log-spaced, so the
    tail the trigger lives in (FPR 1e-6 .. 1e-4) is sampled event by event and the bulk coarsely.
    Same convention as `roc_curve`: a point means 'score > threshold'.
    """
    b = _sorted(background)
    s = np.sort(_as_scores("signal", signal))
    k = np.unique(np.geomspace(1, len(b), n_points).astype(np.int64))
    thresholds = np.unique(b[len(b) - k])[::-1]
    fpr = (len(b) - np.searchsorted(b, thresholds, side="right")) / len(b)
    tpr = (len(s) - np.searchsorted(s, thresholds, side="right")) / len(s)
    return {"fpr": [*fpr.tolist(), 1.0], "tpr": [*tpr.tolist(), 1.0],
            "threshold": [*thresholds.tolist(), float(np.nextafter(min(b[0], s[0]), -np.inf))]}


def histogram_edges(background, n_bins: int = 60) -> np.ndarray:
    """Log-spaced score bins from the background's 0.1 % quantile to 10x its largest score.

    Anomaly scores are positive and span decades; a log axis shows the bulk and the tail together.
    Scores below the first edge and above the last are kept as under- and overflow.
    """
    b = _sorted(background)
    positive = b[np.searchsorted(b, 0.0, side="right"):]
    hi = 10.0 * float(positive[-1]) if positive.size else 1.0
    lo = float(np.quantile(positive, 1e-3, method="linear")) if positive.size else hi * 1e-6
    lo = min(max(lo, hi * 1e-9), hi / 10.0)
    return np.geomspace(lo, hi, n_bins + 1)


def histogram(values, edges: np.ndarray) -> dict[str, object]:
    """Counts in `edges` plus under- and overflow, as plain lists (JSON)."""
    v = _as_scores("score", values)
    counts, _ = np.histogram(v, bins=edges)
    return {"counts": counts.tolist(), "underflow": int(np.sum(v < edges[0])), "overflow": int(np.sum(v > edges[-1])),
            "n": int(v.size)}


# ---------------------------------------------------------------- DQM: runs, not events
#
# A DQM sample is a few hundred runs, tens of them bad, so whole runs are resampled (with
# replacement, each class separately) and curves are exact at every run. An empty histogram scores
# +inf (maximally anomalous) and ranks above every finite score; NaN (not scored) must be removed
# by the caller, who counts it.


def _no_nan(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise MetricError(f"{name} scores are empty")
    if np.isnan(arr).any():
        raise MetricError(f"{name} scores contain {int(np.isnan(arr).sum())} NaN values (remove unscored runs first)")
    return arr


def joint_ranks(background, signal) -> tuple[np.ndarray, np.ndarray]:
    """Dense ranks of both samples together: finite stand-ins for scores with ±inf, same ROC and AUC."""
    b, s = _no_nan("background", background), _no_nan("signal", signal)
    ranks = np.unique(np.concatenate([b, s]), return_inverse=True)[1].ravel().astype(np.float64)
    return ranks[: len(b)], ranks[len(b):]


def tpr_on_grid(fpr, tpr, grid) -> np.ndarray:
    """TPR of a ROC (points joined by straight lines, as its AUC integrates it) at the FPRs in `grid`.

    Where the curve rises vertically at one FPR the top of the rise is taken.
    """
    fpr, tpr, grid = (np.asarray(a, dtype=np.float64) for a in (fpr, tpr, grid))
    j = np.clip(np.searchsorted(fpr, grid, side="right") - 1, 0, len(fpr) - 2)
    x0, x1, y0, y1 = fpr[j], fpr[j + 1], tpr[j], tpr[j + 1]
    step = x1 - x0
    t = np.where(step > 0, (grid - x0) / np.where(step > 0, step, 1.0), 1.0)  # step 0 only at FPR 1: the top
    return np.clip(y0 + np.clip(t, 0.0, 1.0) * (y1 - y0), 0.0, 1.0)


def bootstrap_roc(background, signal, grid, n_bootstrap: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(TPR on `grid` per resampling (n_bootstrap, n_grid), AUC per resampling): runs resampled with replacement.

    Scores may hold +inf; each class is resampled separately so neither can vanish.
    """
    b, s = joint_ranks(background, signal)
    rng = np.random.default_rng(seed)
    tprs = np.empty((n_bootstrap, len(np.atleast_1d(grid))))
    aucs = np.empty(n_bootstrap)
    for i in range(n_bootstrap):
        bb = b[rng.integers(0, len(b), len(b))]
        ss = s[rng.integers(0, len(s), len(s))]
        fpr, tpr, _ = roc_curve(bb, ss)
        tprs[i] = tpr_on_grid(fpr, tpr, grid)
        aucs[i] = auc(bb, ss)
    return tprs, aucs


def false_alarm_at_tpr(background, signal, tprs) -> np.ndarray:
    """FPR at the highest threshold that still flags at least a fraction `tpr` of the signal (flag: score >= it).

    "To catch 95 % of the bad runs, what fraction of the good runs rings the alarm?" Exact on small
    samples: with n bad runs the threshold is the ceil(tpr * n)-th highest bad score. Scores may hold +inf.
    """
    b = _no_nan("background", background)
    s = np.sort(_no_nan("signal", signal))
    wanted = np.asarray(tprs, dtype=np.float64)
    if np.any((wanted < 0) | (wanted > 1)):
        raise MetricError(f"TPRs must lie in [0, 1], got {wanted.tolist()}")
    k = np.ceil(wanted * len(s) - 1e-9).astype(np.int64)  # bad runs that must be caught
    thresholds = np.where(k > 0, s[len(s) - np.maximum(k, 1)], np.inf)
    return np.array([np.mean(b >= t) if n > 0 else 0.0 for t, n in zip(thresholds, k)])


def bootstrap_false_alarm(background, signal, tprs, n_bootstrap: int = 100, seed: int = 0) -> np.ndarray:
    """`false_alarm_at_tpr` per resampling of the runs (each class with replacement): (n_bootstrap, n_tprs)."""
    b, s = _no_nan("background", background), _no_nan("signal", signal)
    rng = np.random.default_rng(seed)
    return np.array([false_alarm_at_tpr(b[rng.integers(0, len(b), len(b))], s[rng.integers(0, len(s), len(s))],
                                        tprs) for _ in range(n_bootstrap)])


def flag_thresholds(good, fractions) -> np.ndarray:
    """Per-histogram thresholds at which each histogram flags a fraction <= q of the good runs: (n_q, n_hist).

    `good` is (n_good, n_hist), NaN where a run's histogram was not scored (ignored). A run is flagged
    in a histogram when its score lies strictly above the threshold: floor(q * n) good runs lie above it
    (fewer where scores tie); q = 1 gives -inf, flagging every scored run. The AutoDQM paper sets one
    such common false-flag fraction for all histograms and counts flags per run.
    """
    good = np.asarray(good, dtype=np.float64)
    q = np.asarray(fractions, dtype=np.float64)
    out = np.full((len(q), good.shape[1]), np.inf)
    for h in range(good.shape[1]):
        g = np.sort(good[~np.isnan(good[:, h]), h])
        if g.size == 0:
            continue  # never scored: never flagged
        k = np.floor(q * len(g) + 1e-9).astype(np.int64)  # good runs allowed above
        out[:, h] = np.where(k >= len(g), -np.inf, g[len(g) - 1 - np.minimum(k, len(g) - 1)])
    return out


def count_flags(scores, thresholds) -> np.ndarray:
    """Number of each run's histograms above their thresholds, per threshold set: (n_q, n_runs); NaN never flags."""
    scores = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return (scores[None, :, :] > np.asarray(thresholds, dtype=np.float64)[:, None, :]).sum(axis=2)


def histogram_flag_roc(good_counts, bad_counts) -> tuple[np.ndarray, np.ndarray]:
    """(mean flags per good run, mean flags per bad run) along the sweep; counts are (n_q, n_runs)."""
    return np.mean(good_counts, axis=1, dtype=np.float64), np.mean(bad_counts, axis=1, dtype=np.float64)


def run_flag_roc(good_counts, bad_counts, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fraction of good runs with >= n flags, the same for bad runs) along the sweep: a run is bad at >= n flags."""
    return (np.mean(np.asarray(good_counts) >= n, axis=1, dtype=np.float64),
            np.mean(np.asarray(bad_counts) >= n, axis=1, dtype=np.float64))


def curve_area(x, y, scale: float = 1.0) -> float:
    """Area under a swept ROC-like curve through (0, 0), its points in order of x, and (scale, scale), / scale^2.

    The end points are 'flag nothing' and 'flag everything'; `scale` is the axes' range (the number of
    histograms for a histogram-flag ROC), so 1 is perfect and 0.5 is chance for both kinds of curve.
    """
    x, y = np.asarray(x, dtype=np.float64) / scale, np.asarray(y, dtype=np.float64) / scale
    order = np.lexsort((y, x))
    xs = np.concatenate([[0.0], x[order], [1.0]])
    ys = np.concatenate([[0.0], y[order], [1.0]])
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0))


def fpr_at_tpr_on_curve(x, y, tprs) -> np.ndarray:
    """Smallest x among a curve's points with y >= each wanted TPR (NaN where the curve never gets there)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = []
    for t in np.atleast_1d(tprs):
        reached = y >= t - 1e-12
        out.append(float(x[reached].min()) if reached.any() else np.nan)
    return np.array(out)
