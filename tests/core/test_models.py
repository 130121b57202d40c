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
