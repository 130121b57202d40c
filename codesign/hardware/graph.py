"""What the estimators need from a converted hls4ml model, as plain typed records.

The estimators never touch hls4ml objects: `from_hls4ml` reads, once, the layer kinds,
shapes, precisions (after all of hls4ml's passes), reuse factors, strategies and the
weights as the C++ prints them, so any model hls4ml converts (Keras, QKeras, QONNX)
is estimated the same way, and the analytic model stays a pure function of numbers.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from codesign.errors import CodesignError
from codesign.firmware import fixed, ops
from codesign.firmware.fixed import FixedType


class UnsupportedLayer(CodesignError):
    """A layer the estimator has no cost model for."""


# hls4ml activations implemented as a comparison/multiplexer, and those read from a ROM table.
CHEAP_ACTIVATIONS = {"linear", "relu", "leakyrelu", "leaky_relu", "prelu", "thresholdedrelu", "relu6",
                     "hard_sigmoid", "hard_tanh", "binary_tanh", "ternary_tanh"}
TABLE_ACTIVATIONS = {"sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "gelu", "swish"}
FREE_LAYERS = ("Reshape", "Flatten", "Dropout")


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str  # input | dense | activation | table | softmax | batchnorm | merge | free
    n_in: int
    n_out: int
    in_type: FixedType
    out_type: FixedType
    reuse: int = 1
    strategy: str = "latency"
    activation: str = ""
    weight: np.ndarray | None = field(default=None, compare=False, repr=False)  # (n_in, n_out) integers
    weight_type: FixedType | None = None
    accum: FixedType | None = None
    table_size: int = 0
    table_width: int = 0
    copies: int = 1  # instances in hardware (a time-distributed layer, unrolled over its steps)
    steps: int = 1  # sequential uses of one instance per inference (an LSTM cell over its time steps)
    # (3, n_in) keep_negative, bits, integer bits of each input element, where an HGQ quantizer gives each
    # its own width (None: every element is in_type)
    in_mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def n_mult(self) -> int:
        return self.n_in * self.n_out if self.kind == "dense" else 0

    @property
    def in_bits(self) -> np.ndarray:
        """Width of each input element (an element quantized to 0 bits is a constant 0)."""
        if self.in_mask is not None:
            return np.asarray(self.in_mask[1], dtype=np.int64)
        return np.full(self.n_in, self.in_type.width, dtype=np.int64)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("name", "kind", "n_in", "n_out", "reuse", "strategy", "activation",
                                            "table_size", "table_width", "copies", "steps")}
        for k in ("in_type", "out_type", "weight_type", "accum"):
            t = getattr(self, k)
            d[k] = str(t) if t is not None else None
        for k in ("weight", "in_mask"):
            if getattr(self, k) is not None:
                d[f"{k}_sha1"] = hashlib.sha1(np.ascontiguousarray(getattr(self, k), dtype=np.int64)).hexdigest()
        return d


@dataclass(frozen=True)
class Graph:
    """A firmware model as the estimators see it."""

    layers: tuple[Layer, ...]
    io_type: str = "io_parallel"
    backend: str = "Vitis"
    part: str = ""
    clock_period_ns: float = 5.0

    def key(self) -> str:
        """Content hash: the same candidate on the same part and clock hits the estimate cache."""
        blob = json.dumps({"layers": [lay.to_dict() for lay in self.layers], "io": self.io_type,
                           "backend": self.backend, "part": self.part, "clock": self.clock_period_ns},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _size(var) -> int:
    return int(math.prod(var.shape))


def _precision(layer, name: str) -> FixedType | None:
    t = layer.types.get(name) if hasattr(layer, "types") else None
    return FixedType.from_hls4ml(t.precision) if t is not None else None


def _weights(layer, wt: FixedType) -> np.ndarray:
    w = ops.weight_ints(layer.weights["weight"], wt)
    w = w.T if layer.get_attr("_weights_transposed", False) else w
    return w.reshape(layer.get_attr("n_in"), -1)


# ---------------------------------------------------------------- reading an hls4ml graph: one reader per layer class


@dataclass
class _Reading:
    """What a reader of hls4ml layers sees: the model config, and state carried from layer to layer."""

    cfg: object
    time_steps: int | None = None  # inside a TimeDistributed loop: its number of steps (the dense is unrolled)
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # HGQ quantizer name -> its (3, n) element mask

    def in_mask(self, layer) -> np.ndarray | None:
        return self.masks.get(layer.inputs[0]) if layer.inputs else None

    @staticmethod
    def out_type(layer) -> FixedType:
        return FixedType.from_hls4ml(layer.get_output_variable().type.precision)

    @staticmethod
    def activation(layer) -> str:
        return str(layer.get_attr("activation", "") or "").lower()

    def common(self, layer) -> dict:
        """The Layer fields every non-input layer has: name, sizes, types, reuse factor, strategy."""
        out_var, in_var = layer.get_output_variable(), layer.get_input_variable()
        return dict(name=layer.name, n_in=_size(in_var), n_out=_size(out_var),
                    in_type=FixedType.from_hls4ml(in_var.type.precision), out_type=self.out_type(layer),
                    reuse=int(layer.get_attr("reuse_factor", 1) or 1),
                    strategy=str(layer.get_attr("strategy", None) or self.cfg.get_strategy(layer)).lower())


LayerReader = Callable[[object, _Reading], "list[Layer] | None"]
READERS: dict[str, LayerReader] = {}  # hls4ml layer class name -> reader (None: this variant has no model)


def reads(*hls4ml_classes: str) -> Callable[[LayerReader], LayerReader]:
    """Decorator: the reader of the given hls4ml layer classes into estimator `Layer`s (each class read once)."""

    def add(fn: LayerReader) -> LayerReader:
        taken = [c for c in hls4ml_classes if c in READERS]
        if taken:
            raise ValueError(f"hls4ml class(es) {', '.join(taken)} already have a reader")
        READERS.update(dict.fromkeys(hls4ml_classes, fn))
        return fn

    return add


@reads("Input")
def _read_input(layer, r: _Reading):
    out_var, out_t = layer.get_output_variable(), r.out_type(layer)
    return [Layer(layer.name, "input", _size(out_var), _size(out_var), out_t, out_t)]


@reads("Dense")
def _read_dense(layer, r: _Reading):
    common = r.common(layer)
    wt = _precision(layer, "weight_t")
    if r.time_steps is not None:
        common.update(n_in=int(layer.get_attr("n_in")), n_out=int(layer.get_attr("n_out")))
    return [Layer(kind="dense", weight=_weights(layer, wt), weight_type=wt, accum=_precision(layer, "accum_t"),
                  copies=r.time_steps or 1, in_mask=r.in_mask(layer), **common)]


@reads("LSTM")
def _read_lstm(layer, r: _Reading):
    common = r.common(layer)
    return _lstm_layers(ops.LSTMOp.read(layer, layer.name, r.out_type(layer)), common)


@reads("TimeDistributed")
def _read_time_distributed(layer, r: _Reading):
    common = r.common(layer)
    r.time_steps = int(layer.get_attr("n_time_steps")) if r.time_steps is None else None
    return [Layer(kind="free", **common)]


@reads("Resize", *FREE_LAYERS)
def _read_free(layer, r: _Reading):
    return [Layer(kind="free", **r.common(layer))]


@reads("Activation", "ParametrizedActivation", "PReLU", "TernaryTanh", "HardActivation")
def _read_activation(layer, r: _Reading):
    common, cls, activation = r.common(layer), layer.class_name, r.activation(layer)
    if cls in ("Activation", "ParametrizedActivation", "PReLU", "HardActivation") and activation in CHEAP_ACTIVATIONS:
        return [Layer(kind="activation", activation=activation, **common)]
    if cls in ("Activation", "ParametrizedActivation", "TernaryTanh", "HardActivation") \
            and activation in TABLE_ACTIVATIONS:
        tt = _precision(layer, "table_t")
        return [Layer(kind="table", activation=activation, table_size=int(layer.get_attr("table_size", 1024)),
                      table_width=tt.width if tt else 18, **common)]
    return None  # a softmax activation is read as one (below); any other has no model


@reads("Softmax")
def _read_softmax(layer, r: _Reading):
    """hls4ml's Softmax, or any layer whose activation is softmax."""
    et = _precision(layer, "exp_table_t")
    return [Layer(kind="softmax", activation="softmax", table_size=int(layer.get_attr("table_size", 1024)),
                  table_width=et.width if et else 18, **r.common(layer))]


@reads("FixedPointQuantizer")
def _read_quantizer(layer, r: _Reading):
    """An HGQ quantizer: a rounding and saturation per element, modelled as an element-wise activation."""
    common = r.common(layer)
    r.masks[layer.name] = fixed.element_mask(*layer.mask_kbi, common["n_in"])
    return [Layer(kind="activation", activation="quantizer", **common)]


@reads("BatchNormalization")
def _read_batchnorm(layer, r: _Reading):
    return [Layer(kind="batchnorm", weight_type=_precision(layer, "scale_t"), **r.common(layer))]


@reads("Merge")
def _read_merge(layer, r: _Reading):
    common = r.common(layer)
    if str(layer.get_attr("op", "")).lower() not in ("add", "subtract", "multiply", "average"):
        return None
    return [Layer(kind="merge", activation=str(layer.get_attr("op")).lower(), **common)]


def from_hls4ml(hls_model) -> Graph:
    """Read a converted hls4ml ModelGraph, each layer by the reader of its class (`READERS`); unsupported
    layers are listed in one error."""
    cfg = hls_model.config
    io_type = cfg.get_config_value("IOType")
    layers: list[Layer] = []
    unsupported: list[str] = []
    reading = _Reading(cfg)
    for layer in hls_model.get_layers():
        cls = layer.class_name
        reader = READERS.get(cls)
        read = reader(layer, reading) if reader is not None else None
        activation = reading.activation(layer)
        if read is None and activation == "softmax":
            read = _read_softmax(layer, reading)
        if read is None:
            detail = activation or str(layer.get_attr("op", "") or "")
            unsupported.append(f"{layer.name} ({cls}{' ' + detail if detail else ''})")
        else:
            layers.extend(read)
    if unsupported:
        raise UnsupportedLayer("no resource model for layer(s): " + ", ".join(unsupported)
                               + "; supported: Dense, BatchNormalization, Merge, activations, Softmax (io_parallel)")
    if io_type != "io_parallel":
        raise UnsupportedLayer(f"io_type {io_type!r} is not modelled; expected io_parallel")
    return Graph(tuple(layers), io_type=io_type, backend=str(cfg.get_config_value("Backend") or "Vitis"),
                 part=str(cfg.get_config_value("Part") or ""),
                 clock_period_ns=float(cfg.get_config_value("ClockPeriod") or 5.0))


# ---------------------------------------------------------------- reading an emulator program: one reader per op class


@dataclass
class _ProgramReading:
    n_inputs: int
    setting: Callable[[str, str, object], object]
    layers: list[Layer]
    types: dict[str, FixedType]
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # HGQ quantizer op name -> its (3, n) mask

    def common(self, op) -> dict:
        return dict(name=op.name, in_type=self.types[op.inputs[0]], out_type=op.out,
                    reuse=int(self.setting(op.name, "ReuseFactor", 1)),
                    strategy=str(self.setting(op.name, "Strategy", "Latency")).lower())

    def width(self, op) -> int:
        """Element count of an element-wise op: the size of its (first) input."""
        return _width_of(op, self.layers)


OpReader = Callable[[object, _ProgramReading], "list[Layer]"]
OP_READERS: dict[type, OpReader] = {}  # emulator op class -> reader


def reads_op(*op_classes: type) -> Callable[[OpReader], OpReader]:
    """Decorator: the reader of the given emulator op classes (and their subclasses) into estimator `Layer`s."""

    def add(fn: OpReader) -> OpReader:
        taken = [c.__name__ for c in op_classes if c in OP_READERS]
        if taken:
            raise ValueError(f"op class(es) {', '.join(taken)} already have a reader")
        OP_READERS.update(dict.fromkeys(op_classes, fn))
        return fn

    return add


@reads_op(ops.InputOp)
def _op_input(op, r: _ProgramReading):
    return [Layer(op.name, "input", r.n_inputs, r.n_inputs, op.out, op.out)]


@reads_op(ops.DenseOp, ops.TimeDistributedOp)
def _op_dense(op, r: _ProgramReading):
    dense, copies = (op, 1) if isinstance(op, ops.DenseOp) else (op.dense, op.steps)
    n_in, n_out = dense.weight.shape
    return [Layer(kind="dense", n_in=n_in, n_out=n_out, weight=dense.weight, weight_type=dense.weight_type,
                  accum=dense.accum, copies=copies, in_mask=r.masks.get(op.inputs[0]), **r.common(op))]


@reads_op(ops.LSTMOp)
def _op_lstm(op, r: _ProgramReading):
    return _lstm_layers(op, r.common(op))


@reads_op(ops.IdentityOp, ops.ResizeOp)
def _op_free(op, r: _ProgramReading):
    n = op.new_width * op.channels if isinstance(op, ops.ResizeOp) else r.width(op)
    return [Layer(kind="free", n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.ActivationOp, ops.LeakyReLUOp)
def _op_activation(op, r: _ProgramReading):
    n = r.width(op)
    activation = "leaky_relu" if isinstance(op, ops.LeakyReLUOp) else op.activation
    return [Layer(kind="activation", activation=activation, n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.FixedPointQuantizerOp)
def _op_quantizer(op, r: _ProgramReading):
    n = r.width(op)
    r.masks[op.name] = op.mask(n)
    return [Layer(kind="activation", activation="quantizer", n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.BatchNormOp)
def _op_batchnorm(op, r: _ProgramReading):
    n = r.width(op)
    return [Layer(kind="batchnorm", weight_type=op.scale_type, n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.MergeOp)
def _op_merge(op, r: _ProgramReading):
    n = r.width(op)
    return [Layer(kind="merge", activation=op.op, n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.ThresholdedReLUOp, ops.PReLUOp, ops.HardActivationOp)
def _op_cheap_activation(op, r: _ProgramReading):
    n = r.width(op)
    activation = {ops.ThresholdedReLUOp: "thresholdedrelu", ops.PReLUOp: "prelu"}.get(type(op)) or op.activation
    return [Layer(kind="activation", activation=activation, n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.TableActivationOp)
def _op_table(op, r: _ProgramReading):
    n = r.width(op)
    return [Layer(kind="table", activation=op.activation, table_size=len(op.table), table_width=op.table_type.width,
                  n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.SoftmaxOp)
def _op_softmax(op, r: _ProgramReading):
    n = r.width(op)
    size = len(op.exp_table) if op.exp_table is not None else 1024
    return [Layer(kind="softmax", activation="softmax", table_size=size,
                  table_width=op.exp_type.width if op.exp_type is not None else 18, n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.ConcatenateOp)
def _op_concatenate(op, r: _ProgramReading):
    n = sum(int(np.prod(shape)) for shape in op.shapes)
    return [Layer(kind="free", n_in=n, n_out=n, **r.common(op))]


@reads_op(ops.ConvOp, ops.PoolingOp)
def _op_unmodelled(op, r: _ProgramReading):
    """Read (the emulator runs them) but not yet costed: refused in one line, as their hls4ml layers are."""
    raise UnsupportedLayer(f"no resource model for program op {type(op).__name__} ({op.name}) yet")


def from_program(program, n_inputs: int, hls_config: dict, part: str, clock_period_ns: float,
                 backend: str = "Vitis", precisions: list[dict] | None = None) -> Graph:
    """The graph of a built codesign firmware, read off its emulator program and hls4ml config.

    This is how the search estimates a candidate: the firmware cache holds both, so no hls4ml
    conversion is repeated. Each op is read by the reader of its class (`OP_READERS`).
    """
    model_cfg = hls_config.get("Model", {})
    layer_cfg = hls_config.get("LayerName", {})
    built = {row["layer"]: row for row in (precisions or [])}  # what hls4ml used (it may adjust a reuse factor)
    keys = {"ReuseFactor": "reuse_factor", "Strategy": "strategy"}

    def setting(name: str, key: str, default):
        if keys[key] in built.get(name, {}):
            return built[name][keys[key]]
        return layer_cfg.get(name, {}).get(key, model_cfg.get(key, default))

    reading = _ProgramReading(n_inputs, setting, [], {})
    for op in program.ops:
        reading.types[op.name] = op.out
        reader = next((OP_READERS[c] for c in type(op).__mro__ if c in OP_READERS), None)
        if reader is None:
            raise UnsupportedLayer(f"no resource model for program op {type(op).__name__} ({op.name})")
        reading.layers.extend(reader(op, reading))
    return Graph(tuple(reading.layers), "io_parallel", backend, part, clock_period_ns)


def _lstm_layers(op, common: dict) -> list[Layer]:
    """An LSTM as the hardware of one cell (hls4ml's static LSTM reuses it for every time step).

    Per step: the input and recurrent products (two dense blocks into the 4 gates), the sigmoid
    (3 units) and tanh (2 units) table lookups and the 3 units of state products, in sequence.
    """
    u, state = op.units, op.out
    base = {k: v for k, v in common.items() if k not in ("name", "in_type", "n_in", "n_out")} | {"steps": op.steps}
    name, in_t = common["name"], common["in_type"]
    layers = [Layer(name=f"{name}_x", kind="dense", n_in=op.n_in, n_out=4 * u, in_type=in_t,
                    weight=op.kernel.weight, weight_type=op.kernel.weight_type, accum=op.accum, **base),
              Layer(name=f"{name}_h", kind="dense", n_in=u, n_out=4 * u, in_type=state,
                    weight=op.recurrent.weight, weight_type=op.recurrent.weight_type, accum=op.accum, **base)]
    table = {"table_size": len(op.sigmoid), "table_width": op.table_type.width}
    layers.append(Layer(name=f"{name}_sigmoid", kind="table", activation="sigmoid", n_in=3 * u, n_out=3 * u,
                        in_type=state, **table, **base))
    if op.activation == "tanh":
        layers.append(Layer(name=f"{name}_tanh", kind="table", activation="tanh", n_in=2 * u, n_out=2 * u,
                            in_type=state, **table, **base))
    layers.append(Layer(name=f"{name}_state", kind="merge", activation="multiply", n_in=3 * u, n_out=3 * u,
                        in_type=state, weight_type=state, **base))
    n_out = u * (op.steps if op.return_sequences else 1)
    # the layer's output, for what follows
    layers.append(Layer(**{**common, "in_type": state, "n_in": n_out, "n_out": n_out}, kind="free"))
    return layers


def _width_of(op, layers: list[Layer]) -> int:
    """Element count of an element-wise op: the size of its (first) input."""
    by_name = {la.name: la for la in layers}
    src = by_name.get(op.inputs[0])
    if src is None:
        raise UnsupportedLayer(f"{op.name}: input {op.inputs[0]!r} not found in the program")
    return src.n_out


def from_firmware(fw, part: str | None = None, clock_period_ns: float | None = None) -> Graph:
    """The graph of a built `Firmware` (fresh or from the cache)."""
    info = fw.info
    return from_program(fw.program, len(fw.units.exponents), info.get("hls_config", {}),
                        part or info.get("part", ""), clock_period_ns or float(info.get("clock_period_ns", 5.0)),
                        info.get("options", {}).get("backend", "Vitis"), info.get("precisions"))
