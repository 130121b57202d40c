"""`codesign dqm assess` on a hand-built table with known separation, and its run-level metrics on hand cases.

The table: 200 runs, three histograms (two 1D, one 2D), three algorithms (two with reconstructions,
one statistical test without), labels, splits, an empty histogram (+inf) and a missing one (NaN).
Bad runs score higher only in the histograms their anomaly changed, so the truth-based ROC must beat
the label-based one there. The page is rendered in headless Chromium from a copy in another place.
"""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from codesign import metrics
from codesign.data import dqm_table
from codesign.data.dqm_table import HistogramInfo, Table
from codesign.dqm import assess as assess_mod
from codesign.dqm.assess import assess
from codesign.errors import CodesignError, ConfigError, DataError
from tests.browser import IMAGES, chromium

PHI = "L1T//Run summary/L1TStage2EMTF/emtfTrackPhi"
THETA = "CSC//Run summary/CSCOfflineMonitor/Segments/hSGlobalTheta"
OCC = "L1T//Run summary/L1TStage2EMTF/emtfTrackOccupancy"
TAGS = ("pca", "ae", "ks")  # ks: a statistical test, no reconstruction
KINDS = {"dead_region": (PHI, OCC), "shift": (THETA,)}
N_RUNS, FIRST_RUN = 200, 315000
EMPTY, MISSING = 7, 11  # rows: THETA empty in a bad 'shift' run (+inf), PHI missing in a good test run (NaN)
SPLIT_PREFIX = dqm_table.SPLIT


def _infos() -> dict[str, HistogramInfo]:
    return {
        PHI: HistogramInfo(PHI, "TH1F", (30,), (tuple(np.linspace(-np.pi, np.pi, 31)),), "EMTF track #phi",
                           ("#phi",)),
        THETA: HistogramInfo(THETA, "TH1F", (20,), (tuple(np.linspace(0, 90, 21)),), "segment theta",
                             ("theta [deg]",)),
        OCC: HistogramInfo(OCC, "TH2F", (8, 6), (tuple(np.arange(9.0)), tuple(np.arange(7.0))), "occupancy",
                           ("sector", "station")),
    }


def make_table(path, seed=0, labels=True, scores=True):
    """The realistic table described in the module docstring; returns (path, truth dict)."""
    rng = np.random.default_rng(seed)
    infos = _infos()
    runs = FIRST_RUN + np.arange(N_RUNS)
    label = np.zeros(N_RUNS, dtype=np.int8)
    others = np.setdiff1d(np.arange(N_RUNS), [EMPTY, MISSING])
    bad = np.insert(rng.choice(others, 29, replace=False), 1, EMPTY)  # EMPTY is the first 'shift' run
    label[bad] = 1
    unknown = rng.choice(np.setdiff1d(others, bad), 10, replace=False)
    label[unknown] = -1
    kind = {int(i): ("dead_region" if j % 2 == 0 else "shift") for j, i in enumerate(bad)}
    frame = pd.DataFrame({"run_number": runs.astype(np.int64), "year": np.full(N_RUNS, 2018, dtype=np.int64),
                          "era": np.where(runs < FIRST_RUN + 100, "A", "B"), "production": "UL2018",
                          "primary_dataset": "SingleMuon", "file": [f"DQM_{r}.root" for r in runs]})
    if labels:
        frame["label"] = label
    arrays = {}
    for h, info in infos.items():
        template = rng.uniform(0.5, 1.5, info.n_bins)
        counts = rng.poisson(template * 200, (N_RUNS, info.n_bins)).astype(float)
        arrays[h] = counts
    arrays[THETA][EMPTY] = 0.0  # an empty histogram -> +inf
    arrays[PHI][MISSING] = np.nan  # a missing histogram -> NaN
    split = np.where(rng.uniform(size=N_RUNS) < 0.5, "train", "test").astype(object)
    split[rng.choice(N_RUNS, 10, replace=False)] = "val"
    split[label == 1] = "test"
    low = np.setdiff1d(others, bad)[:6]
    split[low] = "low_stat"
    split[MISSING] = "test"
    if scores:
        for t, (tag, scale) in enumerate(zip(TAGS, (1e-4, 3e-4, 0.05))):
            frame[f"{SPLIT_PREFIX}{tag}"] = split
            for h, info in infos.items():
                s = scale * rng.lognormal(0.0, 0.5, N_RUNS)
                changed = np.array([kind.get(i) is not None and h in KINDS[kind[i]] for i in range(N_RUNS)])
                s[changed] *= rng.lognormal(1.2 - 0.3 * t, 0.3, changed.sum())
                s[np.all(arrays[h] == 0, axis=1)] = np.inf
                s[np.all(np.isnan(arrays[h]), axis=1)] = np.nan
                frame[f"{h}_score_{tag}"] = s
                if tag != "ks":
                    reco = np.abs(arrays[h] * rng.normal(1, 0.05, arrays[h].shape)) + 1e-3
                    arrays[f"{h}_reco_{tag}"] = reco / reco.sum(axis=1, keepdims=True)
    dqm_table.write(path, Table(frame, arrays, infos, {"fetch": {"test": True}}))
    truth = {"generator": "test", "anomalies": [{"run": int(runs[i]), "kind": k, "histograms": list(KINDS[k]),
                                                 "strength": 1.0} for i, k in sorted(kind.items())]}
    return path, truth



@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("dqm")
    path, truth = make_table(d / "SingleMuon.parquet")
    truth_path = d / "truth.json"
    truth_path.write_text(json.dumps(truth))
    return path, truth_path, truth


@pytest.fixture(scope="module")
def assessed(built, tmp_path_factory):
    path, truth_path, _ = built
    out = tmp_path_factory.mktemp("assess") / "plots"
    return assess(path, out, n_runs=2, n_bootstrap=50, make_webpage=True, truth=truth_path, seed=3)


def _labelled_test(table, tag):
    split = table.frame[f"{SPLIT_PREFIX}{tag}"].to_numpy()
    labels = table.labels
    return (split == "test") & (labels == 0), (split == "test") & (labels == 1)


# ---------------------------------------------------------------- the whole run


def test_outputs_summary_and_lines(assessed, built):
    out, s = assessed.out, assessed.summary
    assert (out / "index.html").is_file() and (out / "tables" / "false_alarm.md").is_file()
    assert json.loads((out / "summary.json").read_text())["kind"] == assess_mod.KIND
    assert s["histograms"] == [PHI, THETA, OCC] and s["tags"] == list(TAGS)
    pngs = sorted(p.name for p in (out / "img").glob("*.png"))
    table = dqm_table.read(built[0])
    rows = np.flatnonzero(np.isin(table.runs, s["runs_plotted"]))
    drawn = sum(not np.all(np.isnan(table.arrays[h][i])) for i in rows for h in (PHI, THETA, OCC))
    # per histogram: 2 score-distribution figures, label ROC, truth ROC; one per drawn run and histogram; run level
    assert len(pngs) == assessed.n_figures == 3 * 4 + drawn + 1 and drawn >= 5
    assert len(s["runs_plotted"]) == 2 and all(f"reco_{r}_" in " ".join(pngs) for r in s["runs_plotted"])
    counts = s["counts"]["pca"]
    good, bad = _labelled_test(table, "pca")
    assert (counts["test_good"], counts["test_bad"], counts["low_stat"]) == (good.sum(), bad.sum(), 6)
    assert sum(counts[k] for k in assess_mod.SPLITS) == counts["runs"] == N_RUNS
    # diagnostics: the +inf run of THETA heads its top list, the NaN of PHI is counted, not listed
    top = s["scores"][THETA]["ks"]["top_runs"]
    assert top[0]["run"] == FIRST_RUN + EMPTY and np.isposinf(top[0]["score"]) and len(top) == 5
    assert s["scores"][PHI]["pca"]["n_nan"] == 1 and s["scores"][THETA]["ae"]["n_inf"] == 1
    finite = table.score(PHI, "ae")[np.isfinite(table.score(PHI, "ae"))]
    assert s["scores"][PHI]["ae"]["mean"] == pytest.approx(finite.mean())
    assert any(line.startswith(f"{THETA} [ks]: score") for line in assessed.lines)
    assert any(f"run {FIRST_RUN + EMPTY} (+inf)" in line for line in assessed.lines)
    assert any(line.startswith("run level [pca]") for line in assessed.lines)
    saved = json.loads((out / "summary.json").read_text())
    assert saved["provenance"]["seed"] == 3 and saved["settings"]["n_bootstrap"] == 50


def test_auc_matches_metrics_auc_on_the_test_split(assessed, built):
    table = dqm_table.read(built[0])
    for h in (PHI, THETA, OCC):
        for tag in TAGS:
            good, bad = _labelled_test(table, tag)
            s = table.score(h, tag)
            keep = ~np.isnan(s)
            finite = np.where(np.isposinf(s), np.nanmax(s[np.isfinite(s)]) * 10, s)  # +inf ranks above all
            expected = metrics.auc(finite[good & keep], finite[bad & keep])
            e = assessed.summary["roc"][h][tag]
            assert e["auc"] == pytest.approx(expected, abs=1e-12), (h, tag)
            assert (e["n_good"], e["n_bad"]) == ((good & keep).sum(), (bad & keep).sum())
            lo, hi = e["auc_interval"]
            assert lo <= e["auc"] <= hi and 0 < e["auc_error"] < 0.2
            assert e["n_nan_good"] + e["n_nan_bad"] == np.sum((good | bad) & ~keep)
            assert (e["n_inf_bad"], e["n_inf_good"]) == ((1, 0) if h == THETA else (0, 0))
            assert (e["n_nan_good"], e["n_nan_bad"]) == ((1, 0) if h == PHI else (0, 0))
            band = e["band"]
            assert np.all(np.array(band["lo"]) <= np.array(band["hi"]))
    # known separation: every algorithm finds the changed histograms better than chance
    assert all(assessed.summary["roc"][PHI][t]["auc"] > 0.6 for t in TAGS)


def test_truth_beats_labels_where_the_anomaly_lives(assessed, built):
    truth = assessed.summary["truth"]
    assert truth["n_anomalous_runs"] == 30 and set(truth["by_kind"]) == set(KINDS)
    for tag in TAGS:
        # a label-based ROC on PHI counts 'shift' runs (which left PHI alone) as bad; the truth ROC does not
        assert truth["by_histogram"][PHI][tag]["auc"] > assessed.summary["roc"][PHI][tag]["auc"] + 0.05
        assert set(truth["by_kind"]["shift"][tag]["histograms"]) == {THETA}
        assert set(truth["by_kind"]["dead_region"][tag]["histograms"]) == {PHI, OCC}
    assert any(line.startswith("truth [shift]") for line in assessed.lines)
    table = dqm_table.read(built[0])
    shift_runs = {a["run"] for a in built[2]["anomalies"] if a["kind"] == "shift"}
    test = table.frame[f"{SPLIT_PREFIX}ae"].to_numpy() == "test"
    # truth knows better than labels: clean = every test run without an anomaly, unlabelled ones included
    clean = test & ~np.isin(table.runs, [a["run"] for a in built[2]["anomalies"]])
    assert np.sum(clean & (table.labels == -1)) > 0
    s = table.score(THETA, "ae")
    s = np.where(np.isposinf(s), 1e9, s)  # +inf ranks above everything
    expected = metrics.auc(s[clean & ~np.isnan(s)], s[test & np.isin(table.runs, list(shift_runs))])
    assert truth["by_kind"]["shift"]["ae"]["histograms"][THETA]["auc"] == pytest.approx(expected)


def test_run_level_results_are_consistent(assessed):
    for tag in TAGS:
        e = assessed.summary["run_level"][tag]
        assert e["histograms"] == [PHI, THETA, OCC] and set(e["run_flags"]) == {"1", "3"}  # 5 > 3 histograms
        x, y = np.array(e["histogram_flags"]["x"]), np.array(e["histogram_flags"]["y"])
        assert x[0] == 0 and x[-1] == pytest.approx(3, abs=0.05) and np.all(np.diff(x) >= 0)
        assert np.all(np.diff(y) >= 0) and np.all(y >= x - 0.2)  # better than chance all along
        assert 0.5 < e["histogram_flags"]["area"] <= 1 and 0.5 < e["run_flags"]["1"]["area"] <= 1
        assert list(e["false_alarm_n1"]) == ["0.5", "0.8", "0.9", "0.95", "0.99"]


# ---------------------------------------------------------------- metrics on hand cases


def test_run_level_metrics_hand_case():
    # 4 good runs x 2 histograms (run 2 lacks histogram 1: NaN), 2 bad runs
    good = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, np.nan], [4.0, 40.0]])
    bad = np.array([[5.0, 30.0], [2.5, 50.0]])
    q = np.array([0.0, 0.25, 0.5, 1.0])
    th = metrics.flag_thresholds(good, q)
    # hist 0 (4 good): allow floor(q*4) = 0, 1, 2, 4 above -> 4th, 3rd, 2nd largest, -inf
    # hist 1 (3 good): allow floor(q*3) = 0, 0, 1, 3 above -> 40, 40, 20, -inf
    np.testing.assert_array_equal(th, [[4, 40], [3, 40], [2, 20], [-np.inf, -np.inf]])
    g, b = metrics.count_flags(good, th), metrics.count_flags(bad, th)
    np.testing.assert_array_equal(g, [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 2], [2, 2, 1, 2]])
    np.testing.assert_array_equal(b, [[1, 1], [1, 1], [2, 2], [2, 2]])
    hx, hy = metrics.histogram_flag_roc(g, b)
    np.testing.assert_allclose(hx, [0, 0.25, 0.75, 1.75])
    np.testing.assert_allclose(hy, [1, 1, 2, 2])
    rx, ry = metrics.run_flag_roc(g, b, 1)
    np.testing.assert_allclose(rx, [0, 0.25, 0.5, 1])
    np.testing.assert_allclose(ry, [1, 1, 1, 1])
    rx2, ry2 = metrics.run_flag_roc(g, b, 2)
    np.testing.assert_allclose(rx2, [0, 0, 0.25, 0.75])
    np.testing.assert_allclose(ry2, [0, 0, 1, 1])
    # areas through (0,0), the points and (1,1): run flags N>=1 jump to 1 at x=0 -> 1
    assert metrics.curve_area(rx, ry) == pytest.approx(1.0)
    # N>=2: (0,0) (0,0) (0,0) (.25,1) (.75,1) (1,1): 0.125 + 0.5 + 0.25
    assert metrics.curve_area(rx2, ry2) == pytest.approx(0.875)
    # histogram flags / 2: (0,0) (0,.5) (.125,.5) (.375,1) (.875,1) (1,1): .0625 + .1875 + .5 + .125
    assert metrics.curve_area(hx, hy, scale=2) == pytest.approx(0.875)
    # a sweep that stops short is closed by the flag-everything corner: (0,0) (.5,.25) (1,1)
    assert metrics.curve_area([0.5], [0.25]) == pytest.approx(0.0625 + 0.3125)
    np.testing.assert_allclose(metrics.fpr_at_tpr_on_curve(rx2, ry2, [0.5, 1.0]), [0.25, 0.25])
    assert np.isnan(metrics.fpr_at_tpr_on_curve([0, 1], [0, 0.5], [0.9])[0])


def test_false_alarm_and_roc_hand_cases():
    good, bad = np.arange(10.0), np.array([3.0, 5.0, 7.0, 9.5])
    # catch >= 1, 2, 3, 4 of 4 bad runs: thresholds 9.5, 7, 5, 3 -> good runs at or above: 0, 3, 5, 7 of 10
    np.testing.assert_allclose(metrics.false_alarm_at_tpr(good, bad, [0.25, 0.5, 0.75, 0.9, 1.0]),
                               [0, 0.3, 0.5, 0.7, 0.7])
    # +inf (empty histogram) ranks above every finite score, and ranks leave the AUC unchanged
    rb, rs = metrics.joint_ranks([0.0, 1.0, np.inf], [np.inf, 5.0])
    np.testing.assert_array_equal(rb, [0, 1, 3])
    np.testing.assert_array_equal(rs, [3, 2])
    assert metrics.auc(rb, rs) == pytest.approx((2.5 + 2) / 6)
    fpr, tpr, _ = metrics.roc_curve([0, 1, 2, 3], [2, 5])
    np.testing.assert_allclose(metrics.tpr_on_grid(fpr, tpr, [0, 0.125, 0.25, 0.375, 0.5, 1]),
                               [0.5, 0.5, 0.5, 0.75, 1, 1])
    tprs, aucs = metrics.bootstrap_roc(np.arange(50.0), np.arange(50.0) + 25, np.linspace(0, 1, 11), 200, seed=1)
    assert tprs.shape == (200, 11) and np.all(np.diff(tprs, axis=1) >= 0)
    assert abs(np.mean(aucs) - metrics.auc(np.arange(50.0), np.arange(50.0) + 25)) < 0.02 and np.std(aucs) > 0.01
    with pytest.raises(Exception, match="NaN"):
        metrics.false_alarm_at_tpr([0.0, np.nan], [1.0], [0.5])


def _hand_table(path, name="EMTF_phi 50%&more"):
    """10 good and 4 bad test runs with the scores of the hand case above, 2 train runs; one histogram."""
    info = HistogramInfo(name, "TH1F", (3,), ((0.0, 1.0, 2.0, 3.0),))
    n = 16
    frame = pd.DataFrame({"run_number": np.arange(n, dtype=np.int64) + 1,
                          "label": np.array([0] * 10 + [1] * 4 + [0, 0], dtype=np.int8),
                          f"{name}_score_my_ks": np.r_[np.arange(10.0), 3, 5, 7, 9.5, 0.1, 0.2],
                          f"{SPLIT_PREFIX}my_ks": ["test"] * 14 + ["train"] * 2})
    dqm_table.write(path, Table(frame, {name: np.ones((n, 3))}, {name: info}))
    return path


def test_false_alarm_table_values_and_latex_escaping(tmp_path):
    path = _hand_table(tmp_path / "t.parquet")
    r = assess(path, tmp_path / "out", formats=(), n_bootstrap=20, tprs=(0.5, 0.75, 0.9))
    e = r.summary["roc"]["EMTF_phi 50%&more"]["my_ks"]
    assert {t: v["fpr"] for t, v in e["false_alarm"].items()} == {"0.5": 0.3, "0.75": 0.5, "0.9": 0.7}
    assert e["auc"] == pytest.approx(metrics.auc(np.arange(10.0), [3, 5, 7, 9.5]))
    md = (r.out / "tables" / "false_alarm.md").read_text()
    assert re.search(r"\| EMTF_phi 50%&more \| my_ks \| 0\.\d+ ± 0\.\d+ \| 0\.300 ± \d\.\d+ \| 0\.500 ± ", md)
    tex = (r.out / "tables" / "false_alarm.tex").read_text()
    assert r"EMTF\_phi 50\%\&more & my\_ks & $0." in tex and "0.300 \\pm" in tex
    assert r"\toprule" in tex and r"\bottomrule" in tex and "FPR @ TPR 0.75" in tex
    body = tex.split(r"\midrule")[1]
    assert not re.search(r"(?<!\\)[_%]", body.replace(r"\_", "").replace(r"\%", ""))
    assert not list((r.out / "img").iterdir()) and r.n_figures == 0
    # run level with one histogram: N >= 1 only; thresholds on good test runs 0..9
    rl = r.summary["run_level"]["my_ks"]
    # (bad scores here tie good ones or lie above all: the sweep then passes through every ROC point)
    assert set(rl["run_flags"]) == {"1"} and rl["run_flags"]["1"]["area"] == pytest.approx(e["auc"])


# ---------------------------------------------------------------- bad input and output directories


def test_bad_inputs_are_one_line_errors(built, tmp_path):
    path = built[0]
    out = tmp_path / "o"
    cases = [
        (dict(tags=["pca", "nope"]), DataError, r"unknown algorithm tag\(s\) 'nope'; the table has: pca, ae, ks"),
        (dict(histograms=["L1T//nope"]), DataError, rf"unknown histogram\(s\) 'L1T//nope'.*{re.escape(PHI)}"),
        (dict(runs=[FIRST_RUN, 1]), DataError, rf"run\(s\) 1 not in the table \(it holds 200 runs, {FIRST_RUN} to"),
        (dict(formats=("png", "gif")), ConfigError, "figure format 'gif'"),
        (dict(tprs=(0.5, 1.5)), ConfigError, r"tprs \[0.5, 1.5\]"),
        (dict(flag_counts=(0,)), ConfigError, "flag_counts"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message) as info:
            assess(path, out, **{"formats": (), **kwargs})
        assert "\n" not in str(info.value)
    assert not out.exists()
    with pytest.raises(DataError, match="no such file"):
        assess(tmp_path / "missing.parquet", out)
    with pytest.raises(DataError, match=r"truth file .*: cannot be read"):
        assess(path, out, formats=(), truth=tmp_path / "nope.json")
    unscored, _ = make_table(tmp_path / "raw.parquet", scores=False)
    with pytest.raises(DataError, match=r"no score columns.*run 'codesign dqm train'"):
        assess(unscored, out)
    assert not out.exists()


def test_output_directory_rules(built, tmp_path):
    path = built[0]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    for force in (False, True):
        with pytest.raises(CodesignError, match="holds files codesign did not write"):
            assess(path, foreign, formats=(), force=force)
    assert (foreign / "thesis.tex").read_text() == "keep me" and len(list(foreign.iterdir())) == 1
    inside = tmp_path / "holds_table"
    inside.mkdir()
    shutil.copy(path, inside / "t.parquet")
    with pytest.raises(CodesignError, match="an input of this command"):
        assess(inside / "t.parquet", inside, formats=(), force=True)
    # an earlier assess output is replaced as a whole (with force): its figures go, the new summary comes
    out = tmp_path / "out"
    first = assess(path, out, histograms=[OCC], tags=["ks"], n_runs=1, n_bootstrap=5, flag_counts=(1,))
    # two score-distribution figures, ROC, one run, run level
    assert first.n_figures == 5 and len(list((out / "img").glob("*.png"))) == 5
    with pytest.raises(CodesignError, match="pass --force"):
        assess(path, out, histograms=PHI, tags="pca", formats=(), n_bootstrap=5)
    second = assess(path, out, histograms=PHI, tags="pca", formats=(), n_bootstrap=5, runs=FIRST_RUN + 3,
                    force=True)
    assert not list((out / "img").iterdir()) and second.summary["histograms"] == [PHI]
    assert json.loads((out / "summary.json").read_text())["runs_plotted"] == [FIRST_RUN + 3]
    assert not list(tmp_path.glob(".out.*"))  # no staging leftovers


def test_without_labels_it_warns_and_skips_the_roc(tmp_path, caplog):
    path, truth = make_table(tmp_path / "nolabel.parquet", labels=False)
    bad_truth = tmp_path / "truth.json"
    bad_truth.write_text(json.dumps({"runs": [1, 2]}))
    with caplog.at_level("WARNING", logger="codesign"):
        r = assess(path, tmp_path / "out", formats=(), n_bootstrap=5, truth=bad_truth)
    assert "roc" not in r.summary and "run_level" not in r.summary and "truth" not in r.summary
    assert not (r.out / "tables" / "false_alarm.md").exists()
    assert "no labelled test runs" in caplog.text and "unexpected layout" in caplog.text
    assert any("no labelled test runs" in w for w in r.summary["warnings"])
    assert r.summary["scores"][PHI]["pca"]["n_finite"] == N_RUNS - 1
    # truth alone still gives ROCs: clean runs vs the runs whose histogram changed
    truth_path = tmp_path / "good_truth.json"
    truth_path.write_text(json.dumps(truth))
    r = assess(path, tmp_path / "out", formats=(), n_bootstrap=5, truth=truth_path, tags=["pca"], force=True)
    assert r.summary["truth"]["by_histogram"][PHI]["pca"]["auc"] > 0.8


# ---------------------------------------------------------------- the page


def _moved(assessed, tmp_path):
    """The output directory copied to an unrelated place, the original gone: only relative links can work."""
    copy = tmp_path / "elsewhere" / "deeper" / "copy"
    shutil.copytree(assessed.out, copy)
    return copy


def test_page_links_only_inside_its_directory(assessed, tmp_path):
    copy = _moved(assessed, tmp_path)
    html = (copy / "index.html").read_text()
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    files = [u for u in links if not u.startswith("#")]
    assert len([u for u in files if u.endswith(".png")]) >= 2 * assessed.n_figures  # <a> and <img> per figure
    for url in files:
        assert "://" not in url and not url.startswith("/") and ".." not in url, url
        assert (copy / url).is_file(), url
    anchors = {u[1:] for u in links if u.startswith("#")}
    assert anchors <= set(re.findall(r'id="([^"]+)"', html))
    assert "<link" not in html and "@import" not in html and "http" not in html.replace("http-equiv", "")
    for h in (PHI, THETA, OCC):
        assert f">{h}</h2>" in html
    # without JavaScript everything shows; only the (useless) filter box starts hidden
    assert re.findall(r"<[^>]*\shidden[\s>]", html) == ['<div id="filter" hidden>']


def test_page_renders_in_headless_chromium_from_a_copy(assessed, tmp_path):
    copy = _moved(assessed, tmp_path)
    browser = chromium()
    try:
        browser.get((copy / "index.html").as_uri())
        images = browser.execute_script(IMAGES)
        assert len(images) == assessed.n_figures, images
        assert all(ok for _, ok in images), [src for src, ok in images if not ok]
        rows = browser.execute_script("return document.querySelectorAll('#auc-table tr').length")
        assert rows == 1 + 3 * 3
        visible = "return Array.from(document.querySelectorAll('section.histogram')).filter(s => !s.hidden).length"
        assert browser.execute_script(visible) == 3
        box = browser.find_element("id", "filter-text")
        assert box.is_displayed()
        box.send_keys("theta")
        assert browser.execute_script(visible) == 1
        assert "1 histogram(s) match" in browser.find_element("id", "filter-count").text
    finally:
        browser.quit()
