"""Inference speed on the seed-004 8-bit pruned autoencoder (57 inputs): hls4ml C-simulation (reference),
the bit-exact emulator (compiled loops, and the numpy reference ops), QKeras predict, and Keras float
predict of the same architecture. The search scores ten million events per candidate with the emulator:
it must not be slower than Keras' own float inference."""

import numpy as np
import pytest
from candidates import SPEC, seed004_model

from codesign import firmware
from codesign.core import models
from codesign.core.spec import DenseAE
from codesign.data import adc2021
from codesign.data import l1_generator as gen

N_CSIM = 3_000
N_FAST = 500_000


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model = seed004_model()
    x = adc2021.flatten(gen.background(N_FAST, seed=3).particles)
    fw = firmware.build(model, SPEC, None, x[:50_000], cache_dir=tmp_path_factory.mktemp("fw"))
    fw.emulate(x[:10_000])  # the compiled loops are compiled on first use: not part of the timing
    float_model = models.build(DenseAE(), (57,))
    return fw, model, float_model, x


@pytest.mark.benchmark(group="firmware-inference")
def test_csim_reference(benchmark, setup):
    fw, _, _, x = setup
    benchmark.extra_info["events"] = N_CSIM
    benchmark.pedantic(fw.csim, args=(x[:N_CSIM],), rounds=3, iterations=1)


@pytest.mark.benchmark(group="firmware-inference")
@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_emulator(benchmark, setup, engine):
    fw, _, _, x = setup
    benchmark.extra_info["events"] = N_FAST
    out = benchmark.pedantic(fw.emulate, args=(x,), kwargs={"engine": engine}, rounds=3, iterations=1,
                             warmup_rounds=1)
    assert np.array_equal(out[0][:500], fw.csim(x[:500])[0])


@pytest.mark.benchmark(group="firmware-inference")
@pytest.mark.parametrize("which", ["qkeras", "keras_float"])
def test_keras_predict(benchmark, setup, which):
    _, qmodel, float_model, x = setup
    model = qmodel if which == "qkeras" else float_model
    benchmark.extra_info["events"] = N_FAST
    benchmark.pedantic(model.predict, args=(x,), kwargs={"batch_size": 16384, "verbose": 0}, rounds=3,
                       iterations=1, warmup_rounds=1)
