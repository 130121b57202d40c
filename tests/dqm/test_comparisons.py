"""The statistical tests' numbers: null distributions, sensitivity, and the binned-KS fix over AutoDQM_ML."""

import numpy as np
import pytest
from scipy import stats

from codesign.dqm import comparisons as cmp


def gaussian(mu=0.0, sigma=1.0, n_bins=60):
    x = np.linspace(-4, 4, n_bins)
    p = np.exp(-0.5 * ((x - mu) / sigma) ** 2) + 1e-3
    return p / p.sum()


def test_binned_ks_sees_what_ks_on_contents_cannot():
    rng = np.random.default_rng(0)
    ref = rng.poisson(gaussian() * 1e5)[None]
    permuted = rng.permutation(rng.poisson(gaussian() * 1e5))  # same bin heights, scrambled positions
    assert stats.ks_2samp(permuted, ref[0], method="asymp").statistic < 0.1  # AutoDQM_ML's: blind to it
    assert cmp.ks_distance(permuted, ref) > 0.3
    assert cmp.ks_distance(rng.poisson(gaussian() * 1e5), ref) < 0.01


def test_ks_2d_uses_every_corner():
    ref = np.ones((1, 4, 4))
    data = np.ones((4, 4))
    data[3, 3] = 10.0  # a hot corner cell: invisible from the (0, 0) corner's cumulative until the last bin
    assert cmp.ks_distance(data, ref) > 0.3


@pytest.mark.parametrize("fn", [lambda d, r: cmp.chi2_per_ndf(d, r)[0], lambda d, r: cmp.beta_binomial(d, r)[0]])
def test_chi2_like_statistics_are_about_one_under_the_null(fn):
    rng = np.random.default_rng(1)
    ref = rng.poisson(gaussian() * 2e5, (1, 60))
    values = [fn(rng.poisson(gaussian() * 3e4), ref) for _ in range(300)]
    assert 0.8 < np.mean(values) < 1.3


def test_chi2_grows_with_statistics_and_the_modified_one_less():
    rng = np.random.default_rng(2)
    ref = rng.poisson(gaussian() * 1e6, (1, 60))
    small, large = (rng.poisson(gaussian(0.2) * n) for n in (1e4, 1e6))
    c_small, c_large = cmp.chi2_per_ndf(small, ref)[0], cmp.chi2_per_ndf(large, ref)[0]
    m_small, m_large = cmp.modified_chi2(small, ref), cmp.modified_chi2(large, ref)
    assert c_large / c_small > 30
    damping = (large.sum() / small.sum()) ** (-1 / 3)  # 100x the entries: chi2 damped by 100^(1/3)
    assert m_large / m_small == pytest.approx(c_large / c_small * damping, rel=1e-9)
    assert m_large / m_small < c_large / c_small / 4


def test_beta_binomial_copes_with_low_statistics_and_flags_a_hot_bin():
    rng = np.random.default_rng(3)
    refs = rng.poisson(gaussian() * 200, (4, 60))  # 200 entries per reference run
    quiet = [cmp.beta_binomial(rng.poisson(gaussian() * 200), refs) for _ in range(200)]
    assert np.mean([q[0] for q in quiet]) < 1.5 and np.median([q[1] for q in quiet]) < 3
    hot = rng.poisson(gaussian() * 200)
    hot[5] += 40
    chi2, max_pull = cmp.beta_binomial(hot, refs)
    assert max_pull > 5
    pulls, used = cmp.beta_binomial_pulls(hot, refs)
    assert np.argmax(pulls) == 5 and pulls[5] > 0 and used <= 60


def test_max_pull_correction_accounts_for_the_bins_tried():
    assert cmp.max_pull_corrected(3.0, 1) == pytest.approx(3.0, rel=1e-6)
    assert cmp.max_pull_corrected(3.0, 1000) < 1.0
    assert cmp.max_pull_corrected(40.0, 100) > 30  # capped, not overflowing


def test_empty_run_and_empty_reference():
    ref = np.ones((1, 10))
    assert cmp.ks_distance(np.zeros(10), ref) == np.inf
    assert cmp.chi2_per_ndf(np.zeros(10), ref)[0] == np.inf
    assert cmp.beta_binomial(np.zeros(10), ref) == (np.inf, np.inf)
    assert np.isnan(cmp.ks_distance(np.ones(10), np.zeros((1, 10))))
