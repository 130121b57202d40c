"""The cost-model and reader registries: one model per layer kind, one reader per hls4ml class and op class."""

import pytest

from codesign.firmware import ops
from codesign.firmware.fixed import FixedType
from codesign.hardware import analytic, graph
from codesign.hardware.graph import Layer, UnsupportedLayer

KINDS = ("input", "dense", "activation", "table", "softmax", "batchnorm", "merge", "free")  # Layer.kind


def test_every_layer_kind_has_a_cost_model():
    assert set(KINDS) == set(analytic.COST_MODELS)
    assert {k for k, m in analytic.COST_MODELS.items() if not m.estimated} == {"input", "free"}


def test_a_kind_without_a_model_is_a_clear_error():
    t = FixedType(16, 6)
    layer = Layer("c", "conv", 4, 4, t, t)
    with pytest.raises(UnsupportedLayer, match="no cost model for layer kind 'conv' \\(c\\)"):
        analytic.counts(layer, "virtexuplus", analytic.coefficients())


def test_registries_refuse_a_duplicate():
    with pytest.raises(ValueError, match="dense already have a cost model"):
        analytic.cost_model("dense")(type("Other", (analytic.CostModel,), {}))
    with pytest.raises(ValueError, match="Dense already have a reader"):
        graph.reads("Dense")(lambda layer, r: None)
    with pytest.raises(ValueError, match="DenseOp already have a reader"):
        graph.reads_op(ops.DenseOp)(lambda op, r: [])
    assert isinstance(analytic.COST_MODELS["dense"], analytic.DenseCost)


def test_every_emulator_op_has_a_graph_reader():
    assert set(ops.OPS.values()) == set(graph.OP_READERS)


def test_a_users_activations_are_read_off_the_program_and_convolutions_refused():
    """The ops a user's model brings map to the cost kinds of their hls4ml layers; convolution and pooling,
    which the emulator runs but no cost model covers yet, are refused in one line."""
    import numpy as np

    from codesign.firmware.program import Program

    t, tt = FixedType(16, 6), FixedType(18, 8)
    program = Program([
        ops.InputOp("x", [], t),
        ops.TableActivationOp("sig", ["x"], t, activation="sigmoid", table_type=tt, table=np.zeros(1024, np.int64)),
        ops.SoftmaxOp("sm", ["sig"], t, implementation="stable", in_type=t, accum=tt, exp_type=tt, inv_type=tt,
                      inv_in_type=tt, norm_type=FixedType(15, 5, False), exp_table=np.zeros(512, np.int64),
                      inv_table=np.zeros(1024, np.int64)),
        ops.PReLUOp("pr", ["sm"], t, alpha=np.arange(4), param_type=tt),
        ops.ConcatenateOp("cat", ["pr", "sig"], t, shapes=((4,), (4,)))], ["cat"])
    g = graph.from_program(program, 4, {}, "xcvu9p-flga2104-2L-e", 5.0)
    assert [(la.kind, la.n_out) for la in g.layers] == [("input", 4), ("table", 4), ("softmax", 4),
                                                        ("activation", 4), ("free", 8)]
    assert g.layers[2].table_size == 512
    conv = ops.ConvOp("conv", ["x"], t, dense=ops.DenseOp("conv_pixel", ["patch"], t, weight=np.ones((2, 1), np.int64),
                                                           weight_type=t, bias=np.zeros(1, np.int64), bias_type=t,
                                                           accum=t), gather=np.array([[1, 2], [3, 4]]))
    with pytest.raises(UnsupportedLayer, match=r"no resource model for program op ConvOp \(conv\) yet"):
        graph.from_program(Program([ops.InputOp("x", [], t), conv], ["conv"]), 4, {}, "xcvu9p-flga2104-2L-e", 5.0)
