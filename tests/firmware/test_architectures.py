"""Trained L1 models of four architectures: firmware C-simulation and emulator agree on >= 100k vectors.

Slow (about 5 minutes): each model is trained briefly on generated events, converted, compiled, and
checked on 100,000 events (background and every signal) plus the edge vectors.
"""

import numpy as np
import pytest

from codesign import evaluation, firmware
from codesign.firmware.options import FirmwareOptions
from codesign.tasks import anomaly, l1_anomaly

pytestmark = pytest.mark.slow

ARCHITECTURES = {
    "seed004-q8-pruned75": {"activation": "relu", "quantization": {"weight": {"bits": 8, "integer": 0},
                                                                   "activation": {"bits": 8, "integer": 0}},
                            "pruning": {"sparsity": 0.75, "end_epoch": 1}},
    "seed004-float": {},
    "vae-encoder-q6-leaky": {"kind": "vae", "score": "radius", "latent": 4, "activation": "leaky_relu",
                             "leaky_alpha": 0.25, "batchnorm": False, "input_batchnorm": False,
                             "quantization": {"weight": {"bits": 6, "integer": 0}, "activation": {"bits": 6, "integer": 3}}},
    "wide-q10-pruned50": {"encoder": [64], "latent": 8, "activation": "relu", "batchnorm": False,
                          "input_batchnorm": False,
                          "quantization": {"weight": {"bits": 10, "integer": 2}, "activation": {"bits": 10, "integer": 4}},
                          "pruning": {"sparsity": 0.5, "end_epoch": 1}},
}
OPTIONS = {"wide-q10-pruned50": {"reuse_factor": 4, "strategy": "resource"}}


@pytest.fixture(scope="module")
def dataset():
    cfg = l1_anomaly.Config.model_validate({"seed": 5, "data": {"n_train": 50_000, "n_val": 10_000, "n_test": 100_000,
                                                                "n_signal": 5_000},
                                            "metrics": {"fpr": 1e-4}})
    return l1_anomaly.load_data(cfg)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_trained_architecture_is_bit_exact_on_100k_vectors(name, dataset, tmp_path):
    pre = "none" if name.startswith("seed004") else "standard"
    cfg = l1_anomaly.Config.model_validate({"seed": 5, "preprocessing": pre, "model": ARCHITECTURES[name],
                                            "data": {"n_train": 50_000, "n_val": 10_000, "n_test": 100_000},
                                            "training": {"epochs": 3, "batch_size": 512}, "metrics": {"fpr": 1e-4}})
    result = anomaly.train_and_score(cfg, dataset)
    options = FirmwareOptions(**OPTIONS.get(name, {}))
    fw = firmware.build(result.model, cfg.model, result.preprocessor, dataset.x_train, options, cache_dir=tmp_path)
    x = np.concatenate([dataset.x_test, *dataset.signals.values()])
    check = evaluation.check_bit_exact(fw, x, n_events=100_000)
    print(f"{name}: {check.n_exact}/{check.n_events} bit-exact ({check.n_edge} edge vectors), "
          f"emulator {check.n_events / check.emulator_seconds:,.0f} ev/s, C-sim {check.n_events / check.csim_seconds:,.0f} ev/s")
    assert check.n_events >= 100_000 and check.n_exact == check.n_events
