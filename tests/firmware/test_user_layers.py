"""A user's Keras model with the activations and merges hls4ml implements for io_parallel, converted and compiled by
hls4ml itself: its C-simulation against the emulator, bit for bit, on typical, saturating and random-bit-pattern
inputs."""

import numpy as np
import pytest

from codesign.firmware import fixed, program
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops import (
    HardActivationOp,
    PReLUOp,
    SoftmaxOp,
    TableActivationOp,
    Tensor,
    ThresholdedReLUOp,
    op_from_dict,
)
from tests.firmware.user_models import assert_bit_exact, compiled, input_type

TABLES = ("sigmoid", "tanh", "softplus", "softsign", "selu")
MERGE_NAMES = ("Average", "Maximum", "Minimum", "Subtract", "Concatenate")
SOFTMAX = ("latency", "stable", "legacy", "argmax")
N_IN = 12


def _user_model(seed: int = 0):
    """One Dense layer read by each activation, and merged with a second one by each merge, as a user writes them."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((N_IN,), name="x")
    z = layers.Dense(5, name="logits", kernel_initializer=tf.keras.initializers.RandomNormal(stddev=1.5))(inp)
    outs = [layers.Activation(a, name=f"act_{a}")(z) for a in TABLES]
    outs += [layers.Activation("softmax", name=f"softmax_{i}")(z) for i in SOFTMAX]
    prelu = layers.PReLU(name="prelu", alpha_initializer=tf.keras.initializers.RandomUniform(-0.5, 0.5))
    outs += [layers.Activation("hard_sigmoid", name="hard_sigmoid")(z), layers.ThresholdedReLU(0.7, name="thr")(z),
             layers.ELU(0.5, name="elu_half")(z), layers.Activation("elu", name="elu_one")(z), prelu(z)]
    other = layers.Dense(5, name="other")(inp)
    outs += [getattr(layers, m)(name=m.lower())([z, other]) for m in MERGE_NAMES]
    return tf.keras.Model(inp, outs)


def _compiled(model, tmp_path, precision: str):
    # the logits in the model's precision, as hls4ml's tutorial sets every type (their 'auto' result would be the
    # 37-bit accumulator, whose top 10 bits index the exp table in steps of 128)
    layers = {name: {"Precision": {"result": precision}} for name in ("logits", "other")}
    layers.update({f"softmax_{impl}": {"Implementation": impl} for impl in SOFTMAX})
    return compiled(model, tmp_path, precision, granularity="name", layers=layers)


def _vectors(rng, n: int, t: FixedType) -> np.ndarray:
    """Typical events (logits of unit spread) first, then large, saturating and random bit patterns on the grid."""
    edges = np.array([np.zeros(N_IN), np.full(N_IN, t.max_value), np.full(N_IN, t.min_value), np.full(N_IN, 1e6),
                      np.where(np.arange(N_IN) % 2, t.max_value, t.min_value)])
    grid = rng.integers(t.int_min, t.int_max + 1, (n, N_IN)) * t.lsb
    return np.concatenate([rng.normal(size=(n, N_IN)) * 0.2, edges, rng.normal(size=(n, N_IN)) * 6, grid])


@pytest.mark.parametrize("precision", ["ap_fixed<16,6>", pytest.param("ap_fixed<10,4>", marks=pytest.mark.slow)])
def test_a_users_activations_and_merges_are_bit_exact_with_csim(precision, tmp_path):
    model = _user_model()
    hm = _compiled(model, tmp_path, precision)
    x = _vectors(np.random.default_rng(1), 3000, input_type(hm))
    prog, emulated, csim = assert_bit_exact(model, hm, x)
    by_name = {op.name: op for op in prog.ops}
    assert {type(by_name[f"act_{a}"]) for a in TABLES} | {type(by_name["elu_half"])} == {TableActivationOp}
    assert {by_name[f"softmax_{i}"].implementation for i in SOFTMAX} == set(SOFTMAX)
    assert (type(by_name["hard_sigmoid"]), type(by_name["thr"]), type(by_name["prelu"])) == \
        (HardActivationOp, ThresholdedReLUOp, PReLUOp)
    assert len(emulated) == 14 + len(MERGE_NAMES)
    assert {type(by_name[m.lower()]).__name__ for m in MERGE_NAMES} == {"MergeOp", "ConcatenateOp"}
    if precision == "ap_fixed<16,6>":  # like Keras to the tables' precision (softmax mean |diff| 0.005, 0.011, 0.002)
        typical = slice(0, 3000)
        keras = dict(zip(model.output_names, model.predict(x[typical], verbose=0)))
        fw = dict(zip(model.output_names, (c[typical] for c in csim)))
        for impl in ("latency", "stable", "legacy"):
            assert np.abs(fw[f"softmax_{impl}"] - keras[f"softmax_{impl}"]).mean() < 0.02, impl
        # the same class but where quantized logits tie or cross
        assert (np.argmax(fw["softmax_argmax"], axis=1) == np.argmax(keras["softmax_argmax"], axis=1)).mean() > 0.99
        for name in ("act_sigmoid", "act_tanh", "hard_sigmoid", "thr", "elu_half", "prelu"):
            # all but the rare logits that quantization moves across ThresholdedReLU's step
            assert (np.abs(fw[name] - keras[name]) < 0.05).mean() > 0.999, name
    again = program.Program.from_json(prog.to_json())
    for a, b in zip(again.run(x[:300]), emulated):
        np.testing.assert_array_equal(a, b[:300])
    assert isinstance(by_name["softmax_latency"], SoftmaxOp)


def test_hard_sigmoid_and_tanh_hand_cases():
    """clip(0.25 x + 0.5, 0, 1); hard tanh 2 h - 1: at -3, -1, 0, 1, 3."""
    st, ht = FixedType(8, 0, False), FixedType(2, 0, False)
    t = FixedType(10, 4)
    x = Tensor(fixed.from_float(np.array([[-3.0, -1.0, 0.0, 1.0, 3.0]]), t), t)
    out = FixedType(12, 2)
    for act, expected in (("hard_sigmoid", [0.0, 0.25, 0.5, 0.75, 1.0]), ("hard_tanh", [-1.0, -0.5, 0.0, 0.5, 1.0])):
        op = HardActivationOp("h", ["x"], out, activation=act, slope=64, slope_type=st, shift=2, shift_type=ht)
        np.testing.assert_array_equal(fixed.to_float(op.run({"x": x}).values, out.frac)[0], expected)
        assert op_from_dict(op.to_dict()) == op
