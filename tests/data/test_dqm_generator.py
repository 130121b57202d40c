"""The synthetic DQM store: layout and names as on /eos, realistic run-to-run behaviour, labelled incidents."""

import json
import re

import numpy as np
import pytest
import uproot

from codesign.data import dqm_generator as gen
from codesign.errors import CodesignError

N_RUNS, BAD = 60, 0.2


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return gen.generate(tmp_path_factory.mktemp("dqm") / "store", n_runs=N_RUNS, seed=7, bad_fraction=BAD)


@pytest.fixture(scope="module")
def truth(store):
    return json.loads(store.truth.read_text())


@pytest.fixture(scope="module")
def hists(store, truth):
    """Bin contents per histogram name, (n_runs, *shape), in truth's run order."""
    out = {name: [] for name in gen.SPECS}
    for path, run in zip(store.files, (r["run"] for r in truth["runs"])):
        with uproot.open(path) as f:
            for name, spec in gen.SPECS.items():
                out[name].append(f[f"DQMData/Run {run}/{spec.subsystem}{spec.path}"].values())
    return {name: np.array(v, dtype=np.float64) for name, v in out.items()}


def _read_all(generated):
    values = {}
    for path in generated.files:
        run = int(re.search(r"_R(\d+)__", path.name).group(1))
        with uproot.open(path) as f:
            for spec in gen.SPECS.values():
                values[(path.relative_to(generated.root).as_posix(), spec.name)] = \
                    f[f"DQMData/Run {run}/{spec.subsystem}{spec.path}"].values()
    return values


def test_store_layout_names_and_histograms(store, truth):
    pattern = re.compile(r"DQM_V0001_R(\d{9})__SingleMuon__Run(\d{4})([A-F])-(09Aug2019_UL2017-v1|12Nov2019_UL2018-v2)"
                         r"__DQMIO\.root")
    runs = []
    for path in store.files:
        m = pattern.fullmatch(path.name)
        assert m, path.name
        run, year, era = int(m[1]), int(m[2]), m[3]
        assert path.relative_to(store.root).parts[:3] == (f"Run{year}", "SingleMuon", f"R{run // 100:07d}xx")
        lo, hi = gen.ERAS[year][era]
        assert lo <= run <= hi
        runs.append(run)
    assert len(set(runs)) == N_RUNS and {r["year"] for r in truth["runs"]} == {2017, 2018}
    with uproot.open(store.files[0]) as f:
        run = runs[0]
        for spec in gen.SPECS.values():
            h = f[f"DQMData/Run {run}/{spec.subsystem}{spec.path}"]
            assert h.classname == ("TH2F" if spec.name in gen.TWO_D else "TH1F")
            assert h.values().shape == tuple(a[0] for a in spec.axes[: h.values().ndim])
            assert h.title and h.member("fXaxis").member("fTitle")
            assert h.member("fEntries") == pytest.approx(h.values().sum())
        assert f"DQMData/Run {run}/CSC/Run summary/CSCOfflineMonitor/Occupancy/hORecHits" in f


def test_json_files_agree_with_truth(store, truth):
    contents = json.loads(store.contents.read_text())
    assert contents == gen.contents() and len(contents["CSC"]) == 5 and len(contents["L1T"]) == 5
    columns = {f"{sub}/{p}" for sub, paths in contents.items() for p in paths}
    datasets = json.loads(store.datasets.read_text())
    assert datasets["primary_datasets"] == ["SingleMuon"]
    assert {y: d["productions"] for y, d in datasets["years"].items()} == {"2017": ["UL2017"], "2018": ["UL2018"]}
    listed_bad = {int(r) for d in datasets["years"].values() for r in d["bad_runs"]}
    listed_good = {int(r) for d in datasets["years"].values() for r in d["good_runs"]}
    assert all(isinstance(r, str) for d in datasets["years"].values() for r in d["good_runs"] + d["bad_runs"])
    anomalous = {a["run"]: a for a in truth["anomalies"]}
    assert len(anomalous) == store.n_bad == round(BAD * N_RUNS)
    assert listed_bad == {r for r, a in anomalous.items() if a["labelled"]}
    unlabelled = {r["run"] for r in truth["runs"] if not r["labelled"]}
    assert len(unlabelled) == store.n_unlabelled == round(0.1 * store.n_bad) + round(0.1 * (N_RUNS - store.n_bad))
    assert listed_good == {r["run"] for r in truth["runs"]} - set(anomalous) - unlabelled
    assert sum(not a["labelled"] for a in anomalous.values()) == round(0.1 * store.n_bad)  # same contamination
    for a in anomalous.values():
        assert a["kind"] in gen.KINDS and 0 < a["severity"] <= 1
        assert 1 <= len(a["histograms"]) <= 3 and set(a["histograms"]) <= columns
        assert all(h.startswith(a["subsystem"] + "//") for h in a["histograms"])
    assert truth["seed"] == 7 and truth["codesign_version"] and truth["settings"]["n_runs"] == N_RUNS


def test_same_seed_same_contents_other_seed_differs(tmp_path):
    a = gen.generate(tmp_path / "a", n_runs=6, seed=3)
    b = gen.generate(tmp_path / "b", n_runs=6, seed=3)
    c = gen.generate(tmp_path / "c", n_runs=6, seed=4)
    for name in ("contents", "datasets", "truth"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes()
    va, vb, vc = _read_all(a), _read_all(b), _read_all(c)
    assert va.keys() == vb.keys() and all(np.array_equal(va[k], vb[k]) for k in va)
    assert va.keys() != vc.keys()  # other run numbers
    # ROOT bytes are not compared: uproot stamps every file with its creation time and a UUID.


def test_refuses_a_non_empty_directory_unless_forced(tmp_path):
    out = tmp_path / "store"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(CodesignError) as err:
        gen.generate(out, n_runs=3)
    assert str(out) in str(err.value) and "\n" not in str(err.value) and not list(out.glob("Run*"))
    with pytest.raises(CodesignError, match="holds files codesign did not write"):
        gen.generate(out, n_runs=3, force=True)  # --force replaces only an earlier generation
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    out = tmp_path / "generated"
    first = gen.generate(out, n_runs=4, seed=1)
    with pytest.raises(CodesignError, match="pass --force"):
        gen.generate(out, n_runs=3, seed=2)
    second = gen.generate(out, n_runs=3, seed=2, force=True)
    on_disk = sorted(out.rglob("*.root"))
    assert on_disk == sorted(second.files) and not set(first.files) & set(on_disk)  # nothing stale lingers
    assert all(f.is_file() for f in (second.contents, second.datasets, second.truth))


@pytest.mark.parametrize("kwargs, match", [({"primary_dataset": "../up"}, "primary dataset"),
                                           ({"bad_fraction": 1.5}, "bad_fraction"),
                                           ({"n_runs": 0}, "n_runs")])
def test_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(CodesignError, match=match):
        gen.generate(tmp_path / "x", **{"n_runs": 3, **kwargs})
    assert not (tmp_path / "x").exists() and not (tmp_path / "up").exists()


def test_entries_follow_luminosity_with_a_low_statistics_tail(truth, hists):
    lumi = np.array([r["lumi_pb"] for r in truth["runs"]])
    entries = np.stack([h.reshape(N_RUNS, -1).sum(1) for h in hists.values()], 1)
    for column in entries.T:
        assert np.corrcoef(np.log(lumi), np.log(column))[0, 1] > 0.95
    assert np.log10(entries[:, 0].max() / entries[:, 0].min()) > 1.5  # ~2 orders of magnitude
    low = (entries.min(1) < 10_000).sum()  # AutoDQM's minimum-entries cut
    assert 1 <= low <= 0.1 * N_RUNS


def test_detector_structure_is_shared_by_all_runs(truth, hists):
    good = np.array([not r["bad"] for r in truth["runs"]])
    rechits = hists["hORecHits"][good]  # (runs, chamber, station-ring)
    small_rings = [i for i, r in enumerate(gen.CSC_ROWS) if r[3:] in ("2/1", "3/1", "4/1")]
    assert np.all(rechits[:, 18:, small_rings] == 0) and np.all(rechits.sum(0)[:18] > 0)
    eta = hists["emtfTrackEta"][good].sum(0)
    centres = gen.SPECS["emtfTrackEta"].centres()
    assert eta[np.abs(centres) < 0.8].sum() < 1e-3 * eta.sum()  # empty barrel
    assert eta[centres < 0].sum() / eta[centres > 0].sum() == pytest.approx(1, abs=0.05)
    spectrum = np.abs(np.fft.rfft(hists["emtfTrackPhi"][good].sum(0)))[1:20]
    assert np.argmax(spectrum) + 1 == 6  # six EMTF sectors
    bx = hists["emtfTrackBX"][good].sum(0)
    assert bx[3] > 0.95 * bx.sum() and bx[2] > bx[0] and bx[4] > bx[6]
    # chamber-to-chamber non-uniformity is the detector's, so two disjoint halves of the runs agree on it
    halves = [rechits[k::2].sum(0) for k in (0, 1)]
    deviation = [(h / np.median(h[:18], axis=0))[:18].ravel() - 1 for h in halves]
    assert np.corrcoef(*deviation)[0, 1] > 0.8


def test_latent_factors_move_shapes_smoothly(truth, hists):
    good = np.array([not r["bad"] for r in truth["runs"]])
    pileup = np.array([r["pileup"] for r in truth["runs"]])[good]
    rechits = hists["hORecHits"][good]
    inner = [i for i, r in enumerate(gen.CSC_ROWS) if r[3:] in ("1/1a", "1/1b")]
    inner_share = rechits[:, :, inner].sum((1, 2)) / rechits.sum((1, 2))
    assert np.corrcoef(pileup, inner_share)[0, 1] > 0.8  # pile-up fills the inner rings
    t = gen.SPECS["hSTimeCombinedSerial"].centres()
    timing = hists["hSTimeCombinedSerial"][good][:, np.abs(t) < 10]
    mean_t = timing @ t[np.abs(t) < 10] / timing.sum(1)
    runs = [r for r in truth["runs"] if not r["bad"]]
    t0 = np.array([gen.ERA_T0[f"{r['year']}{r['era']}"] + 0.9 * r["drift"] for r in runs])
    assert np.corrcoef(t0, mean_t)[0, 1] > 0.9  # era offsets and the drift within a year


def _significance(values, lumi, i, candidates):
    """Chi2 excess (in sigma) of run i against its closest good runs, contents per pb^-1."""
    ref = (values[candidates] / lumi[candidates, None]).mean(0) * lumi[i]
    x = values[i]
    used = (ref + x) > 0
    chi2 = ((x - ref)[used] ** 2 / (ref[used] + x[used] / len(candidates) + 1)).sum()
    return (chi2 - used.sum()) / np.sqrt(2 * used.sum())


def test_bad_runs_differ_where_the_truth_says(truth, hists):
    runs = truth["runs"]
    lumi = np.array([r["lumi_pb"] for r in runs])
    good = np.array([i for i, r in enumerate(runs) if not r["bad"]])
    incidents = {a["run"]: a for a in truth["anomalies"]}
    flat = {gen.SPECS[n].column: h.reshape(N_RUNS, -1) for n, h in hists.items()}

    def closest(i):  # same year, similar pile-up and position in the year
        c = good[(good != i) & (np.array([runs[j]["year"] for j in good]) == runs[i]["year"])]
        d = [abs(runs[j]["pileup"] - runs[i]["pileup"]) / 3 + abs(runs[j]["drift"] - runs[i]["drift"]) / 0.05
             for j in c]
        return c[np.argsort(d)[:8]]

    affected, unaffected, wins = [], [], []
    for i, r in enumerate(runs):
        if r["run"] not in incidents:
            continue
        a = incidents[r["run"]]
        sig = {c: _significance(v, lumi, i, closest(i)) for c, v in flat.items()}
        hit = max(sig[c] for c in a["histograms"])
        rest = [s for c, s in sig.items() if c not in a["histograms"]]
        unaffected += rest
        if a["severity"] >= 0.3 and min(v[i].sum() for v in flat.values()) > 20_000:
            affected.append(hit)
            wins.append(hit > max(rest))
    baseline = [_significance(v, lumi, i, closest(i)) for v in flat.values() for i in good[::3]]
    assert len(wins) >= 4 and np.mean(wins) >= 0.75, (affected, wins)
    assert np.median(affected) > 30
    assert abs(np.median(unaffected) - np.median(baseline)) < 3  # untouched histograms look like good runs'
