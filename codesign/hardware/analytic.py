"""Analytic resource and latency model of hls4ml's io_parallel Latency/Resource strategies.

Per layer, the model counts what the generated C++ asks HLS to build — multipliers,
adder-tree bits, multiplexers, registers, ROM tables — and turns the counts into LUT,
FF, DSP and BRAM with coefficients fitted to real Vivado/Vitis HLS reports
(`codesign/hardware/calibration/coefficients.yaml`, written by `codesign.hardware.calibrate`).

Weight values matter and are used: a zero weight costs nothing, a power of two is a
shift, and at reuse factor 1 (weights are constants) HLS maps a multiplication to a
DSP only when both operands are wide enough and the constant has enough significant
bits; otherwise it becomes shift-and-add logic, costed by the constant's canonical
signed digits. With reuse factor > 1 the weights are read from arrays, so the shared
multipliers are generic and only the declared widths matter.

Each layer kind has its `CostModel` (`COST_MODELS`, registered with `@cost_model("kind")`).

The result is what the HLS report would say; `Coefficients.synth_ratio` maps it to what
Vivado logic synthesis reports (LUT about half, DSP equal), which is what must fit.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field

from codesign import config as cfg
from codesign.config import Frozen
from codesign.hardware.graph import Graph, Layer, UnsupportedLayer

CALIBRATION_FILE = Path(__file__).with_name("calibration") / "coefficients.yaml"
RESOURCES = ("lut", "ff", "dsp", "bram18")
# DSP slice multiplier operand widths (signed): DSP48E2 (UltraScale(+)) 27x18, DSP48E1 (7-series) 25x18.
DSP_OPERANDS = {"virtexuplus": (27, 18), "kintexuplus": (27, 18), "zynquplus": (27, 18), "kintexu": (27, 18),
                "virtexu": (27, 18), "virtex7": (25, 18), "zynq7": (25, 18), "kintex7": (25, 18),
                "artix7": (25, 18)}
BRAM18_BITS = 18 * 1024


class ErrorBand(Frozen):
    """Validated relative error of one resource: |estimate/real - 1| over the calibration reports."""

    median: float
    worst: float
    n: int


LUT_FEATURES = ("const_add_bits", "mult_bits", "adder_bits", "mux_bits", "unit_bits", "rom_bits", "act_bits",
                "table_lookups", "layers")
FF_FEATURES = ("reg_product_bits", "reg_pipe_bits", "mux_bits")


class Coefficients(Frozen):
    dsp_min_width: int = Field(10, description="both declared operand widths at least this for a DSP multiplier")
    dsp_min_const_bits: int = Field(4, description="significant bits a constant weight needs to get a DSP")
    lut: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(LUT_FEATURES, 1.0),
                                  description="LUTs per unit of each LUT feature")
    ff: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(FF_FEATURES, 0.5))
    dsp_per_softmax_output: float = 1.0
    bram_min_depth: int = Field(128, description="weight arrays at least this deep go to block RAM")
    t_mult_ns: float = 2.0
    t_add_ns: float = 0.7
    cycles_softmax: int = 3
    cycles_table: int = 1
    cycles_per_reuse: float = 1.0
    cycles_io: int = Field(0, description="registers at the top function's ports")
    synth_ratio: dict[str, float] = {"lut": 0.5, "ff": 0.7, "dsp": 1.0, "bram18": 0.85}
    hls_error: dict[str, ErrorBand] = {}
    synth_error: dict[str, ErrorBand] = {}
    latency_error: ErrorBand | None = None
    da_error: dict[str, ErrorBand] = Field(default_factory=dict, description="da4ml vs yosys synth_xilinx")
    source: str = ""


@lru_cache(maxsize=4)
def _load(path: str) -> Coefficients:
    return cfg.load(Coefficients, Path(path))


def coefficients(path: str | Path | None = None) -> Coefficients:
    return _load(str(path or CALIBRATION_FILE))


# ---------------------------------------------------------------- weight arithmetic (pure numpy)


def _trailing_zeros(a: np.ndarray) -> np.ndarray:
    low = a.astype(np.int64) & -a.astype(np.int64)  # the lowest set bit (0 for zero)
    return _bit_length(low) - (low > 0)


def _bit_length(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return np.where(a > 0, np.floor(np.log2(np.maximum(a, 1))) + 1, 0).astype(np.int64)


def significant_bits(w: np.ndarray) -> np.ndarray:
    """Bits between the highest and lowest set bit of |w|: 1 for powers of two, 0 for zero."""
    a = np.abs(w.astype(np.int64))
    return _bit_length(a >> _trailing_zeros(a))


def csd_digits(w: np.ndarray) -> np.ndarray:
    """Non-zero digits of |w| in canonical signed-digit form: the adders of a shift-and-add multiplier + 1."""
    a = np.abs(w.astype(np.int64))
    # popcount of (a XOR 3a) >> 1 ... the standard NAF weight: popcount(a ^ (3a)) // ... via x = a, y = 3a
    x3 = a * 3
    diff = (a ^ x3) >> 1
    count = np.zeros_like(a)
    while np.any(diff):
        count += diff & 1
        diff >>= 1
    return count


# ---------------------------------------------------------------- per-layer counts


class Counts(dict):
    """Raw counts of one layer: LUT/FF features, DSPs, BRAM18s, adder-tree depth."""


def _zero_counts() -> Counts:
    return Counts({k: 0.0 for k in (*LUT_FEATURES, *FF_FEATURES, "dsp", "bram18", "depth", "softmax_outputs",
                                    "product_bits", "live_bits", "cycles")})


# ---------------------------------------------------------------- one cost model per layer kind


class CostModel:
    """The analytic model of one layer kind: its raw counts, its pipeline stages and its initiation interval."""

    estimated = True  # False: the kind costs nothing and is left out of an estimate (inputs, reshapes)

    def counts(self, layer: Layer, family: str, co: Coefficients) -> Counts:
        return _zero_counts()

    def cycles(self, layer: Layer, clock_ns: float, co: Coefficients, depth: float = 0) -> int:
        return 0

    def ii(self, layer: Layer) -> int:
        return 1


COST_MODELS: dict[str, CostModel] = {}  # Layer.kind -> its model


def cost_model(*kinds: str):
    """Class decorator: the cost model of the given layer kinds (one model per kind)."""

    def add(cls: type[CostModel]) -> type[CostModel]:
        taken = [k for k in kinds if k in COST_MODELS]
        if taken:
            raise ValueError(f"layer kind(s) {', '.join(taken)} already have a cost model")
        model = cls()
        COST_MODELS.update(dict.fromkeys(kinds, model))
        return cls

    return add


def cost_model_of(layer: Layer) -> CostModel:
    model = COST_MODELS.get(layer.kind)
    if model is None:
        raise UnsupportedLayer(f"no cost model for layer kind {layer.kind!r} ({layer.name}); "
                               f"modelled: {', '.join(sorted(COST_MODELS))}")
    return model


def weight_bits(w: np.ndarray) -> np.ndarray:
    """Bits of each integer weight as HGQ counts them (`kernel_bw_exact`): its significant bits, no sign bit."""
    return significant_bits(np.asarray(w, dtype=np.int64))


def ebops(layer: Layer) -> float:
    """Effective bit operations of a dense layer (HGQ's resource proxy): sum over its products of
    input-element bits (sign included) x weight bits; 0 for every other kind. Over an HGQ proxy's
    layers this is HGQ's own count (`trace_minmax`), exactly."""
    if layer.kind != "dense":
        return 0.0
    return float(layer.in_bits @ weight_bits(layer.weight).sum(axis=1)) * layer.copies


def dense_counts(layer: Layer, family: str, co: Coefficients) -> Counts:
    w = np.asarray(layer.weight)
    wb = layer.weight_type.width
    # An HGQ layer's inputs each have their own width (0: a constant zero, whose products are free).
    xb_row = layer.in_bits[:, None] * np.ones((1, w.shape[1]), dtype=np.int64)
    w = np.where(xb_row > 0, w, 0)
    xb = int(layer.in_bits.max(initial=1))
    acc_b = layer.accum.width if layer.accum is not None else xb + wb
    nz = w != 0
    n_nz = int(nz.sum())
    terms = nz.sum(axis=0) + 1  # + bias
    adds = np.maximum(terms - 1, 0)
    add_width = np.minimum(acc_b, xb + wb + np.ceil(np.log2(np.maximum(terms, 2))))
    c = _zero_counts()
    c.update(adder_bits=float((adds * add_width).sum()), live_bits=float(layer.n_out * acc_b),
             depth=float(math.ceil(math.log2(max(int(terms.max()), 2)))), layers=1.0)
    a, b = DSP_OPERANDS.get(family, (27, 18))
    wide = min(xb, wb) >= co.dsp_min_width
    dsp_each = math.ceil(max(xb, wb) / a) * math.ceil(min(xb, wb) / b)
    rf = max(1, min(layer.reuse, layer.n_mult))
    if rf == 1 and layer.strategy == "latency":
        wnz = w[nz]
        sig = significant_bits(wnz)
        mult = sig > 1  # powers of two are shifts
        to_dsp = mult & wide & (sig >= co.dsp_min_const_bits)
        to_lut = mult & ~to_dsp
        # shift-and-add: (digits - 1) adders, each as wide as the shifted input plus the constant
        digits = csd_digits(wnz[to_lut])
        xnz = xb_row[nz]
        c.update(dsp=float(to_dsp.sum() * dsp_each), product_bits=float((xnz + wb).sum()),
                 const_add_bits=float(((digits - 1) * (xnz[to_lut] + _bit_length(np.abs(wnz[to_lut])))).sum()))
    else:
        # hls4ml's multiplier_limit: ceil(n_in*n_out / RF) - floor(n_zeros / RF) shared multipliers
        units = math.ceil(layer.n_mult / rf) - (layer.n_mult - n_nz) // rf
        c.update(dsp=float(units * dsp_each) if wide else 0.0, mult_bits=0.0 if wide else float(units * xb * wb),
                 mux_bits=float(units * (xb + wb) * (rf - 1)), product_bits=float(units * (xb + wb)),
                 unit_bits=float(units * (xb + wb)))
        if layer.strategy == "resource":
            block = math.ceil(layer.n_mult / rf)
            if rf >= co.bram_min_depth:
                # array_reshape: one block*wb-bit word per cycle, RF words deep (BRAM18 as 512 x 36)
                c["bram18"] = float(math.ceil(block * wb / 36) * math.ceil(rf / 512))
            else:
                c["rom_bits"] = float(block * wb * math.ceil(rf / 64))  # LUTRAM: 64 bits per LUT6
    return c


@cost_model("dense")
class DenseCost(CostModel):
    """Multipliers (DSP or shift-and-add logic, per weight), the adder tree, and the weight storage."""

    def counts(self, layer, family, co):
        return dense_counts(layer, family, co)

    def cycles(self, layer, clock_ns, co, depth=0):
        rf = max(1, min(layer.reuse, layer.n_mult))
        # register boundaries crossed by the multiply and the adder tree
        base = math.floor((co.t_mult_ns + depth * co.t_add_ns) / clock_ns + 1e-9)
        return base + (0 if rf == 1 else math.ceil(co.cycles_per_reuse * (rf - 1)))

    def ii(self, layer):
        return max(1, min(layer.reuse, layer.n_mult))


@cost_model("activation", "merge", "batchnorm")
class ElementwiseCost(CostModel):
    """A comparison/multiplexer or an add per element; a multiplier per element for batchnorm and products."""

    def counts(self, layer, family, co):
        c = _zero_counts()
        c["act_bits"] = float(layer.n_out * layer.out_type.width)
        if layer.kind == "batchnorm" or (layer.kind == "merge" and layer.activation == "multiply"):
            other = (layer.weight_type or layer.in_type).width
            c["dsp"] = float(layer.n_out) if min(layer.in_type.width, other) >= co.dsp_min_width else 0.0
        return c


@cost_model("table")
class TableCost(CostModel):
    """A ROM lookup per element (sigmoid, tanh ...), two per BRAM port pair."""

    def counts(self, layer, family, co):
        c = _zero_counts()
        n, width = layer.n_out, layer.out_type.width
        ii = max(1, layer.reuse)
        per_port = self.per_port(layer)
        c.update(table_lookups=float(n), act_bits=float(n * width), live_bits=float(n * width),
                 bram18=float(math.ceil(n / (2 * ii)) * per_port))
        return c

    @staticmethod
    def per_port(layer: Layer) -> int:
        return math.ceil(layer.table_size * max(layer.table_width, 1) / BRAM18_BITS)

    def cycles(self, layer, clock_ns, co, depth=0):
        return co.cycles_table


@cost_model("softmax")
class SoftmaxCost(TableCost):
    """The exponential table per element, the inverse table once, and a multiplier per output."""

    def counts(self, layer, family, co):
        c = super().counts(layer, family, co)
        c["bram18"] += self.per_port(layer)  # the inverse table, one lookup
        c["softmax_outputs"] = float(layer.n_out)
        return c

    def cycles(self, layer, clock_ns, co, depth=0):
        return co.cycles_softmax


@cost_model("input", "free")
class FreeCost(CostModel):
    """Inputs, reshapes, time-distributed wrappers: wires."""

    estimated = False


def counts(layer: Layer, family: str, co: Coefficients, clock_ns: float = 5.0) -> Counts:
    """All counts of one layer, including its pipeline stages and the registers they imply."""
    model = cost_model_of(layer)
    c = model.counts(layer, family, co)
    c["cycles"] = float(model.cycles(layer, clock_ns, co, c["depth"]))
    # Registers: products are registered when the layer is pipelined at all; the live partial sums
    # (or outputs) are registered once per pipeline stage.
    c["reg_product_bits"] = c["product_bits"] if c["cycles"] > 0 else 0.0
    c["reg_pipe_bits"] = c["cycles"] * c["live_bits"]
    return c


def layer_cycles(layer: Layer, clock_ns: float, co: Coefficients, depth: float = 0) -> int:
    return cost_model_of(layer).cycles(layer, clock_ns, co, depth)


class LayerCost(Frozen):
    name: str
    kind: str
    lut: float
    ff: float
    dsp: float
    bram18: float
    cycles: int
    ii: int


def layer_cost(layer: Layer, family: str, clock_ns: float, co: Coefficients) -> LayerCost:
    """HLS-report-level cost of one layer."""
    c = counts(layer, family, co, clock_ns)
    n = layer.copies
    lut = sum(co.lut.get(k, 0.0) * c[k] for k in LUT_FEATURES) * n
    ff = sum(co.ff.get(k, 0.0) * c[k] for k in FF_FEATURES) * n
    dsp = (c["dsp"] + co.dsp_per_softmax_output * c["softmax_outputs"]) * n
    ii = cost_model_of(layer).ii(layer)
    # A block used `steps` times per inference (an LSTM cell) takes that many passes, and so many
    # times its interval before the next inference; at least one cycle per pass (the state register).
    cycles = int(c["cycles"]) if layer.steps == 1 else layer.steps * max(1, int(c["cycles"]))
    return LayerCost(name=layer.name, kind=layer.kind, lut=lut, ff=ff, dsp=dsp, bram18=c["bram18"] * n,
                     cycles=cycles, ii=ii * layer.steps)


def total_cycles(costs: list[LayerCost], co: Coefficients) -> int:
    """io_parallel layers run one after the other: the latency is the sum of the stages."""
    return sum(c.cycles for c in costs) + co.cycles_io


def estimate_layers(graph: Graph, family: str, co: Coefficients | None = None) -> list[LayerCost]:
    co = co or coefficients()
    return [layer_cost(layer, family, graph.clock_period_ns, co) for layer in graph.layers
            if cost_model_of(layer).estimated]
