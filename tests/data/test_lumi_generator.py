"""Per-lumisection series: realistic generation, windows, per-LS aggregation, scaling, bad input."""

import numpy as np
import pytest

from codesign.data import lumi_generator as lg
from codesign.errors import DataError


@pytest.fixture(scope="module")
def series():
    return lg.generate(n_ls=3000, seed=4)


def test_series_is_deterministic_and_labelled(series):
    again = lg.generate(n_ls=3000, seed=4)
    np.testing.assert_array_equal(series.counts, again.counts)
    assert series.counts.shape == (3000, 50) and len(series) == 3000
    assert 0.01 < series.labels.mean() < 0.08
    assert set(series.kinds[series.labels == 1]) <= set(lg.KINDS) and set(series.kinds[series.labels == 0]) == {""}
    assert not np.array_equal(series.counts, lg.generate(n_ls=3000, seed=5).counts)


def test_entries_follow_luminosity_and_anomalies_look_like_their_kind(series):
    entries = series.counts.sum(axis=1)
    good = series.labels == 0
    assert np.corrcoef(entries[good], series.lumi[good])[0, 1] > 0.95  # Poisson on ~2,000 entries
    empty = series.kinds == "empty"
    assert empty.any()
    # empty or nearly empty: at most 60 % of what the luminosity gives (fit on good LS), some exactly 0
    per_lumi = np.median(entries[good] / series.lumi[good])
    assert np.all(entries[empty] < 0.7 * per_lumi * series.lumi[empty]) and (entries[empty] == 0).any()
    assert series.lumi.max() / series.lumi.min() > 2  # fills decay: late LS have a fraction of the entries
    frac = series.counts / np.maximum(entries, 1)[:, None]
    tail = frac[:, -15:].sum(axis=1)
    for kind in ("burst", "noisy"):
        if (series.kinds == kind).any():
            assert np.median(tail[series.kinds == kind]) > 2 * np.median(tail[good]), kind


def test_windows_cover_every_lumisection_and_aggregate_back():
    x = np.arange(12 * 2, dtype=float).reshape(12, 2)
    w = lg.windows(x, width=5, stride=1)
    assert w.shape == (8, 5, 2)
    np.testing.assert_array_equal(w[0], x[:5])
    np.testing.assert_array_equal(w[-1], x[-5:])  # the last lumisection is in a window
    errors = np.tile(np.arange(5.0), (8, 1)) + np.arange(8)[:, None]  # error of LS i = i everywhere
    np.testing.assert_allclose(lg.per_lumisection(errors, 12), np.arange(12.0))
    w3 = lg.windows(x, width=5, stride=3)
    assert w3.shape == (3, 5, 2)
    per = lg.per_lumisection(np.ones((3, 5)), 12, stride=3)
    assert np.isnan(per[-1]) and np.isfinite(per[:-1]).all()  # LS 11 lies in no window


def test_minmax_is_fitted_on_training_and_safe_on_constant_bins():
    train = np.array([[0.0, 5.0, 1.0], [10.0, 5.0, 3.0]])
    m = lg.MinMax.fit(train)
    np.testing.assert_allclose(m.transform(np.array([[5.0, 5.0, 2.0], [20.0, 7.0, 1.0]])),
                               [[0.5, 0.0, 0.5], [2.0, 0.0, 0.0]])
    again = lg.MinMax.from_dict(m.to_dict())
    np.testing.assert_array_equal(again.low, m.low)


def test_bad_input_is_one_clear_error():
    with pytest.raises(DataError, match="shorter than the window of 50"):
        lg.windows(np.zeros((20, 3)), width=50)
    bad = np.ones((10, 4))
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="1 NaN/inf bin.*first at index 3"):
        lg.check(bad)
    with pytest.raises(DataError, match=r"different numbers of bins \[3, 4\]"):
        lg.check([[1, 2, 3], [1, 2, 3, 4]])
