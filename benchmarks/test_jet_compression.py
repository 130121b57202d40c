"""Jet compression on detector: the encoder (4 -> 32 -> 16 -> 3, 8-bit QKeras, 12-bit code) compressing jets —
hls4ml C-simulation (reference), the bit-exact numpy emulator, and QKeras predict; and the offline decoder."""

import numpy as np
import pytest

from codesign import firmware
from codesign.core import models
from codesign.core.preprocessing import Preprocessor
from codesign.core.spec import DenseAE
from codesign.data import jet_generator
from codesign.firmware.options import FirmwareOptions
from codesign.tasks import jet_compression as task

N_CSIM = 20_000
N_FAST = 200_000
SPEC = DenseAE(encoder=(32, 16), latent=3, activation="leaky_relu", leaky_alpha=0.25, batchnorm=False,
               input_batchnorm=False, code={"bits": 12, "integer": 3},
               quantization={"weight": {"bits": 8, "integer": 1}, "activation": {"bits": 10, "integer": 3}})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1)
    x = task.to_inputs(jet_generator.generate(N_FAST, seed=3), "log")
    pre = Preprocessor.fit("standard", x)
    model = models.build(SPEC, (4,))
    enc, _, _ = task.deployed(model, SPEC)
    fw = firmware.build(enc, None, pre, x, FirmwareOptions(score_head=False),
                        cache_dir=tmp_path_factory.mktemp("fw"), input_groups=task.input_names("log"))
    return fw, enc, models.decoder(model, SPEC), pre, x


@pytest.mark.benchmark(group="jet-encoder")
def test_csim_reference(benchmark, setup):
    fw, _, _, _, x = setup
    benchmark.extra_info["events"] = N_CSIM
    benchmark.pedantic(fw.csim, args=(x[:N_CSIM],), rounds=3, iterations=1)


@pytest.mark.benchmark(group="jet-encoder")
def test_emulator(benchmark, setup):
    fw, _, _, _, x = setup
    benchmark.extra_info["events"] = N_FAST
    out = benchmark.pedantic(fw.emulate, args=(x,), rounds=3, iterations=1, warmup_rounds=1)
    assert np.array_equal(out[0][:N_CSIM], fw.csim(x[:N_CSIM])[0])


@pytest.mark.benchmark(group="jet-encoder")
def test_qkeras_encoder(benchmark, setup):
    _, enc, _, pre, x = setup
    benchmark.extra_info["events"] = N_FAST
    benchmark.pedantic(enc.predict, args=(pre.transform(x),), kwargs={"batch_size": 16384, "verbose": 0},
                       rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="jet-encoder")
def test_offline_decoder(benchmark, setup):
    """Unpacking the firmware's codes offline (Keras decoder + inverse standardisation and log10)."""
    fw, _, dec, pre, x = setup
    codes = task.firmware_codes(fw, x)
    benchmark.extra_info["events"] = N_FAST
    benchmark.pedantic(task.decode, args=(dec, pre, codes, "log"), rounds=3, iterations=1, warmup_rounds=1)
