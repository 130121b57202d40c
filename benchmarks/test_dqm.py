"""DQM path speed: scoring per run for every algorithm against PCA (the reference), and fetch per file.

Data: 300 generated runs (ROOT files written by the generator, fetched to parquet), the EMTF
track-eta histogram (100 bins) for the algorithms. `events` = runs scored (or files fetched),
so the summary prints time per run relative to PCA's.
"""

import numpy as np
import pytest

from codesign.data import dqm_generator, dqm_root
from codesign.dqm import algorithms as algos
from codesign.data import dqm_table as tbl

HIST = "L1T//Run summary/L1TStage2EMTF/emtfTrackEta"
N_RUNS = 300
ALGORITHMS = {
    "pca_reference": ("pca", {"n_components": 3}),
    "autoencoder": ("autoencoder", {"n_epochs": 20}),
    "ks": ("statistical_tester", {"test": "ks"}),
    "chi2": ("statistical_tester", {"test": "chi2"}),
    "beta_binomial_1": ("statistical_tester", {"test": "beta_binomial", "n_references": 1}),
    "beta_binomial_8": ("statistical_tester", {"test": "beta_binomial", "n_references": 8}),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("dqm")
    g = dqm_generator.generate(d / "root", n_runs=N_RUNS, seed=3)
    return g, d


@pytest.fixture(scope="module")
def runs(generated):
    g, d = generated
    result = dqm_root.fetch(g.root, g.contents, g.datasets, d / "table", progress=False)
    table = tbl.read(result.outputs["SingleMuon"])
    return algos.Runs(table.runs, {HIST: table.values(HIST)}, {HIST: table.info(HIST)})


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_score(benchmark, runs, name):
    kind, options = ALGORITHMS[name]
    algo = algos.make(kind, options, seed=0).fit(runs.subset(np.arange(len(runs)) % 2 == 0))
    benchmark.group = "dqm score"
    benchmark.extra_info["events"] = len(runs)
    scored = benchmark(algo.score, runs)
    assert np.isfinite(scored[HIST].score).all()


def test_fetch_per_file_reference(benchmark, generated, tmp_path):
    g, _ = generated
    counter = iter(range(1000))
    benchmark.group = "dqm fetch"
    benchmark.extra_info["events"] = N_RUNS

    def cold():  # a fresh output directory each time: every file converted, nothing from the cache
        return dqm_root.fetch(g.root, g.contents, g.datasets, tmp_path / f"o{next(counter)}", progress=False)

    result = benchmark.pedantic(cold, rounds=2, iterations=1)
    assert result.n_converted == N_RUNS


def test_fetch_resumed_from_cache(benchmark, generated, tmp_path):
    g, _ = generated
    dqm_root.fetch(g.root, g.contents, g.datasets, tmp_path / "o", progress=False)
    benchmark.group = "dqm fetch"
    benchmark.extra_info["events"] = N_RUNS
    result = benchmark.pedantic(dqm_root.fetch, args=(g.root, g.contents, g.datasets, tmp_path / "o"),
                                kwargs={"progress": False}, rounds=3, iterations=1)
    assert result.n_cached == N_RUNS
