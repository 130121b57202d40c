"""One contract for every DQM algorithm: fit/score/save/load round trip, no overwrite, empty and missing histograms."""

import numpy as np
import pytest

from codesign.data.dqm_table import HistogramInfo
from codesign.dqm import algorithms as algos
from codesign.errors import CodesignError, ConfigError, DataError
from codesign.metrics import auc

H1, H2 = "L1T//Run summary/L1TStage2EMTF/emtfTrackPhi", "CSC//Run summary/Occupancy/hORecHits"
EVIL = "../../escape/..//name with spaces"
INFOS = {H1: HistogramInfo(H1, "TH1D", (40,), (tuple(np.linspace(-3, 3, 41)),)),
         H2: HistogramInfo(H2, "TH2D", (6, 5), (tuple(range(7)), tuple(range(6))))}

CASES = {
    "pca": ("pca", {"n_components": 2}),
    "pca_merged": ("pca", {"n_components": 2, "merge_bins": 0.02}),
    "ae_individual": ("autoencoder", {"n_epochs": 40, "n_nodes": 12, "n_components": 2, "batch_size": 32}),
    "ae_simultaneous": ("autoencoder", {"mode": "simultaneous", "n_epochs": 40, "n_nodes": 12, "n_components": 3,
                                        "batch_size": 32}),
    "ae_quantized_pruned": ("autoencoder", {"n_epochs": 12, "n_nodes": 12, "n_components": 2, "batch_size": 32,
                                            "activation": "relu",
                                            "quantization": {"weight": {"bits": 8, "integer": 1},
                                                             "activation": {"bits": 8, "integer": 3}},
                                            "pruning": {"sparsity": 0.5, "end_epoch": 6, "frequency": 2}}),
    "ks": ("statistical_tester", {"test": "ks"}),
    "chi2": ("statistical_tester", {"test": "chi2", "n_references": 4}),
    "modified_chi2": ("statistical_tester", {"test": "modified_chi2"}),
    "beta_binomial_1": ("statistical_tester", {"test": "beta_binomial", "n_references": 1}),
    "beta_binomial_8_maxpull": ("statistical_tester", {"test": "beta_binomial", "n_references": 8,
                                                       "statistic": "max_pull"}),
}


def make_runs(n_good=150, n_bad=30, seed=0):
    """Gaussian-peak 1D and smooth 2D occupancies whose shape drifts with a per-run factor; bad runs have a
    dead region (1D) and a hot cell (2D) — obvious, so every algorithm must separate them."""
    rng = np.random.default_rng(seed)
    n = n_good + n_bad
    entries = rng.lognormal(np.log(2e4), 0.6, n)
    drift = rng.normal(0, 1, n)
    centres = np.linspace(-3, 3, 41)[:-1] + 0.075
    h1 = np.empty((n, 40))
    h2 = np.empty((n, 6, 5))
    base2 = np.outer(np.linspace(1, 2, 6), np.linspace(2, 1, 5))
    for i in range(n):
        p = np.exp(-0.5 * ((centres - 0.1 * drift[i]) / (1.0 + 0.05 * drift[i])) ** 2) + 0.05
        q = base2 * (1 + 0.05 * drift[i] * np.linspace(-1, 1, 5))
        if i >= n_good:
            p[12:20] = 0.0
            q[2, 3] *= 6
        h1[i] = rng.poisson(entries[i] * p / p.sum())
        h2[i] = rng.poisson(entries[i] * q / q.sum())
    runs = np.arange(300000, 300000 + n) * 1
    labels = np.r_[np.zeros(n_good, int), np.ones(n_bad, int)]
    order = rng.permutation(n)  # bad runs interleaved in run order
    return algos.Runs(runs, {H1: h1[order], H2: h2[order]}, INFOS), labels[order]


@pytest.fixture(scope="module")
def data():
    return make_runs()


def split(data):
    runs, labels = data
    good = np.flatnonzero(labels == 0)
    train = np.zeros(len(labels), bool)
    train[good[: len(good) * 2 // 3]] = True
    val = np.zeros(len(labels), bool)
    val[good[len(good) * 2 // 3: len(good) * 5 // 6]] = True
    return runs.subset(train), runs.subset(val), ~train & ~val


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request, data):
    name, options = CASES[request.param]
    train, val, _ = split(data)
    return request.param, algos.make(name, options, seed=3).fit(train, val)


def test_scores_separate_bad_runs(fitted, data):
    case, algo = fitted
    runs, labels = data
    _, _, test = split(data)
    scored = algo.score(runs.subset(test))
    assert set(scored) == {H1, H2}
    for name, s in scored.items():
        assert s.score.shape == (int(test.sum()),)
        assert np.isfinite(s.score).all()
        if algo.reconstructs:
            assert s.reco.shape == (int(test.sum()), INFOS[name].n_bins)
            good = labels[test] == 0  # a good run's reconstruction is (nearly) unit-sum, like its input
            assert np.allclose(s.reco[good].sum(axis=1), 1.0, atol=0.1), s.reco[good].sum(axis=1)
        else:
            assert s.reco is None
        y = labels[test]
        assert auc(s.score[y == 0], s.score[y == 1]) > 0.9, (case, name)


def test_save_load_round_trip_and_no_overwrite(fitted, data, tmp_path):
    case, algo = fitted
    runs, _ = data
    directory = algo.save(tmp_path / "model")
    files = sorted(p.name for p in directory.iterdir())
    assert all(p.suffix in (".json", ".npz", ".h5") for p in directory.iterdir()), files
    again = algos.load(directory)
    assert type(again) is type(algo) and again.config == algo.config
    a, b = algo.score(runs), again.score(runs)
    for name in a:
        np.testing.assert_allclose(a[name].score, b[name].score, rtol=1e-6)
    with pytest.raises(CodesignError, match="never overwritten"):
        algo.save(directory)


def test_empty_and_missing_histograms(fitted, data):
    _, algo = fitted
    runs, _ = data
    probe = runs.subset(np.arange(len(runs)) < 3)
    h1 = probe.histograms[H1].copy()
    h1[0] = 0.0
    h1[1] = np.nan
    scored = algo.score(algos.Runs(probe.runs, {H1: h1, H2: probe.histograms[H2]}, INFOS))
    assert scored[H1].score[0] == np.inf  # empty: nothing to describe, maximally anomalous
    assert np.isnan(scored[H1].score[1])  # missing: not scored
    assert np.isfinite(scored[H1].score[2]) and np.isfinite(scored[H2].score).all()


@pytest.mark.parametrize("case", ["pca", "ks"])
def test_fit_ignores_empty_rows_and_refuses_too_few(case, data):
    name, options = CASES[case]
    runs, labels = data
    train = runs.subset(labels == 0)
    h1 = train.histograms[H1].copy()
    h1[:5] = 0.0
    algo = algos.make(name, options).fit(algos.Runs(train.runs, {H1: h1}, INFOS))
    assert np.isfinite(algo.score(algos.Runs(train.runs[5:], {H1: h1[5:]}, INFOS))[H1].score).all()
    with pytest.raises(DataError, match="non-empty training runs"):
        algos.make(name, options).fit(algos.Runs(train.runs[:5], {H1: h1[:5]}, INFOS))


def test_histogram_names_never_leave_the_model_directory(data, tmp_path):
    runs, labels = data
    good = runs.subset(labels == 0)
    info = HistogramInfo(EVIL, "TH1D", (40,), INFOS[H1].edges)
    algo = algos.make("pca", {}).fit(algos.Runs(good.runs, {EVIL: good.histograms[H1]}, {EVIL: info}))
    directory = algo.save(tmp_path / "inside" / "model")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.parent == directory for p in written)
    assert np.isfinite(algos.load(directory).score(algos.Runs(good.runs, {EVIL: good.histograms[H1]},
                                                              {EVIL: info}))[EVIL].score).all()


def test_reference_runs_are_the_good_runs_just_before(data):
    runs, labels = data
    train = runs.subset(labels == 0)
    algo = algos.make("statistical_tester", {"test": "chi2", "n_references": 4}).fit(train)
    ordered = np.sort(train.runs)
    idx = algo.references(H1, int(ordered[10]))
    assert list(algo.reference_runs[H1][idx]) == list(ordered[6:10])
    first = algo.references(H1, int(ordered[0]))  # nothing earlier: the nearest later runs
    assert list(algo.reference_runs[H1][first]) == list(ordered[1:5])
    fixed = algos.make("statistical_tester", {"reference": int(ordered[3])}).fit(train)
    assert list(fixed.reference_runs[H1][fixed.references(H1, int(ordered[50]))]) == [ordered[3]]
    with pytest.raises(DataError, match="reference run 1 is not a usable training run"):
        algos.make("statistical_tester", {"reference": 1}).fit(train)


def test_config_errors_are_one_line():
    with pytest.raises(ConfigError, match="unknown algorithm 'svm'"):
        algos.make("svm")
    with pytest.raises(ConfigError, match="kernel_1d: convolutional options"):
        algos.make("autoencoder", {"kernel_1d": 3})
    with pytest.raises(ConfigError, match="n_components"):
        algos.make("pca", {"n_components": 0})
    with pytest.raises(ConfigError, match="test"):
        algos.make("statistical_tester", {"test": "anderson"})
    with pytest.raises(ConfigError, match="activation: HGQ layers have relu or linear activations, not tanh"):
        algos.make("autoencoder", {"quantizer": "hgq", "activation": "tanh"})
    hgq = algos.make("autoencoder", {"quantizer": "hgq", "hgq": {"beta": 1e-6}}).config
    assert hgq.spec().quantizer == "hgq" and hgq.training().hgq.beta == 1e-6


def test_bin_merging_conserves_content():
    rng = np.random.default_rng(1)
    frac = rng.dirichlet(np.r_[np.full(5, 0.05), np.full(20, 5.0)], size=50)
    merge = algos.BinMerge.fit(frac, 0.02)
    assert merge.n_groups < 25
    merged = merge.apply(frac)
    np.testing.assert_allclose(merged.sum(axis=1), 1.0)
    np.testing.assert_allclose(merge.invert(merged).sum(axis=1), 1.0)
    assert merge.apply(frac.mean(0, keepdims=True)).min() >= 0.02 - 1e-12
