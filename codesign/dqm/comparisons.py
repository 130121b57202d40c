"""Histogram-vs-reference statistics as pure numpy functions (the statistical tests of the DQM path).

All take raw bin counts: `data` (n_bins,) or a 2D array, `refs` (n_refs, *data.shape).
Counts matter: a test must know how many entries a shape difference rests on.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

PROB_FLOOR = 1e-300  # per-bin relative likelihoods are floored here: pulls are capped at ~37 sigma


def _total(counts: np.ndarray) -> float:
    return float(np.sum(counts))


def cumulative(fractions: np.ndarray) -> list[np.ndarray]:
    """Binned CDFs of a 1D or 2D histogram; in 2D one per corner (the binned analogue of the
    Fasano-Franceschini test, since a 2D distribution has no unique cumulative ordering)."""
    if fractions.ndim == 1:
        return [np.cumsum(fractions)]
    out = []
    for flip_x in (False, True):
        for flip_y in (False, True):
            f = fractions[::-1] if flip_x else fractions
            f = f[:, ::-1] if flip_y else f
            out.append(np.cumsum(np.cumsum(f, axis=0), axis=1))
    return out


def ks_distance(data: np.ndarray, refs: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the binned CDFs of the run and of the summed references.

    The bins are the sample here, not the bin contents: AutoDQM_ML's `ks_2samp(data, ref)` on
    contents compared the distributions of bin heights, which a permutation of the bins leaves unchanged.
    """
    data = np.asarray(data, dtype=np.float64)
    ref = np.asarray(refs, dtype=np.float64).sum(axis=0)
    n, m = _total(data), _total(ref)
    if n <= 0:
        return np.inf
    if m <= 0:
        return np.nan
    return float(max(np.max(np.abs(a - b)) for a, b in zip(cumulative(data / n), cumulative(ref / m))))


def chi2_per_ndf(data: np.ndarray, refs: np.ndarray) -> tuple[float, int]:
    """(chi2 / ndf, ndf) of the two-sample test of unweighted histograms (Gagunashvili; ROOT's Chi2Test "UU").

    chi2 = sum_i (M n_i - N m_i)^2 / (N M (n_i + m_i)) over bins filled in either, ndf = filled bins - 1;
    the totals N, M are free, so only the shapes are compared.
    """
    n_i = np.asarray(data, dtype=np.float64).ravel()
    m_i = np.asarray(refs, dtype=np.float64).sum(axis=0).ravel()
    n, m = n_i.sum(), m_i.sum()
    if n <= 0:
        return np.inf, 0
    if m <= 0:
        return np.nan, 0
    filled = (n_i + m_i) > 0
    ndf = int(filled.sum()) - 1
    if ndf < 1:
        return 0.0, 0
    chi2 = np.sum((m * n_i[filled] - n * m_i[filled]) ** 2 / (n * m * (n_i[filled] + m_i[filled])))
    return float(chi2 / ndf), ndf


def modified_chi2(data: np.ndarray, refs: np.ndarray) -> float:
    """chi2/ndf * N^(-1/3): a fixed shape difference grows chi2 linearly with the run's entries N;
    the damping keeps high-statistics runs from dominating every ranking."""
    value, _ = chi2_per_ndf(data, refs)
    n = _total(np.asarray(data))
    return value if not np.isfinite(value) or n <= 0 else float(value * n ** (-1.0 / 3.0))


def _betabinom_logpmf(k, n, a, b):
    return (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) + gammaln(k + a) + gammaln(n - k + b)
            - gammaln(n + a + b) + gammaln(a + b) - gammaln(a) - gammaln(b))


def beta_binomial_pulls(data: np.ndarray, refs: np.ndarray, tol: float = 0.01) -> tuple[np.ndarray, int]:
    """Signed per-bin pulls of the run against each reference, (pulls with data's shape, bins used).

    Per reference and bin, the count k of the run's N entries is compared with the beta-binomial
    predictive distribution BetaBinom(N, r + 1, R - r + 1) a reference bin r of R entries implies (the
    posterior of the bin fraction under a flat prior, so a low-statistics reference widens it). The
    likelihood of k relative to the most likely count gives the pull sqrt(-2 ln L/Lmax) (Wilks), with
    per-bin likelihoods averaged over references. `tol` is a relative systematic tolerance: the
    reference counts are scaled by (1 + (r tol^2)^2)^(-1/2), so bins with huge counts are not held to
    sub-per-mille precision. This is the AutoDQM beta-binomial test (arXiv:2501.13789).
    """
    d = np.round(np.clip(np.asarray(data, dtype=np.float64), 0, None))
    r = np.round(np.clip(np.asarray(refs, dtype=np.float64), 0, None))
    r = r[r.reshape(len(r), -1).sum(axis=1) > 0]
    n = d.sum()
    if n <= 0 or len(r) == 0:
        return np.full(d.shape, np.nan), 0
    axes = tuple(range(1, r.ndim))
    totals = r.sum(axis=axes, keepdims=True)
    scale = (1.0 + (r * tol ** 2) ** 2) ** -0.5
    r_tol, total_tol = np.round(r * scale), np.round(totals * scale)
    a, b = r_tol + 1.0, total_tol - r_tol + 1.0
    expected = n * r / totals
    likelihoods = []
    for k in (d, np.clip(np.ceil(expected), None, n), np.clip(np.floor(expected), 0, None)):
        likelihoods.append(_betabinom_logpmf(np.broadcast_to(k, r.shape), n, a, b))
    log_rel = np.minimum(likelihoods[0] - np.maximum(likelihoods[1], likelihoods[2]), 0.0)
    prob = np.maximum(np.exp(log_rel), PROB_FLOOR).mean(axis=0)
    pulls = np.sqrt(-2.0 * np.log(np.maximum(prob, PROB_FLOOR)))
    # Sign: above or below the references (each normalised to the run's entries).
    reference = (r / totals).mean(axis=0) * n
    used = int(np.count_nonzero(d + r.sum(axis=0)))
    return pulls * np.sign(d - reference), used


def beta_binomial(data: np.ndarray, refs: np.ndarray, tol: float = 0.01) -> tuple[float, float]:
    """(chi2 = sum of squared pulls / bins used, max |pull| corrected for the number of bins tried)."""
    pulls, used = beta_binomial_pulls(data, refs, tol)
    if _total(np.asarray(data)) <= 0:
        return np.inf, np.inf
    if used == 0:
        return np.nan, np.nan
    chi2 = float(np.sum(pulls ** 2) / used)
    return chi2, max_pull_corrected(float(np.max(np.abs(pulls))), used)


def max_pull_corrected(max_pull: float, n_bins: int) -> float:
    """The largest of n_bins pulls as the significance of one pull: p -> 1 - (1 - p)^n_bins (look-elsewhere)."""
    from scipy import stats

    p = stats.chi2.sf(min(max_pull, 37.0) ** 2, 1)
    p_any = n_bins * p if n_bins * p < 0.01 else 1.0 - (1.0 - p) ** n_bins
    return float(np.sqrt(stats.chi2.isf(max(p_any, PROB_FLOOR), 1)))
