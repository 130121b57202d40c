"""The shipped calibration reproduces from the checked-in reports, and its stated errors hold."""

import csv

import numpy as np
import pytest

from codesign.hardware import analytic, calibrate


@pytest.fixture(scope="module")
def fitted():
    cases = calibrate.build_cases()
    co, result = calibrate.fit(cases)
    return cases, co, result


def test_shipped_coefficients_are_the_fit_of_the_checked_in_reports(fitted):
    _, co, _ = fitted
    shipped = analytic.coefficients()
    assert shipped.model_dump(exclude={"source"}) == co.model_dump(exclude={"source"})


def test_stated_errors_are_what_the_cases_show(fitted):
    cases, co, result = fitted
    for res in ("lut", "ff", "dsp", "bram18"):
        est, real = result["loo"][res], result["real"][res]
        ok = real > 0
        rel = np.abs(est[ok] / real[ok] - 1)
        assert co.hls_error[res].median == pytest.approx(np.median(rel), abs=1e-3)
        assert co.hls_error[res].worst == pytest.approx(rel.max(), abs=1e-3)
    assert len(cases) >= 50


def test_reuse_factor_sweep_dsps_and_latency(fitted):
    """The tutorial's RF sweep (xczu7ev, Latency strategy): shared multipliers to 1 %, II exact."""
    cases, _, result = fitted
    sweep = [i for i, c in enumerate(cases) if "xczu7ev" in c.name and " RF1 " not in c.name]
    assert len(sweep) >= 14
    dsp = result["est"]["dsp"][sweep] / result["real"]["dsp"][sweep]
    assert np.all(np.abs(dsp - 1) < 0.1) and np.median(np.abs(dsp - 1)) < 0.01
    ii_real, ii_est = result["real"]["ii"][sweep], result["est"]["ii"][sweep]
    assert np.all(np.abs(ii_est / ii_real - 1) <= 0.05)  # hls4ml of that era shaved 2-10 from RF 64-256


def test_validation_table_matches(fitted):
    cases, _, result = fitted
    rows = list(csv.DictReader(open(calibrate.HERE / "validation.csv")))
    assert [r["case"] for r in rows] == [c.name for c in cases]
    assert [int(r["dsp_real"]) for r in rows] == result["real"]["dsp"].astype(int).tolist()
