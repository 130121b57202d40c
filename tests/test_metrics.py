import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from codesign import metrics
from codesign.errors import MetricError


def test_auc_hand_cases():
    # signal 1.5 beats background 0 and 1; signal 3 beats all three: 5 of 6 pairs.
    assert metrics.auc([0, 1, 2], [1.5, 3]) == pytest.approx(5 / 6)
    assert metrics.auc([1, 1], [1]) == pytest.approx(0.5)  # ties count half
    assert metrics.auc([0, 1], [2, 3]) == 1.0
    assert metrics.auc([2, 3], [0, 1]) == 0.0


def test_auc_matches_sklearn_with_ties(rng):
    b = rng.integers(0, 50, 5000).astype(float)
    s = rng.integers(10, 60, 3000).astype(float)
    y = np.r_[np.zeros(len(b)), np.ones(len(s))]
    assert metrics.auc(b, s) == pytest.approx(roc_auc_score(y, np.r_[b, s]), abs=1e-12)


def test_roc_curve_endpoints_and_monotonic(rng):
    fpr, tpr, thr = metrics.roc_curve(rng.normal(0, 1, 1000), rng.normal(1, 1, 500))
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(thr) < 0)


def test_threshold_and_tpr_at_fpr_hand_case():
    background = np.arange(1000.0)  # 0 .. 999
    threshold, above = metrics.threshold_at_fpr(background, 0.01)
    assert threshold == 989.0 and above == 10  # 990..999 lie strictly above
    assert metrics.tpr_at_threshold([988.5, 989.0, 989.5, 1000.0], threshold) == 0.5


def test_refuses_an_fpr_the_sample_cannot_resolve():
    with pytest.raises(MetricError, match=r"999 background events.*9 events above.*use >= 1000"):
        metrics.threshold_at_fpr(np.arange(999.0), 0.01)
    with pytest.raises(MetricError, match="1000000"):
        metrics.score_signal("s", np.arange(999_999.0), [1.0], fpr=1e-5)
    assert metrics.background_events_needed(1e-5) == 1_000_000


def test_refuses_non_finite_scores():
    with pytest.raises(MetricError, match="non-finite"):
        metrics.auc([0.0, np.nan], [1.0])


def test_bootstrap_tpr_agrees_with_brute_force(rng):
    b = rng.normal(0, 1, 20_000)
    s = rng.normal(2.0, 1, 2_000)
    fpr = 1e-3
    fast = metrics.bootstrap_tpr_at_fpr(b, s, fpr, n_bootstrap=2000, seed=1)
    slow = []
    r = np.random.default_rng(2)
    for _ in range(400):
        bb = b[r.integers(0, len(b), len(b))]
        ss = s[r.integers(0, len(s), len(s))]
        t, _ = metrics.threshold_at_fpr(bb, fpr)
        slow.append(np.mean(ss > t))
    slow = np.array(slow)
    assert fast.mean() == pytest.approx(slow.mean(), rel=0.05)
    assert fast.std() == pytest.approx(slow.std(), rel=0.2)


def test_bootstrap_auc_spread_agrees_with_brute_force(rng):
    b = rng.normal(0, 1, 3000)
    s = rng.normal(0.5, 1, 1000)
    fast = metrics.bootstrap_auc(b, s, n_bootstrap=400, seed=1)
    r = np.random.default_rng(3)
    slow = np.array([metrics.auc(b[r.integers(0, 3000, 3000)], s[r.integers(0, 1000, 1000)]) for _ in range(300)])
    assert fast.mean() == pytest.approx(slow.mean(), abs=2e-3)
    assert fast.std() == pytest.approx(slow.std(), rel=0.2)


def test_score_signal_reports_the_background_behind_the_threshold(rng):
    b = rng.normal(0, 1, 100_000)
    s = rng.normal(3, 1, 5_000)
    res = metrics.score_signal("x", b, s, fpr=1e-4, n_bootstrap=50)
    assert res.n_background == 100_000 and res.n_background_above == 10 and res.n_signal == 5_000
    assert res.tpr_interval[0] <= res.tpr <= res.tpr_interval[1]
    assert res.auc_interval[0] <= res.auc <= res.auc_interval[1]
    assert 0.9 < res.auc < 1.0


def test_roc_points_are_exact_points_of_the_full_roc(rng):
    b = np.round(rng.exponential(1.0, 200_000), 3)  # ties, as fixed-point firmware scores have
    s = np.round(rng.exponential(3.0, 5_000), 3)
    pts = metrics.roc_points(b, s, n_points=80)
    fpr, tpr, thr = metrics.roc_curve(b, s)
    full = dict(zip(thr.tolist(), zip(fpr.tolist(), tpr.tolist())))
    assert 40 < len(pts["threshold"]) <= 81
    for f, t, th in zip(pts["fpr"][:-1], pts["tpr"][:-1], pts["threshold"][:-1]):
        assert full[th] == (f, t)
    assert pts["fpr"][-1] == pts["tpr"][-1] == 1.0 and min(pts["fpr"]) == 0.0
    # the tail is sampled event by event: the first thresholds are the largest background scores
    assert pts["threshold"][:5] == sorted(np.unique(b))[::-1][:5]


def test_histogram_keeps_every_event(rng):
    b = rng.exponential(1.0, 10_000)
    edges = metrics.histogram_edges(b, 30)
    assert len(edges) == 31 and edges[0] > 0 and edges[-1] == pytest.approx(10 * b.max())
    h = metrics.histogram(np.concatenate([b, [0.0, -1.0, 1e9]]), edges)
    assert sum(h["counts"]) + h["underflow"] + h["overflow"] == h["n"] == 10_003
    assert h["overflow"] == 1 and h["underflow"] >= 2


def test_threshold_counts_the_events_strictly_above_it_when_scores_tie():
    # 1,000,000 events, 15 tied at the top and 20 distinct just below: FPR 1e-5 allows 10 above; the
    # 11th largest is one of the tied 15, so none lie above it: refused, naming the tie.
    b = np.concatenate([np.zeros(999_965), np.arange(1.0, 21.0), np.full(15, 99.0)])
    with pytest.raises(MetricError, match=r"rests on 0 background events strictly above.*15 of 1000000 .*tie"):
        metrics.threshold_at_fpr(b, 1e-5)
    with pytest.raises(MetricError, match="saturate"):
        metrics.score_signal("s", b, np.full(100, 100.0), fpr=1e-5)
    # ties below the top are honest: 10 events above a threshold that 5 more events share
    b = np.concatenate([np.zeros(999_985), np.full(5, 50.0), np.arange(60.0, 70.0)])
    threshold, above = metrics.threshold_at_fpr(b, 1e-5)
    assert threshold == 50.0 and above == 10


def test_saturated_top_with_more_events_above_than_needed_is_kept_with_its_count():
    # 12 distinct top scores, then 30 tied: allowed 20 above at FPR 1e-5 with 2 M events, only 12 lie above
    b = np.concatenate([np.zeros(2_000_000 - 42), np.full(30, 5.0), np.arange(10.0, 22.0)])
    res = metrics.score_signal("s", b, np.r_[np.full(50, 6.0), np.full(50, 1.0)], fpr=1e-5, n_bootstrap=20)
    assert res.threshold == 5.0 and res.n_background_above == 12 and res.tpr == 0.5


def test_sorted_scores_give_the_same_metrics_as_raw_arrays(rng):
    b = np.round(rng.exponential(1.0, 300_000), 2)
    s = np.round(rng.exponential(2.0, 3_000), 2)
    shared = metrics.SortedScores(b)
    assert metrics.auc(shared, s) == metrics.auc(b, s)
    assert metrics.threshold_at_fpr(shared, 1e-4) == metrics.threshold_at_fpr(b, 1e-4)
    assert metrics.score_signal("x", shared, s, 1e-4, 20) == metrics.score_signal("x", b, s, 1e-4, 20)
    assert shared.above(metrics.threshold_at_fpr(b, 1e-4)[0]) == 30
