"""The analytic model's arithmetic, as pure functions of layer records (no hls4ml)."""

import dataclasses

import numpy as np
import pytest

from codesign.firmware.fixed import FixedType
from codesign.hardware import analytic
from codesign.hardware.graph import Graph, Layer

X16 = FixedType(16, 6)


def dense(weight, bits=16, reuse=1, strategy="latency", x=X16, accum=FixedType(32, 12)):
    w = np.asarray(weight)
    return Layer("d", "dense", w.shape[0], w.shape[1], x, FixedType(16, 6), reuse=reuse, strategy=strategy,
                 weight=w, weight_type=FixedType(bits, 1), accum=accum)


def test_weight_bit_arithmetic():
    w = np.array([0, 1, -2, 3, 5, 7, 12, -96, 255])
    assert analytic.significant_bits(w).tolist() == [0, 1, 1, 2, 3, 3, 2, 2, 8]
    # canonical signed digits: 7 = 8 - 1, 255 = 256 - 1, 5 = 4 + 1
    assert analytic.csd_digits(w).tolist() == [0, 1, 1, 2, 2, 2, 2, 2, 2]


def test_zero_and_power_of_two_weights_cost_no_multiplier():
    co = analytic.coefficients()
    rng = np.random.default_rng(0)
    w = rng.integers(200, 30000, (16, 8)) * rng.choice([-1, 1], (16, 8))
    full = analytic.counts(dense(w), "virtexuplus", co)
    assert full["dsp"] == np.sum(analytic.significant_bits(w) >= co.dsp_min_const_bits)
    pruned = w.copy()
    pruned[:, :6] = 0
    assert analytic.counts(dense(pruned), "virtexuplus", co)["dsp"] == \
        np.sum(analytic.significant_bits(pruned[:, 6:]) >= co.dsp_min_const_bits)
    shifts = np.where(w > 0, 256, -1024)  # every weight a power of two: shifts and adders only
    c = analytic.counts(dense(shifts), "virtexuplus", co)
    assert c["dsp"] == 0 and c["const_add_bits"] == 0 and c["adder_bits"] > 0
    cost = [analytic.layer_cost(dense(m), "virtexuplus", 5.0, co) for m in (w, pruned, np.zeros_like(w))]
    assert cost[0].lut > cost[1].lut > cost[2].lut and cost[2].dsp == 0


def test_narrow_operands_go_to_luts_and_wide_ones_to_dsps():
    co = analytic.coefficients()
    w = np.random.default_rng(1).integers(-31, 32, (8, 8))
    narrow = analytic.counts(dense(w, bits=co.dsp_min_width - 1), "virtexuplus", co)
    wide = analytic.counts(dense(w, bits=16), "virtexuplus", co)
    assert narrow["dsp"] == 0 and narrow["const_add_bits"] > 0
    assert wide["dsp"] > 0
    # a 32-bit input needs two DSP48E2 (27x18) per multiplication
    w_big = np.full((4, 4), 12345)
    x32 = analytic.counts(dense(w_big, x=FixedType(32, 12)), "virtexuplus", co)
    assert x32["dsp"] == 2 * analytic.counts(dense(w_big), "virtexuplus", co)["dsp"]


@pytest.mark.parametrize("strategy", ["latency", "resource"])
def test_reuse_factor_shares_multipliers(strategy):
    co = analytic.coefficients()
    w = np.random.default_rng(2).integers(1000, 30000, (32, 16))
    w[:, :4] = 0  # 128 zeros
    costs = {rf: analytic.layer_cost(dense(w, reuse=rf, strategy=strategy), "virtexuplus", 5.0, co)
             for rf in (2, 4, 8, 32)}
    for rf, c in costs.items():  # hls4ml's multiplier_limit: ceil(n/RF) - floor(zeros/RF)
        assert c.dsp == -(-512 // rf) - 128 // rf
        assert c.ii == rf
    assert [costs[rf].cycles for rf in (2, 4, 8, 32)] == sorted(costs[rf].cycles for rf in (2, 4, 8, 32))


def test_resource_strategy_weights_go_to_bram_when_deep():
    co = analytic.coefficients()
    w = np.random.default_rng(3).integers(1000, 30000, (64, 64))
    shallow = analytic.counts(dense(w, reuse=8, strategy="resource"), "virtexuplus", co)
    deep = analytic.counts(dense(w, reuse=256, strategy="resource"), "virtexuplus", co)
    assert shallow["bram18"] == 0 and shallow["rom_bits"] > 0
    assert deep["bram18"] == np.ceil(16 * 16 / 36)  # 16 weights of 16 bits per word, 256 deep


def test_softmax_and_tables_use_block_ram_ports():
    co = analytic.coefficients()
    t = FixedType(18, 8)
    soft = Layer("s", "softmax", 5, 5, t, t, table_size=1024, table_width=18)
    sig = Layer("g", "table", 64, 64, t, t, activation="sigmoid", table_size=1024, table_width=18)
    assert analytic.counts(soft, "virtexuplus", co)["bram18"] == 3 + 1  # 5 exp lookups on 2 ports + 1 inverse
    assert analytic.counts(sig, "virtexuplus", co)["bram18"] == 32  # the hls4ml baselines' 32 BRAM18


def test_latency_adds_up_over_layers():
    co = analytic.coefficients()
    w = np.random.default_rng(4).integers(1000, 30000, (16, 8))
    relu = Layer("r", "activation", 8, 8, X16, X16, activation="relu")
    g = Graph((Layer("in", "input", 16, 16, X16, X16), dense(w), relu, dense(w[:8, :4])), clock_period_ns=5.0)
    costs = analytic.estimate_layers(g, "virtexuplus", co)
    assert [c.kind for c in costs] == ["dense", "activation", "dense"]
    assert analytic.total_cycles(costs, co) == sum(c.cycles for c in costs) + co.cycles_io
    slow = analytic.estimate_layers(Graph(g.layers, clock_period_ns=2.0), "virtexuplus", co)
    assert analytic.total_cycles(slow, co) >= analytic.total_cycles(costs, co)  # a faster clock needs more stages


def test_ebops_count_each_products_input_and_weight_bits():
    """HGQ's EBOPs: sum over products of the input element's bits (sign included) x the weight's significant
    bits (HGQ counts no sign bit for a kernel)."""
    w = np.array([[1, -3], [0, 6]])  # bits: 1, 2, 0 (pruned), 2 (6 = 0b110: its trailing zero is a shift)
    mask = np.array([[1, 0], [3, 5], [2, 3]])  # (keep_negative, bits, integers) of the two input elements
    layer = dataclasses.replace(dense(w), in_mask=mask)
    assert analytic.weight_bits(w).tolist() == [[1, 2], [0, 2]]
    assert analytic.ebops(layer) == 3 * (1 + 2) + 5 * 2
    assert analytic.ebops(dense(w)) == 16 * 5  # without a mask every input element is in_type's 16 bits
    assert analytic.ebops(Layer("a", "activation", 2, 2, X16, X16)) == 0


def test_inputs_quantized_to_zero_bits_are_free():
    """An HGQ quantizer that holds an input element at 0 removes that row's products and adders."""
    co = analytic.coefficients()
    w = np.random.default_rng(2).integers(-31, 32, (6, 4))
    bits = np.array([5, 0, 3, 0, 7, 2])
    mask = np.stack([np.ones(6, int), bits, np.full(6, 2)])
    masked = analytic.counts(dataclasses.replace(dense(w, bits=6, x=FixedType(8, 3)), in_mask=mask), "virtexuplus", co)
    kept = bits > 0
    rows = analytic.counts(dataclasses.replace(dense(w[kept], bits=6, x=FixedType(8, 3)), n_in=int(kept.sum()),
                                               in_mask=mask[:, kept]), "virtexuplus", co)
    for feature in ("adder_bits", "product_bits", "const_add_bits", "dsp"):
        assert masked[feature] == rows[feature], feature
    assert masked["product_bits"] < analytic.counts(dense(w, bits=6, x=FixedType(8, 3)), "virtexuplus", co)[
        "product_bits"]
