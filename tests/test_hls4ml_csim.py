"""Every CI run compiles and C-simulates a real hls4ml model and checks it bit for bit against QKeras.

(The firmware package grows this into the full bit-accuracy suite; this test keeps the
toolchain honest from the first commit: hls4ml, its Vitis templates and g++.)
"""

import shutil

import numpy as np
import pytest


def test_qkeras_model_compiles_and_csim_is_bit_exact(tmp_path):
    assert shutil.which("g++"), "g++ is required for hls4ml C-simulation; install it (Debian: apt install g++)"
    import hls4ml

    from codesign.core import models
    from codesign.core.spec import DenseAE, FixedPoint, Quantization
    from codesign.core.trainer import seed_everything

    seed_everything(0)
    spec = DenseAE(encoder=(6,), latent=3, activation="relu", batchnorm=False, input_batchnorm=False,
                   quantization=Quantization(weight=FixedPoint(bits=6, integer=0),
                                             activation=FixedPoint(bits=6, integer=2)))
    model = models.build(spec, (8,))
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vitis")
    cfg["LayerName"]["inputs"]["Precision"]["result"] = "fixed<10,4>"
    for layer in ("enc_dense1", "latent", "dec_dense1", "output"):
        cfg["LayerName"][layer]["Precision"].update(accum="fixed<32,12>", result="fixed<32,12>")
        cfg["LayerName"].setdefault(f"{layer}_linear", {})["Precision"] = {"result": "fixed<32,12>"}
    hls_model = hls4ml.converters.convert_from_keras_model(
        model, hls_config=cfg, output_dir=str(tmp_path / "prj"), backend="Vitis", io_type="io_parallel",
        part="xcvu13p-flga2577-2-e")
    hls_model.compile()
    rng = np.random.default_rng(1)
    x = rng.uniform(-8, 8, (5000, 8))
    x[:8] = [[-8.0] * 8, [8 - 2**-6] * 8, [0.0] * 8, [-2**-6] * 8, [2**-6] * 8, *rng.choice([-8, 8 - 2**-6], (3, 8))]
    x = np.clip(np.floor(x * 2**6) / 2**6, -8, 8 - 2**-6)  # on the input grid fixed<10,4>
    expected = model.predict(x, verbose=0)
    got = hls_model.predict(np.ascontiguousarray(x))
    assert np.array_equal(expected, got.reshape(expected.shape)), np.abs(expected - got).max()
