"""The op registry: every op round-trips through JSON, hls4ml classes map to one op each, unknown ones are refused."""

from types import SimpleNamespace

import numpy as np
import pytest

from codesign.firmware import ops
from codesign.firmware.fixed import FixedType
from codesign.firmware.program import Program, UnsupportedLayer, from_hls4ml

T = FixedType.parse("ap_fixed<12,4,AP_RND_CONV,AP_SAT>")
W = FixedType.parse("ap_fixed<8,1>")


def _dense(name="d", inputs=("x",), n_in=3, n_out=2):
    w = np.arange(n_in * n_out, dtype=np.int64).reshape(n_in, n_out) - 2
    return ops.DenseOp(name, list(inputs), T, weight=w, weight_type=W, bias=np.array([1, -2] * (n_out // 2)),
                       bias_type=W, accum=FixedType.parse("ap_fixed<24,10>"))


EXAMPLES = {
    "InputOp": ops.InputOp("x", [], T),
    "DenseOp": _dense(),
    "TimeDistributedOp": ops.TimeDistributedOp("td", ["x"], T, dense=_dense("td", n_in=3), steps=2),
    "ActivationOp": ops.ActivationOp("a", ["x"], T, activation="relu"),
    "LeakyReLUOp": ops.LeakyReLUOp("l", ["x"], T, alpha=3, param_type=W),
    "BatchNormOp": ops.BatchNormOp("b", ["x"], T, scale=np.array([1, 2, 3]), scale_type=W, bias=np.array([0, 1, 2**70]),
                                   bias_type=FixedType(80, 40)),
    "MergeOp": ops.MergeOp("m", ["x", "y"], T, op="subtract"),
    "IdentityOp": ops.IdentityOp("i", ["x"], T),
    "ResizeOp": ops.ResizeOp("r", ["x"], T, width=2, new_width=5, channels=3),
    "FixedPointQuantizerOp": ops.FixedPointQuantizerOp("q", ["x"], T, keep_negative=[1, 0, 1], bits=[4, 3, 0],
                                                       integers=[2, 1, 0], rounding="RND", overflow="SAT"),
    "LSTMOp": ops.LSTMOp("lstm", ["x"], T, kernel=_dense("lstm_x", ["x"], 3, 8), recurrent=_dense("lstm_h", ["h"], 2, 8),
                         steps=2, n_in=3, units=2, return_sequences=False, accum=T, activation="tanh", table_type=W,
                         sigmoid=np.arange(32), tanh=np.arange(32) - 16),
    "TableActivationOp": ops.TableActivationOp("s", ["x"], T, activation="softsign", table_type=W,
                                               table=np.arange(32) - 16),
    "ConcatenateOp": ops.ConcatenateOp("c", ["x", "y"], T, shapes=((2, 3), (2, 1)), axis=-1),
    "PoolingOp": ops.PoolingOp("pool", ["x"], T, pool_op="average", accum=T, in_height=4, in_width=3, n_filt=2,
                               pool_height=2, pool_width=2, stride_height=2, stride_width=1, pad_right=1),
    "ConvOp": ops.ConvOp("conv", ["x"], T, dense=_dense("conv_pixel", ["patch"], n_in=3),
                         gather=np.array([[0, 1, 2], [1, 2, 0]])),
    "ThresholdedReLUOp": ops.ThresholdedReLUOp("t", ["x"], T, theta=5, param_type=W),
    "PReLUOp": ops.PReLUOp("p", ["x"], T, alpha=np.array([1, -3, 2]), param_type=W),
    "HardActivationOp": ops.HardActivationOp("h", ["x"], T, activation="hard_tanh", slope=13107,
                                             slope_type=FixedType(16, 0, False), shift=2,
                                             shift_type=FixedType(2, 0, False)),
    "SoftmaxOp": ops.SoftmaxOp("sm", ["x"], T, implementation="stable", in_type=T, accum=T, exp_type=W, inv_type=W,
                               inv_in_type=W, norm_type=FixedType(11, 3, False), exp_table=np.arange(16),
                               inv_table=np.arange(32)),
}


def test_every_registered_op_round_trips_through_json():
    assert set(EXAMPLES) == set(ops.OPS)
    program = Program(list(EXAMPLES.values()), ["lstm"], {"note": 1})
    text = program.to_json()
    again = Program.from_json(text)
    assert again.to_json() == text
    assert [type(op) for op in again.ops] == [type(op) for op in program.ops]
    assert again.ops[5].bias.dtype == object and again.ops[1].weight.dtype == np.int64  # > 62 bits stay exact


def test_unknown_op_in_json_is_refused():
    with pytest.raises(ValueError, match="unknown op 'GRUOp' in program"):
        Program.from_json('{"ops": [{"op": "GRUOp", "name": "c", "inputs": [], "out": {}}], "outputs": []}')


def test_registry_refuses_a_duplicate_op_or_hls4ml_class():
    with pytest.raises(ValueError, match="op 'DenseOp' is already registered"):
        ops.register()(type("DenseOp", (ops.IdentityOp,), {}))
    with pytest.raises(ValueError, match="Dense already converted by DenseOp"):
        ops.register("Dense")(type("OtherDenseOp", (ops.IdentityOp,), {}))
    assert "OtherDenseOp" not in ops.OPS and ops.CONVERTERS["Dense"] is ops.DenseOp


def _layer(cls, name, **attrs):
    from hls4ml.model.types import FixedPrecisionType

    var = SimpleNamespace(type=SimpleNamespace(precision=FixedPrecisionType(16, 6)), shape=(4,))
    return SimpleNamespace(class_name=cls, name=name, outputs=[name], inputs=["x"], get_output_variable=lambda: var,
                           get_attr=lambda key, default=None: attrs.get(key, default))


def test_unsupported_hls4ml_layers_are_named_in_one_line():
    model = SimpleNamespace(outputs=["out"], get_layers=lambda: [
        _layer("Input", "x"), _layer("GRU", "gru"), _layer("Activation", "soft", activation="softmax"),
        _layer("Merge", "cat", op="Concatenate"), _layer("Reshape", "r")])
    with pytest.raises(UnsupportedLayer) as err:
        from_hls4ml(model)
    assert str(err.value) == ("the emulator does not implement: gru (GRU), soft (Activation softmax), "
                              "cat (Merge Concatenate)")


def test_every_hls4ml_class_converts_to_a_registered_op():
    assert {"Input", "Dense", "Activation", "ParametrizedActivation", "BatchNormalization", "Merge", "LSTM", "Reshape",
            "Resize", "TimeDistributed"} <= set(ops.CONVERTERS)
    assert all(ops.OPS[cls.__name__] is cls for cls in ops.CONVERTERS.values())


def test_merges_broadcast_and_concatenate_along_an_axis():
    """hls4ml's `data2[i % n2]` broadcast; average (a + b) / 2 exact; a 2-D concatenation interleaves rows."""
    t = FixedType(8, 4)
    a = ops.Tensor(np.array([[16, -32, 48, 3]]), t)  # 1, -2, 3, 0.1875
    b = ops.Tensor(np.array([[8, -8]]), t)  # 0.5, -0.5, broadcast over a's 4 elements
    env = {"a": a, "b": b}
    out = FixedType(12, 4)
    results = {m: ops.MergeOp("m", ["a", "b"], out, op=m).run(env).values[0].tolist()
               for m in ("average", "maximum", "minimum", "subtract")}
    assert results == {"average": [192, -320, 448, -40], "maximum": [256, -128, 768, 48],
                       "minimum": [128, -512, 128, -128], "subtract": [128, -384, 640, 176]}
    cat = ops.ConcatenateOp("c", ["a", "b"], out, shapes=((2, 2), (2, 1)), axis=-1).run(env)
    assert (cat.values[0] >> 4).tolist() == [16, -32, 8, 48, 3, -8]
