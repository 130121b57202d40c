"""Convolutions of a user's CNN (CICADA's kind: a calorimeter-region image, 2D convolutions with 'same' and 'valid'
padding and strides, pooling, a 1D convolution, a dense bottleneck), converted and compiled by hls4ml: C-sim
against the emulator, bit for bit."""

import numpy as np
import pytest

from codesign.firmware.ops import ConvOp
from codesign.firmware.ops.conv import im2col
from tests.firmware.user_models import assert_bit_exact, compiled, grid_and_edges, input_type

SHAPE = (18, 14, 1)  # CICADA's 18 x 14 calorimeter regions


def test_im2col_is_hls4mls_gather():
    """A 3 x 3 kernel over a 2 x 2 single-channel image with one cell of padding all round: pixel (0, 0) sees
    the image in the kernel's lower-right 2 x 2 cells (indices + 1), zeros elsewhere."""
    g = im2col((2, 2, 1), (3, 3), (1, 1), (1, 1, 1, 1))
    assert g.shape == (4, 9)
    assert g[0].tolist() == [0, 0, 0, 0, 1, 2, 0, 3, 4]


def _cnn(seed: int = 0):
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input(SHAPE, name="regions")
    x = layers.Conv2D(4, 3, padding="same", name="conv1")(inp)
    x = layers.Activation("relu", name="relu1")(x)
    x = layers.AveragePooling2D(2, name="pool1")(x)
    x = layers.Conv2D(8, (3, 2), strides=(2, 1), padding="valid", name="conv2")(x)
    x = layers.Activation("relu", name="relu2")(x)
    seq = layers.Reshape((4 * 6, 8), name="seq")(x)  # conv2 gives 4 x 6 pixels of 8 filters
    y = layers.Conv1D(4, 3, padding="same", name="conv1d")(seq)
    y = layers.Flatten(name="flat")(y)
    code = layers.Dense(6, name="bottleneck")(y)
    return tf.keras.Model(inp, [code, x])


@pytest.mark.parametrize("precision", ["ap_fixed<16,6>", pytest.param("ap_fixed<8,3>", marks=pytest.mark.slow)])
def test_a_users_cnn_is_bit_exact_with_csim(precision, tmp_path):
    model = _cnn()
    hm = compiled(model, tmp_path, precision)
    t = input_type(hm)
    rng = np.random.default_rng(3)
    n, size = 1500, int(np.prod(SHAPE))
    x = np.concatenate([rng.exponential(size=(n, size)), rng.normal(size=(n, size)) * t.max_value / 2,
                        grid_and_edges(rng, n, size, t)])
    prog, _, csim = assert_bit_exact(model, hm, x, SHAPE)
    assert sum(isinstance(op, ConvOp) for op in prog.ops) == 3
    if precision == "ap_fixed<16,6>":  # and like Keras on typical images, to the fixed-point precision
        keras = model.predict(x[:n].reshape(-1, *SHAPE), verbose=0)
        for name, k, c in zip(model.output_names, keras, csim):
            assert np.abs(c[:n] - k.reshape(n, -1)).mean() < 0.05, name
