"""Compression residuals against hand-computed cases."""

import numpy as np
import pytest

from codesign import residuals as R
from codesign.errors import DataError

NAMES = ["pt", "eta", "phi", "m"]


def test_residuals_by_hand():
    orig = np.array([[100.0, 0.5, 3.1, 10.0],
                     [50.0, -0.01, -3.1, 0.0]])
    reco = np.array([[101.0, 0.55, -3.1, 9.0],
                     [49.0, 0.01, 3.1, 1.0]])
    res = R.residuals(orig, reco, NAMES)
    np.testing.assert_allclose(res["pt"], [0.01, -0.02])  # relative
    np.testing.assert_allclose(res["eta"], [0.05, 0.02])  # absolute: no division by eta ~ 0
    # phi: 3.1 -> -3.1 is 2 pi - 6.2 = 0.0832 the short way round, not -6.2
    np.testing.assert_allclose(res["phi"], [2 * np.pi - 6.2, -(2 * np.pi - 6.2)], atol=1e-12)
    assert res["m"][0] == pytest.approx(-0.1) and np.isnan(res["m"][1])  # a massless jet has no relative m


def test_wrap_angle_maps_into_the_half_open_interval():
    d = np.array([0.0, np.pi, -np.pi, 3 * np.pi, 2 * np.pi + 0.1, -2 * np.pi - 0.1])
    np.testing.assert_allclose(R.wrap_angle(d), [0.0, -np.pi, -np.pi, -np.pi, 0.1, -0.1], atol=1e-12)


def test_summary_and_correlations():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 0.02, 200_000)
    res = {"pt": a, "m": 0.5 * a + rng.normal(0, 0.01, a.size), "eta": np.append(rng.normal(0, 0.1, a.size - 1),
                                                                               np.nan)}
    s = R.summary(res)
    assert s["pt"]["kind"] == "relative" and s["eta"]["kind"] == "absolute" and s["eta"]["n"] == a.size - 1
    assert s["pt"]["rms"] == pytest.approx(0.02, rel=0.01)
    assert s["pt"]["half_width_68"] == pytest.approx(0.02, rel=0.02)  # Gaussian: 68 % half-width = sigma
    assert s["pt"]["quantiles"]["0.5"] == pytest.approx(0.0, abs=2e-4)
    names, c = R.correlations(res)
    assert names == ["pt", "m", "eta"]
    assert c[0, 1] == pytest.approx(0.5 * 0.02 / np.sqrt(0.25 * 0.02**2 + 0.01**2), abs=0.01)
    assert abs(c[0, 2]) < 0.01


def test_shapes_are_checked():
    with pytest.raises(DataError, match="residuals need \\(jets, 4\\) arrays"):
        R.residuals(np.zeros((3, 4)), np.zeros((3, 3)), NAMES)


def test_intervals_and_the_mean_rms():
    rng = np.random.default_rng(3)
    n = 40_000
    res = {"pt": rng.normal(0, 0.02, n), "eta": rng.normal(0, 0.05, n), "phi": rng.normal(0, 0.03, n),
           "m": np.where(np.arange(n) % 100 == 0, np.nan, rng.normal(0, 0.10, n))}
    summary, merit = R.with_intervals(res, n_bootstrap=100, seed=1)
    for name, sigma in (("pt", 0.02), ("eta", 0.05), ("phi", 0.03), ("m", 0.10)):
        lo, hi = summary[name]["rms_interval"]
        assert lo < summary[name]["rms"] < hi
        # the bootstrap spread of an RMS of n Gaussian values is sigma / sqrt(2 n)
        assert (hi - lo) / 2 == pytest.approx(sigma / np.sqrt(2 * summary[name]["n"]), rel=0.3)
    assert summary["m"]["n"] == n - n // 100  # NaN (massless) jets are left out, not counted as zero
    assert merit["rms"] == pytest.approx(np.mean([summary[k]["rms"] for k in res]))
    assert merit["rms"] == pytest.approx(0.05, rel=0.02) and 0 < merit["rms_error"] < 1e-3


def test_histograms_cover_the_core_and_count_the_tails():
    v = np.concatenate([np.random.default_rng(0).normal(0, 0.01, 10_000), [5.0, -7.0, np.nan]])
    res = {"pt": v}
    summary = R.summary(res)
    h = R.histograms(res, summary, bins=40)["pt"]
    assert len(h["edges"]) == 41 and len(h["counts"]) == 40
    assert sum(h["counts"]) + h["underflow"] + h["overflow"] == 10_002  # NaN dropped, every finite value counted
    assert h["overflow"] >= 1 and h["underflow"] >= 1
    assert h["edges"][0] <= -3 * summary["pt"]["half_width_68"] and h["edges"][-1] >= 3 * summary["pt"]["half_width_68"]
