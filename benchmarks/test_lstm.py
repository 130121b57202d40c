"""LSTM autoencoder inference over lumisection windows (20 LS x 50 bins, 8-bit QLSTM, 16 units, oldest-step
reconstruction): hls4ml C-simulation (reference), the bit-exact numpy emulator, and QKeras predict."""

import numpy as np
import pytest

from codesign import firmware
from codesign.core import models
from codesign.core.spec import LSTMAE
from codesign.data import lumi_generator as lumi
from codesign.firmware.options import FirmwareOptions

WINDOW = 20
N_CSIM = 200
N_FAST = 5_000
SPEC = LSTMAE(variant="sparse", units=(16,), reconstruct="oldest", quantization={"weight": {"bits": 8}})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1)
    series = lumi.generate(N_FAST + WINDOW, seed=2)
    x = lumi.windows(lumi.MinMax.fit(series.counts).transform(series.counts), WINDOW)[:N_FAST]
    model = models.build(SPEC, x.shape[1:])
    flat = x.reshape(len(x), -1)
    fw = firmware.build(model, SPEC, None, flat, FirmwareOptions(score_head=False),
                        cache_dir=tmp_path_factory.mktemp("fw"), input_groups=["bin"] * flat.shape[1])
    return fw, model, x, flat


@pytest.mark.benchmark(group="lstm-inference")
def test_csim_reference(benchmark, setup):
    fw, _, _, flat = setup
    benchmark.extra_info["events"] = N_CSIM
    benchmark.pedantic(fw.csim, args=(flat[:N_CSIM],), rounds=3, iterations=1)


@pytest.mark.benchmark(group="lstm-inference")
def test_emulator(benchmark, setup):
    fw, _, _, flat = setup
    benchmark.extra_info["events"] = N_FAST
    out = benchmark.pedantic(fw.emulate, args=(flat,), rounds=3, iterations=1, warmup_rounds=1)
    assert np.array_equal(out[0][:N_CSIM], fw.csim(flat[:N_CSIM])[0])


@pytest.mark.benchmark(group="lstm-inference")
def test_qkeras_predict(benchmark, setup):
    _, model, x, _ = setup
    benchmark.extra_info["events"] = N_FAST
    benchmark.pedantic(model.predict, args=(x,), kwargs={"batch_size": 1024, "verbose": 0}, rounds=3,
                       iterations=1, warmup_rounds=1)
