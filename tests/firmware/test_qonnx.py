"""QONNX interchange: export a candidate, import it back, and import a hand-written (Brevitas-style) QONNX graph."""

import numpy as np
import pytest

from codesign.errors import ModelFileError
from codesign.firmware import qonnx_io

from .cases import Case, vectors


def brevitas_style_model(path, rng):
    """Input Quant -> MatMul(Quant W) -> Add(Quant b) -> Relu -> Quant -> MatMul -> Add, as Brevitas exports."""
    import onnx
    from onnx import TensorProto, helper

    def const(name, value):
        return helper.make_tensor(name, TensorProto.FLOAT, np.shape(value), np.asarray(value, np.float32).ravel())

    def quant(name, x, out, scale, bits, signed):
        return helper.make_node("Quant", [x, f"{name}_s", f"{name}_z", f"{name}_b"], [out], name=name,
                                domain="qonnx.custom_op.general", signed=signed, narrow=0, rounding_mode="ROUND"), [
            const(f"{name}_s", scale), const(f"{name}_z", 0.0), const(f"{name}_b", float(bits))]

    w1 = np.round(rng.uniform(-1, 1, (6, 5)) * 32) / 32
    b1 = np.round(rng.uniform(-1, 1, 5) * 32) / 32
    w2 = np.round(rng.uniform(-1, 1, (5, 3)) * 32) / 32
    b2 = np.round(rng.uniform(-1, 1, 3) * 32) / 32
    inits = [const("w1", w1), const("b1", b1), const("w2", w2), const("b2", b2)]
    nodes = []

    def add_quant(*args):
        node, constants = quant(*args)
        nodes.append(node)
        inits.extend(constants)

    add_quant("qin", "x", "xq", 2.0**-4, 10, 1)
    add_quant("qw1", "w1", "w1q", 2.0**-5, 6, 1)
    add_quant("qb1", "b1", "b1q", 2.0**-5, 6, 1)
    add_quant("qw2", "w2", "w2q", 2.0**-5, 6, 1)
    add_quant("qb2", "b2", "b2q", 2.0**-5, 6, 1)
    nodes += [helper.make_node("MatMul", ["xq", "w1q"], ["m1"]), helper.make_node("Add", ["m1", "b1q"], ["h1"]),
              helper.make_node("Relu", ["h1"], ["r1"])]
    add_quant("qa1", "r1", "a1", 2.0**-3, 6, 0)
    nodes += [helper.make_node("MatMul", ["a1", "w2q"], ["m2"]), helper.make_node("Add", ["m2", "b2q"], ["y"])]
    graph = helper.make_graph(nodes, "brevitas_like", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                         [1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("qonnx.custom_op.general", 1)])
    onnx.save(model, str(path))
    return path


def test_candidate_round_trips_through_qonnx_bit_exactly(tmp_path):
    case = Case("qonnx", bits=6, integer=0, act_bits=6, act_integer=2, encoder=(8,), latent=3)
    model = case.model()
    calib, x = vectors(case.n_inputs, 2000)
    path = qonnx_io.export(model, tmp_path / "candidate.onnx")
    fw = qonnx_io.build(path, calib, cache_dir=tmp_path / "cache")
    assert np.array_equal(fw.emulate(x)[0], fw.csim(x)[0])
    # On in-range inputs the imported firmware reproduces the QKeras model (both exact there).
    inside = x[np.abs(x).max(axis=1) < 0.5 * np.abs(calib).max()]
    grid = np.floor(inside * 2.0**fw.program.input.out.frac) / 2.0**fw.program.input.out.frac
    keras = model.predict(grid.astype(np.float32), verbose=0)
    emulated = fw.emulate(grid)[0] * 2.0**-fw.output_types[0].frac
    assert np.allclose(emulated, keras, atol=2.0**-fw.output_types[0].frac)


def test_foreign_qonnx_model_is_bit_exact(tmp_path):
    path = brevitas_style_model(tmp_path / "brevitas.onnx", np.random.default_rng(0))
    calib, x = vectors(6, 3000, scale=8.0)
    fw = qonnx_io.build(path, calib, cache_dir=tmp_path / "cache")
    assert np.array_equal(fw.emulate(x)[0], fw.csim(x)[0])


def test_bad_qonnx_files(tmp_path):
    with pytest.raises(ModelFileError, match="no such QONNX file"):
        qonnx_io.load(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(ModelFileError, match="not a valid ONNX model"):
        qonnx_io.load(junk)
