"""Inference speed of an HGQ autoencoder of the seed-004 shape (57-32-16-3, widths learned per weight and per
activation): hls4ml C-simulation (reference), the bit-exact emulator (compiled loops, numpy reference ops) and
the HGQ proxy's Keras predict. Beside benchmarks/test_firmware.py's QKeras numbers of the same architecture."""

import numpy as np
import pytest

from codesign import firmware
from codesign.core import models
from codesign.core.hgq import HGQTraining
from codesign.core.spec import DenseAE
from codesign.core.trainer import Training, fit
from codesign.data import adc2021
from codesign.data import l1_generator as gen

N_CSIM = 3_000
N_FAST = 500_000
SPEC = DenseAE(encoder=(32, 16), latent=3, activation="relu", batchnorm=True, input_batchnorm=True, quantizer="hgq")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    x = adc2021.flatten(gen.background(N_FAST, seed=3).particles)
    xs = (x / np.maximum(x.std(axis=0), 1e-9)).astype("float32")
    training = Training(epochs=2, batch_size=1024, hgq=HGQTraining(beta=1e-5))
    fitted = fit(models.build(SPEC, (57,), training.hgq), xs[:50_000], xs[:50_000], xs[50_000:60_000],
                 xs[50_000:60_000], training, seed=0)
    fw = firmware.build(fitted.model, SPEC, None, x[:50_000], cache_dir=tmp_path_factory.mktemp("fw"))
    fw.emulate(x[:10_000])  # the compiled loops are compiled on first use: not part of the timing
    return fw, fitted.model, x


@pytest.mark.benchmark(group="hgq-inference")
def test_csim_reference(benchmark, setup):
    fw, _, x = setup
    benchmark.extra_info["events"] = N_CSIM
    benchmark.pedantic(fw.csim, args=(x[:N_CSIM],), rounds=3, iterations=1)


@pytest.mark.benchmark(group="hgq-inference")
@pytest.mark.parametrize("engine", ["compiled", "numpy"])
def test_emulator(benchmark, setup, engine):
    fw, _, x = setup
    benchmark.extra_info["events"] = N_FAST
    out = benchmark.pedantic(fw.emulate, args=(x,), kwargs={"engine": engine}, rounds=3, iterations=1,
                             warmup_rounds=1)
    assert np.array_equal(out[0][:500], fw.csim(x[:500])[0])


@pytest.mark.benchmark(group="hgq-inference")
def test_proxy_keras_predict(benchmark, setup):
    _, model, x = setup
    benchmark.extra_info["events"] = N_FAST
    benchmark.pedantic(model.predict, args=(x,), kwargs={"batch_size": 16384, "verbose": 0}, rounds=3,
                       iterations=1, warmup_rounds=1)
