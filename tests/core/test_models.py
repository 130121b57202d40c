import numpy as np
import pytest

from codesign.core import models
from codesign.core.spec import LSTMAE, VAE, DenseAE, FixedPoint, Quantization

Q8 = Quantization(weight=FixedPoint(bits=8, integer=0), activation=FixedPoint(bits=8, integer=0))


def test_seed004_baseline_has_the_published_shape():
    model = models.build(DenseAE(), (57,))
    dense = [l for l in model.layers if type(l).__name__ == "Dense"]
    assert [l.units for l in dense] == [32, 16, 3, 16, 32, 57]
    # Dense weights (4924) + BatchNorm on the input (57 x 4) and after each hidden layer ((32+16+16+32) x 4).
    assert model.count_params() == 4924 + 228 + 384
    assert model.output_shape == (None, 57)


def test_quantized_dense_ae_uses_qkeras_layers_with_the_asked_precision():
    spec = DenseAE(activation="relu", quantization=Quantization.model_validate(
        {**Q8.model_dump(), "layers": {"output": {"weight": {"bits": 12, "integer": 4}}}}))
    model = models.build(spec, (57,))
    qdense = [l for l in model.layers if type(l).__name__ == "QDense"]
    assert len(qdense) == 6
    assert qdense[0].kernel_quantizer_internal.bits == 8
    out = model.get_layer("output")
    assert out.kernel_quantizer_internal.bits == 12 and out.kernel_quantizer_internal.integer == 4
    assert [type(l).__name__ for l in model.layers].count("QActivation") == 4


def test_quantized_leaky_relu_needs_a_power_of_two_slope():
    with pytest.raises(ValueError, match="power of two"):
        DenseAE(activation="leaky_relu", leaky_alpha=0.3, quantization=Q8)
    model = models.build(DenseAE(activation="leaky_relu", leaky_alpha=0.25, quantization=Q8), (57,))
    assert model.get_layer("enc_dense1_act").quantizer.negative_slope == 0.25


def test_custom_widths_and_decoder():
    model = models.build(DenseAE(encoder=(24, 12, 6), latent=2, decoder=(8,), batchnorm=False,
                                 input_batchnorm=False), (10,))
    assert [l.units for l in model.layers if hasattr(l, "units")] == [24, 12, 6, 2, 8, 10]


def test_vae_adds_the_kl_term_and_exposes_its_encoder():
    import tensorflow as tf

    model = models.build(VAE(latent=4, beta=0.5), (57,))
    x = np.random.default_rng(0).normal(size=(64, 57)).astype("float32")
    model(x, training=True)
    assert len(model.losses) >= 1 and float(model.losses[0]) > 0
    z_mean, z_log_var = models.vae_encoder(model).predict(x, verbose=0)
    assert z_mean.shape == (64, 4) and z_log_var.shape == (64, 4)
    # At inference the latent is the mean (deterministic), so predictions repeat.
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(model.get_layer("sampling"), tf.keras.layers.Layer)


@pytest.mark.parametrize("variant, lstm_units", [("sparse", [64, 64]), ("undercomplete", [64, 32, 32, 64])])
def test_lstm_autoencoders(variant, lstm_units):
    model = models.build(LSTMAE(variant=variant), (50, 20))
    assert model.output_shape == (None, 50, 20)
    assert [l.units for l in model.layers if type(l).__name__ == "LSTM"] == lstm_units
    assert "RepeatVector" not in [type(l).__name__ for l in model.layers]  # hls4ml cannot convert it


def test_quantized_lstm_autoencoder():
    model = models.build(LSTMAE(variant="sparse", units=(16,), quantization=Q8), (10, 5))
    assert [type(l).__name__ for l in model.layers].count("QLSTM") == 2
    assert model.predict(np.zeros((2, 10, 5), "float32"), verbose=0).shape == (2, 10, 5)


def test_sampling_layer_against_hand_cases():
    """KL(N(mu, sigma^2) || N(0, 1)) = -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2); z = mu + sigma * eps."""
    import tensorflow as tf

    from codesign.core.layers import Sampling
    from codesign.core.scoring import kl_score

    mu = np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], dtype="float32")
    log_var = np.array([[0.0, 0.0], [0.0, 0.0], [np.log(4.0), np.log(0.25)]], dtype="float32")
    expected = np.array([0.0, 2.5, -0.5 * (1 + np.log(4) - 4) - 0.5 * (1 + np.log(0.25) - 0.25)])
    np.testing.assert_allclose(kl_score(mu, log_var), expected, rtol=1e-6)
    layer = Sampling(beta=0.5)
    out = layer([tf.constant(mu), tf.constant(log_var)], training=False)
    np.testing.assert_array_equal(out.numpy(), mu)  # inference: the mean, deterministic
    assert float(layer.losses[-1]) == pytest.approx(0.5 * expected.mean(), rel=1e-6)  # beta x the batch mean
    # training: z = mu + exp(log_var / 2) * eps, eps ~ N(0, 1)
    tf.keras.utils.set_random_seed(0)
    n = 20_000
    z = layer([tf.constant(np.tile(mu[2:], (n, 1))), tf.constant(np.tile(log_var[2:], (n, 1)))], training=True).numpy()
    np.testing.assert_allclose(z.mean(axis=0), [0.0, 0.0], atol=0.04)
    np.testing.assert_allclose(z.std(axis=0), [2.0, 0.5], rtol=0.03)


@pytest.mark.parametrize("spec", [
    DenseAE(encoder=(8,), latent=3, quantization=Q8, code=FixedPoint(bits=10, integer=3), activation="relu"),
    VAE(encoder=(8,), latent=3, beta=0.1, code=FixedPoint(bits=10, integer=3), activation="relu"),
])
def test_encoder_and_decoder_split_the_autoencoder(spec):
    """The on-detector half (up to the quantized code) then the offline half give the model's reconstruction."""
    model = models.build(spec, (4,))
    x = np.random.default_rng(1).normal(size=(256, 4)).astype("float32")
    codes = models.encoder(model, spec).predict(x, verbose=0)
    assert codes.shape == (256, 3)
    np.testing.assert_array_equal(codes * 64, np.round(codes * 64))  # on the 10-bit, 3-integer-bit grid
    assert np.abs(codes).max() <= 8
    decoded = models.decoder(model, spec).predict(codes, verbose=0)
    np.testing.assert_allclose(decoded, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    chain = models.mean_reconstruction(model, spec)
    assert "sampling" not in [layer.name for layer in chain.layers]
    np.testing.assert_allclose(chain.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
