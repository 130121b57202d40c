"""The dqm-lumisections task: windows of generated lumisections, candidate views, a real LSTM search in firmware."""

import json

import numpy as np
import pytest
import yaml

from codesign import cli
from codesign import config as cfg
from codesign.core.spec import DenseAE
from codesign.errors import ConfigError
from codesign.search import candidate as cand
from codesign.search import space as space_mod
from codesign.tasks import dqm_lumisections as task

BASE = """task: dqm-lumisections
seed: 3
data: {n_train: 1500, n_val: 400, n_test: 1500, n_signal: 1200, window: 8, max_window: 12}
model: {kind: lstm_ae, variant: sparse, units: [8], quantization: {weight: {bits: 8, integer: 0}}}
training: {epochs: 3, batch_size: 64, loss: mae}
metrics: {fpr: 2.0e-2, n_bootstrap: 20}
"""
SPACE = """task: dqm-lumisections
base: {base}
dimensions:
  variant: {{choice: [sparse, undercomplete]}}
  units: {{choice: [8]}}
  inner: {{choice: [4]}}
  window: {{choice: [6, 12]}}
  weight_bits: {{int: [6, 8]}}
baseline: {{variant: sparse, units: 8, inner: 4, window: 12, weight_bits: 8}}
"""


def _config(**data):
    base = {"seed": 1, "data": {"n_train": 400, "n_val": 100, "n_test": 1200, "n_signal": 600, "window": 5,
                                "max_window": 10, **data}, "metrics": {"fpr": 0.02}}
    return cfg.parse(task.Config, base, "test")


def test_windows_end_at_each_lumisection_and_signals_are_anomalous_ones():
    data = task.load_data(_config())
    assert data.x_train.shape == (391, 10, 50) and data.x_train.dtype == np.float32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0  # min-max scaled on the training series
    assert len(data.input_names) == 10 * 50 and data.input_names[49] == "ls00_bin49"
    assert set(data.signals) <= {"empty", "noisy", "shifted", "burst"} and "empty" in data.signals
    # the scored (first) step of an "empty" window is an empty or nearly empty LS: far fewer entries than good ones
    assert np.median(data.signals["empty"][:, 0].sum(axis=1)) < 0.5 * np.median(data.x_test[:, 0].sum(axis=1))
    assert task.input_groups(data.input_names) == ["bin"] * 500


def test_a_candidate_sees_the_first_steps_of_the_same_windows():
    config = _config()
    data = task.load_data(config)
    seen = task.view(config, data)
    assert seen.x_test.shape == (len(data.x_test), 5, 50)
    np.testing.assert_array_equal(seen.x_test, data.x_test[:, :5])
    assert seen.input_names == data.input_names[:250]
    dense = config.model_copy(update={"model": DenseAE(encoder=(16,), latent=4)})
    np.testing.assert_array_equal(task.view(dense, data).signals["empty"], data.signals["empty"][:, 0])


def test_config_is_validated():
    with pytest.raises(ConfigError, match="data.window .* must not exceed data.max_window"):
        _config(window=20)
    with pytest.raises(ConfigError, match="preprocessing must be 'none' for lumisections"):
        cfg.parse(task.Config, {"preprocessing": "standard"}, "test")
    with pytest.raises(ConfigError, match="data.n_test is too small"):
        cfg.parse(task.Config, {"data": {"n_test": 500}}, "test")  # FPR 1e-2 needs 1,000 good LS


def test_search_parameters_set_the_lstm_and_its_window():
    base = cfg.parse(task.Config, yaml.safe_load(BASE), "test")
    c = cand.make({"variant": "undercomplete", "units": 8, "inner": 16, "window": 6, "weight_bits": 6}, base,
                  task.Config)
    assert c.config.model.variant == "undercomplete" and c.config.model.units == (8, 8)  # inner <= units
    assert c.config.data.window == 6 and c.config.model.quantization.weight.bits == 6
    assert c.firmware.score_head is False  # the LSTM firmware returns its reconstruction


def test_shipped_space_parses():
    space = space_mod.load("dqm_lumisections")
    assert space.task == "dqm-lumisections" and space.baseline["units"] == 64 and space.baseline["window"] == 50
    base = cfg.load(task.Config, cli.resolve_config(space.base))
    assert base.metrics.fpr == 1e-2 and base.model.kind == "lstm_ae"


def test_a_real_lstm_search(tmp_path):
    """Two LSTM candidates trained, compiled with hls4ml, C-simulated bit-exact, scored and estimated."""
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "space.yaml").write_text(SPACE.format(base=tmp_path / "base.yaml"))
    out = tmp_path / "run"
    code = cli.main(["search", "--space", str(tmp_path / "space.yaml"), "--out", str(out), "--quiet",
                     "--target", "xcvu9p", "--fidelity", "0", "--trials", "2", "--budget", "luts=20%"])
    assert code in (0, 1)
    records = [json.loads(p.read_text()) for p in sorted((out / "trials").glob("*.json"))]
    complete = [r for r in records if r["status"] == "complete"]
    assert complete, [r.get("reason") for r in records]
    for r in complete:
        assert r["bit_exact"]["n_exact"] == r["bit_exact"]["n_events"] > 0
        # a flat noise component changes every bin: even three epochs of a tiny LSTM AE see it
        assert r["scores"]["noisy"]["auc"] > 0.75
        assert r["estimate"]["lut"] > 0 and r["estimate"]["latency_cycles"] >= 12
        assert any(row["name"].endswith("_sigmoid") for row in r["layers"])
