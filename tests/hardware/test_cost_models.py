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
