"""How per-signal efficiencies become one objective (`codesign.merit.combine`)."""

import math

import pytest

from codesign import metrics
from codesign.merit import PER_SIGNAL, combine


def _s(name, tpr, err, n=100_000):
    return metrics.SignalScores(signal=name, auc=0.8, auc_interval=(0.79, 0.81), fpr=1e-5, tpr=tpr,
                                tpr_interval=(tpr - err, tpr + err), threshold=1.0, n_background=10_000_000,
                                n_background_above=100, n_signal=n, n_bootstrap=20)


def test_zero_upper_limit_hand_case():
    # 0 of n pass: P(0 | p) = (1 - p)^n = 1 - 0.6827 at the limit
    p = metrics.zero_upper_limit(100_000)
    assert (1 - p) ** 100_000 == pytest.approx(1 - 0.6827, rel=1e-6) and p == pytest.approx(1.148e-5, rel=1e-3)


def test_combinations_hand_cases():
    scores = {"a": _s("a", 1e-2, 1e-3), "b": _s("b", 1e-4, 2e-5)}
    assert combine(scores, "mean") == pytest.approx((5.05e-3, math.hypot(1e-3, 2e-5) / 2))
    assert combine(scores, "min") == pytest.approx((1e-4, 2e-5))
    g, err = combine(scores, "geomean")
    assert g == pytest.approx(1e-3) and err == pytest.approx(1e-3 * math.hypot(0.1, 0.2) / 2)
    assert combine(scores, "b") == pytest.approx((1e-4, 2e-5))
    assert combine(scores, PER_SIGNAL) == combine(scores, "geomean")  # the record's summary of a per-signal study
    with pytest.raises(ValueError, match="unknown objective 'zprime'"):
        combine(scores, "zprime")


def test_giving_up_a_signal_does_not_win_the_geomean():
    """A candidate that doubles one signal by losing another entirely ranks below a balanced one."""
    balanced = {"a": _s("a", 2e-3, 1e-4), "b": _s("b", 2e-4, 3e-5)}
    traded = {"a": _s("a", 4e-3, 1e-4), "b": _s("b", 0.0, 0.0)}
    assert combine(traded, "mean")[0] > combine(balanced, "mean")[0]  # the old average is won by the trade
    assert combine(traded, "geomean")[0] < combine(balanced, "geomean")[0] / 2
    assert combine(traded, "geomean")[0] == pytest.approx(math.sqrt(4e-3 * metrics.zero_upper_limit(100_000)))
