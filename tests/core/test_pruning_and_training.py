import numpy as np
import pytest

from codesign.core import models, pruning
from codesign.core.spec import DenseAE, FixedPoint, Pruning, Quantization
from codesign.core.trainer import Training, TrainingFailed, fit, seed_everything

FAST = Training(epochs=6, batch_size=256, learning_rate=3e-3, early_stopping_patience=2)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 3))
    x = np.tanh(z @ rng.normal(size=(3, 20))) + 0.05 * rng.normal(size=(4000, 20))
    return x[:3000].astype("float32"), x[3000:].astype("float32")


@pytest.mark.parametrize("quantized", [False, True], ids=["float", "qkeras"])
def test_pruning_is_applied_to_the_trained_model(data, quantized):
    q = Quantization(weight=FixedPoint(bits=8, integer=0), activation=FixedPoint(bits=8, integer=2)) if quantized else None
    spec = DenseAE(encoder=(16, 8), latent=3, activation="relu", quantization=q,
                   pruning=Pruning(sparsity=0.6, begin_epoch=0, end_epoch=3))
    x, xv = data
    fitted = fit(models.build(spec, (20,)), x, x, xv, xv, FAST, spec.pruning, seed=1)
    assert not any("prune" in type(l).__name__.lower() for l in fitted.model.layers), "wrappers must be stripped"
    # tfmot may leave one weight unpruned per layer (24-weight layers: 14/24 = 58 %).
    assert all(v >= 0.58 for v in fitted.sparsity.values()), fitted.sparsity
    assert pruning.overall_sparsity(fitted.model) >= 0.595
    assert fitted.epochs_run > spec.pruning.end_epoch


def test_verify_reports_layers_that_fall_short(data):
    model = models.build(DenseAE(encoder=(8,), latent=2), (20,))
    with pytest.raises(pruning.PruningFailed, match="enc_dense1 0.0%"):
        pruning.verify(model, Pruning(sparsity=0.5, end_epoch=2))


def test_same_seed_same_weights(data):
    x, xv = data
    spec = DenseAE(encoder=(8,), latent=2)

    def run():
        seed_everything(5)  # before building: the initial weights are random too
        return fit(models.build(spec, (20,)), x, x, xv, xv, FAST.model_copy(update={"epochs": 2}), seed=5)

    a, b = run(), run()
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_divergence_is_a_training_failure(data):
    x = np.full((512, 20), 1e30, "float32")
    with pytest.raises(TrainingFailed, match="non-finite"):
        fit(models.build(DenseAE(encoder=(8,), latent=2, batchnorm=False, input_batchnorm=False), (20,)),
            x, x, x, x, FAST, seed=0)
