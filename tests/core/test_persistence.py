import numpy as np
import pytest
import tensorflow as tf

from codesign.core import models, persistence
from codesign.core.spec import VAE, DenseAE, FixedPoint, Quantization
from codesign.errors import ModelFileError


@pytest.mark.parametrize("spec", [
    DenseAE(encoder=(8,), latent=2),
    DenseAE(encoder=(8,), latent=2, activation="relu",
            quantization=Quantization(weight=FixedPoint(bits=6, integer=0), activation=FixedPoint(bits=6, integer=1))),
    VAE(encoder=(8,), latent=2),
], ids=["float", "qkeras", "vae"])
def test_save_and_load_round_trip(tmp_path, spec):
    model = models.build(spec, (12,))
    x = np.random.default_rng(0).normal(size=(32, 12)).astype("float32")
    persistence.save(tmp_path / "run", model, {"hello": 1})
    loaded, meta = persistence.load(tmp_path / "run")
    assert meta == {"hello": 1}
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_lambda_layers_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "executed"
    inp = tf.keras.Input((4,))
    out = tf.keras.layers.Lambda(lambda t: t * 2, name="evil")(inp)
    path = tmp_path / "lambda.h5"
    tf.keras.Model(inp, out).save(path)
    with pytest.raises(ModelFileError, match=r"Lambda layers would execute code.*evil"):
        persistence.load_keras(path)
    assert not marker.exists()


def test_weights_only_and_garbage_files(tmp_path):
    model = models.build(DenseAE(encoder=(4,), latent=2), (6,))
    weights = tmp_path / "w.h5"
    model.save_weights(weights)
    with pytest.raises(ModelFileError, match="weights-only"):
        persistence.load_keras(weights)
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(ModelFileError, match="cannot be read"):
        persistence.load_keras(junk)
    with pytest.raises(ModelFileError, match="metadata.json"):
        persistence.load(tmp_path)
    (tmp_path / "metadata.json").write_text("{broken")
    with pytest.raises(ModelFileError, match="invalid JSON"):
        persistence.load(tmp_path)
