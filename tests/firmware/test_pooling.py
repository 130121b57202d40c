"""hls4ml's pooling (io_parallel, channels last): a user's model with max and average pooling, 1D and 2D, strided,
padded and global, converted and compiled by hls4ml; C-sim against the emulator bit for bit, and hand cases."""

import numpy as np
import pytest

from codesign.firmware.fixed import FixedType
from codesign.firmware.ops import PoolingOp, Tensor
from tests.firmware.user_models import assert_bit_exact, compiled, grid_and_edges, input_type

SHAPE = (8, 6, 3)


def test_average_pooling_hand_case_sums_in_accum_and_divides_toward_zero():
    """A 2 x 2 window over a 3 x 3 image, stride 2, 'same' padding: the corner windows hold 1, 2 and 4 cells."""
    t = FixedType(8, 4)  # 4 fractional bits
    x = Tensor(np.array([[1, 2, 3, 4, 5, 6, 7, 8, -9]]), t)
    op = PoolingOp("p", ["x"], t, pool_op="average", accum=t, in_height=3, in_width=3, n_filt=1, pool_height=2,
                   pool_width=2, stride_height=2, stride_width=2, pad_bottom=1, pad_right=1)
    # windows: (1 + 2 + 4 + 5) / 4 = 3, (3 + 6) / 2 = 4.5 -> 4, (7 + 8) / 2 = 7.5 -> 7, -9 / 1 = -9
    assert op.run({"x": x}).values.tolist() == [[3, 4, 7, -9]]
    op.count_pad = True  # padded cells count in the divisor: 12 / 4, 9 / 4 -> 2, 15 / 4 -> 3, -9 / 4 -> -2
    assert op.run({"x": x}).values.tolist() == [[3, 2, 3, -2]]
    op.pool_op = "max"  # padding holds the most negative value, so the single cell wins
    assert op.run({"x": x}).values.tolist() == [[5, 6, 8, -9]]


def _model():
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input(SHAPE, name="image")
    flat = layers.Reshape((SHAPE[0] * SHAPE[1], SHAPE[2]), name="seq")(inp)
    outs = [layers.MaxPooling2D(2, name="max2d")(inp),
            layers.AveragePooling2D(3, strides=2, padding="same", name="avg2d")(inp),
            layers.GlobalAveragePooling2D(name="gavg2d")(inp), layers.GlobalMaxPooling2D(name="gmax2d")(inp),
            layers.MaxPooling1D(3, strides=2, padding="same", name="max1d")(flat),
            layers.AveragePooling1D(4, name="avg1d")(flat), layers.GlobalAveragePooling1D(name="gavg1d")(flat)]
    return tf.keras.Model(inp, outs)


@pytest.mark.slow  # CI C-simulates average pooling inside the CNN of test_conv.py
@pytest.mark.parametrize("precision", ["ap_fixed<16,6>", "ap_fixed<8,3>"])
def test_a_users_pooling_layers_are_bit_exact_with_csim(precision, tmp_path):
    model = _model()
    hm = compiled(model, tmp_path, precision)
    t = input_type(hm)
    rng = np.random.default_rng(2)
    n, size = 4000, int(np.prod(SHAPE))
    # typical values, values that make the 9-cell sums wrap the accumulator, and random bit patterns
    x = np.concatenate([rng.normal(size=(n, size)), rng.normal(size=(n, size)) * t.max_value / 3,
                        grid_and_edges(rng, n, size, t)])
    prog, _, csim = assert_bit_exact(model, hm, x, SHAPE)
    pools = [op for op in prog.ops if isinstance(op, PoolingOp)]
    assert {(op.pool_op, op.in_height > 1) for op in pools} == {(p, d) for p in ("max", "average") for d in (0, 1)}
    if precision == "ap_fixed<16,6>":  # and like Keras on typical values, to the 16-bit precision
        keras = model.predict(x[:n].reshape(-1, *SHAPE), verbose=0)
        for name, k, c in zip(model.output_names, keras, csim):
            assert np.abs(c[:n] - k.reshape(n, -1)).max() < 0.01, name
