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
