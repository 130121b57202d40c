"""Training step time of the seed-004 autoencoder: float (reference), QKeras 8-bit, 8-bit + pruning wrappers,
and HGQ (a width per weight and activation, EBOPs in the loss, its ResetMinMax/FreeBOPs callbacks)."""

import numpy as np
import pytest

from codesign.core import hgq, models, pruning
from codesign.core.hgq import HGQTraining
from codesign.core.spec import DenseAE, FixedPoint, Pruning, Quantization

BATCH = 1024
Q8 = Quantization(weight=FixedPoint(bits=8, integer=0), activation=FixedPoint(bits=8, integer=0))
VARIANTS = {
    "float_reference": (DenseAE(), None),
    "qkeras_8bit": (DenseAE(activation="relu", quantization=Q8), None),
    "qkeras_8bit_pruned": (DenseAE(activation="relu", quantization=Q8), Pruning(sparsity=0.75, end_epoch=1)),
    "hgq": (DenseAE(activation="relu", quantizer="hgq"), None),
}


@pytest.mark.benchmark(group="training-step")
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_train_step(benchmark, variant):
    import tensorflow as tf

    spec, prune = VARIANTS[variant]
    tf.keras.utils.set_random_seed(0)
    model = models.build(spec, (57,), HGQTraining())
    callbacks = hgq.callbacks(HGQTraining()) if spec.quantizer == "hgq" else []
    if prune is not None:
        model = pruning.wrap(model, prune, steps_per_epoch=100)
        callbacks = pruning.callbacks()
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(BATCH * 50, 57)).astype("float32")
    model.fit(x, x, batch_size=BATCH, epochs=1, verbose=0, callbacks=callbacks)  # trace and warm up

    def epoch():
        model.fit(x, x, batch_size=BATCH, epochs=1, verbose=0, callbacks=callbacks)

    benchmark.extra_info["events"] = len(x)
    benchmark.pedantic(epoch, rounds=7, iterations=1, warmup_rounds=1)
