"""The dqm-histograms task: generated histogram runs, a real (compiled, C-simulated) search, the report on it."""

import json

import numpy as np
import pytest

from codesign import cli
from codesign import config as cfg
from codesign.data import dqm_generator as gen
from codesign.errors import CodesignError, ConfigError
from codesign.search import space as space_mod
from codesign.tasks import dqm_histograms as task

BASE = """task: dqm-histograms
seed: 4
data: {n_train: 800, n_val: 200, n_test: 1000, n_signal: 200, kinds: [dead_channel, wrong_normalization]}
model: {kind: dense_ae, encoder: [8], latent: 2, activation: relu, batchnorm: false, input_batchnorm: false,
        quantization: {weight: {bits: 8, integer: 0}, activation: {bits: 8, integer: 2}}}
training: {epochs: 4, batch_size: 64}
metrics: {fpr: 1.0e-2, n_bootstrap: 20}
"""
SPACE = """task: dqm-histograms
base: {base}
dimensions:
  depth: {{int: [1, 1]}}
  width: {{choice: [4, 8]}}
  weight_bits: {{int: [4, 8]}}
baseline: {{depth: 1, width_1: 8, weight_bits: 8}}
"""


def test_generated_runs_are_histograms_and_incidents_change_them():
    config = cfg.parse(task.Config, {"seed": 1, "data": {"n_train": 300, "n_val": 50, "n_test": 1000,
                                                         "n_signal": 100}, "metrics": {"fpr": 0.01}}, "test")
    data = task.load_data(config)
    assert data.x_train.shape == (300, 100) and data.x_test.shape == (1000, 100)
    np.testing.assert_allclose(data.x_train.mean(axis=1), 1.0, rtol=1e-5)  # unit sum x number of bins
    assert set(data.signals) == set(gen.kinds_affecting("emtfTrackEta"))
    mean_good = data.x_test.mean(axis=0)

    def distance(x):  # median distance of a run's shape from the average good shape
        return np.median(np.linalg.norm(x - mean_good, axis=1))

    for kind in ("dead_channel", "wrong_normalization"):
        assert distance(data.signals[kind]) > 1.3 * distance(data.x_test), kind
    assert task.input_groups(data.input_names) == ["bin"] * 100


def test_config_is_validated():
    with pytest.raises(ConfigError, match="data.n_test is too small"):
        cfg.parse(task.Config, {"data": {"n_test": 100}}, "test")  # FPR 1e-3 needs >= 10,000 good runs
    with pytest.raises(ConfigError, match="preprocessing must be 'none' for histograms"):
        cfg.parse(task.Config, {"preprocessing": "standard"}, "test")
    with pytest.raises(CodesignError, match="never change emtfTrackEta"):
        gen.sample("emtfTrackEta", 2, 1, "shifted_peak")


def test_shipped_space_parses():
    space = space_mod.load("dqm_histograms")
    assert space.task == "dqm-histograms" and space.baseline["width_1"] == 25
    base = cfg.load(task.Config, cli.resolve_config(space.base))
    assert base.metrics.fpr == 1e-3 and base.data.n_test == 20_000


def test_a_real_search_and_its_report(tmp_path):
    """Two candidates trained, compiled with hls4ml, C-simulated bit-exact and scored; then `codesign report`."""
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "space.yaml").write_text(SPACE.format(base=tmp_path / "base.yaml"))
    out = tmp_path / "run"
    code = cli.main(["search", "--space", str(tmp_path / "space.yaml"), "--out", str(out), "--quiet",
                     "--target", "xcvu9p", "--fidelity", "0", "--trials", "2", "--budget", "luts=5%"])
    assert code in (0, 1)
    records = [json.loads(p.read_text()) for p in sorted((out / "trials").glob("*.json"))]
    complete = [r for r in records if r["status"] == "complete"]
    assert complete, [r.get("reason") for r in records]
    for r in complete:
        assert r["bit_exact"]["n_exact"] == r["bit_exact"]["n_events"] > 0
        assert set(r["scores"]) == {"dead_channel", "wrong_normalization"}
        assert r["scores"]["wrong_normalization"]["auc"] > 0.6
        assert r["estimate"]["lut"] > 0
    assert cli.main(["report", str(out), "--out", str(tmp_path / "report"), "--format", "html,png"]) == 0
    assert (tmp_path / "report" / "index.html").is_file()
