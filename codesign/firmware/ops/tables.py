"""hls4ml's table-based activations (io_parallel): sigmoid, tanh, softplus, softsign, and softmax.

hls4ml fills its lookup tables at run time from float `expf`/`tanhf`/... values converted to the
table type; compiling hls4ml's own `init_*_table` functions (`hls_tables`, g++, cached per
configuration) reproduces every entry bit for bit, where re-deriving them in numpy could differ
in the last bit of a float. What the ops do around the tables (index arithmetic, the adder tree
of softmax's sum, every cast) is integer arithmetic here, as the C++ does it.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import FirmwareError
from codesign.firmware import fixed
from codesign.firmware.csim import require_compiler
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops.base import Conversion, Op, Tensor, common_fields, constant, ints, layer_type, register

# ---------------------------------------------------------------- hls4ml's tables, computed by hls4ml's C++

_PROGRAM = """#include <cstdio>
#include "ap_fixed.h"
#include "nnet_utils/nnet_activation.h"
struct cfg : nnet::activ_config { %(config)s };
int main() {
%(body)s
}
"""

_CACHE: dict = {}


def cpp_type(t: FixedType) -> str:
    return f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_{t.rounding},AP_{t.overflow}>"


def hls_tables(config: str, tables: tuple[tuple[str, FixedType, int], ...]) -> list[np.ndarray]:
    """Tables filled by hls4ml's init functions, as integers of their types.

    `config`: the body of the `cfg` struct the init functions read; `tables`: per table the init
    call (on array `t{i}`), its element type and its size.
    """
    key = (config, tables)
    if key not in _CACHE:
        _CACHE[key] = _compile(config, tables)
    return _CACHE[key]


def _compile(config: str, tables) -> list[np.ndarray]:
    import hls4ml

    templates = Path(hls4ml.__file__).parent / "templates" / "vivado"
    body = []
    for i, (call, t, size) in enumerate(tables):
        body += [f"    static {cpp_type(t)} t{i}[{size}];", f"    {call};",
                 f'    for (int i = 0; i < {size}; i++) std::printf("%a\\n", t{i}[i].to_double());']
    with tempfile.TemporaryDirectory(prefix="codesign-tables-") as tmp:
        src, exe = Path(tmp) / "tables.cpp", Path(tmp) / "tables"
        src.write_text(_PROGRAM % {"config": config, "body": "\n".join(body)})
        proc = subprocess.run([require_compiler(), "-O2", "-std=c++14", f"-I{templates}",
                               f"-I{templates / 'ap_types'}", str(src), "-o", str(exe)], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            raise FirmwareError(f"g++ could not build hls4ml's activation tables: {proc.stderr.strip()[:300]}")
        text = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    values = np.array([float.fromhex(v) for v in text.split()])
    out, start = [], 0
    for _, t, size in tables:
        out.append(fixed.from_float(values[start:start + size], t))
        start += size
    return out


def activation_tables(table_type: FixedType, size: int) -> tuple[np.ndarray, np.ndarray]:
    """hls4ml's sigmoid and tanh tables (what its LSTM reads) as table_t integers."""
    s, t = hls_tables(f"typedef {cpp_type(table_type)} table_t;",
                      ((f"nnet::init_sigmoid_table<cfg, {size}>(t0)", table_type, size),
                       (f"nnet::init_tanh_table<cfg, {size}>(t1)", table_type, size)))
    return s, t


def scaled_int(v: np.ndarray, frac: int, scale: int) -> np.ndarray:
    """`int(data * scale)` of a fixed-point value with `frac` fractional bits: int() truncates toward zero."""
    q = np.asarray(v, dtype=object if np.asarray(v).dtype == object else np.int64) * scale
    return np.where(q >= 0, q >> frac, -((-q) >> frac))


def table_index(v: np.ndarray, frac: int, scale: int, size: int) -> np.ndarray:
    """`int index = data * table_size / range + table_size / 2`, clipped to the table."""
    return np.clip(scaled_int(v, frac, scale) + size // 2, 0, size - 1).astype(np.int64)


def top_bits(v: np.ndarray, t: FixedType, n: int) -> np.ndarray:
    """`x(x.width - 1, x.width - n)`: the top n bits of a value's bit pattern, as an unsigned index."""
    u = np.asarray(v, dtype=object if np.asarray(v).dtype == object else np.int64) % (1 << t.width)
    return np.asarray(u >> (t.width - n), dtype=np.int64)


# ---------------------------------------------------------------- element-wise tables

# function -> the input range its table spans: index = int(x * size / range) + size / 2 (elu, selu: the
# negative half only, index = int(x * size / -8), and x itself, or lambda * x, where x >= 0)
TABLE_RANGE = {"sigmoid": 16, "tanh": 8, "softplus": 16, "softsign": 16, "elu": 8, "selu": 8}
SELU_LAMBDA_T = FixedType(16, 1, False)  # nnet::selu's `ap_ufixed<16, 1> lambda = 1.0507009873554805`
SELU_LAMBDA = constant(1.0507009873554805, SELU_LAMBDA_T)


@register()
@dataclass
class TableActivationOp(Op):
    """sigmoid / tanh / softplus / softsign: `res = table[clip(int(x * size / range) + size / 2)]`;
    elu: `x >= 0 ? x : alpha * table[min(int(x * size / -8), size - 1)]` (alpha in param_t); selu likewise,
    with `lambda * x` above 0 and no alpha."""

    activation: str = "sigmoid"
    table_type: FixedType = None
    table: np.ndarray = None  # table_t integers
    alpha: int | None = None  # elu's, in param_type
    param_type: FixedType | None = None

    def run(self, env):
        x = env[self.inputs[0]]
        size, tt = len(self.table), self.table_type
        if self.activation not in ("elu", "selu"):
            idx = table_index(x.values, x.frac, size // TABLE_RANGE[self.activation], size)
            return Tensor(fixed.cast(self.table[idx], tt.frac, self.out, bits_in=fixed.signed_bits(tt)), self.out)
        idx = np.clip(scaled_int(-np.asarray(x.values), x.frac, size // 8), 0, size - 1).astype(np.int64)
        entry = self.table[idx]
        if self.activation == "elu":
            neg = fixed.cast(entry * self.alpha, tt.frac + self.param_type.frac, self.out,
                             bits_in=fixed.signed_bits(tt) + fixed.signed_bits(self.param_type))
            pos = fixed.cast(x.values, x.frac, self.out, bits_in=fixed.signed_bits(x.type))
        else:
            neg = fixed.cast(entry, tt.frac, self.out, bits_in=fixed.signed_bits(tt))
            bits = fixed.signed_bits(x.type) + SELU_LAMBDA_T.width + 1
            v = x.values.astype(object) if fixed.needs_object(bits) else x.values
            pos = fixed.cast(v * SELU_LAMBDA, x.frac + SELU_LAMBDA_T.frac, self.out, bits_in=bits)
        return Tensor(np.where(x.values >= 0, pos, neg), self.out)

    def to_dict(self):
        extra = {} if self.alpha is None else {"alpha": int(self.alpha), "param_type": self.param_type.to_dict()}
        return {**super().to_dict(), "activation": self.activation, "table_type": self.table_type.to_dict(),
                "table": self.table.tolist(), **extra}

    @classmethod
    def from_dict(cls, d: dict) -> TableActivationOp:
        extra = {"alpha": d["alpha"], "param_type": FixedType(**d["param_type"])} if "alpha" in d else {}
        return cls(**common_fields(d), activation=d["activation"], table_type=FixedType(**d["table_type"]),
                   table=ints(d["table"]), **extra)

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        activation = str(layer.get_attr("activation")).lower()
        size = int(layer.get_attr("table_size", 1024))
        if activation not in TABLE_RANGE or size % TABLE_RANGE[activation]:
            return None
        t = layer_type(layer, "table_t")
        (table,) = hls_tables(f"typedef {cpp_type(t)} table_t;",
                              ((f"nnet::init_{activation}_table<cfg, {size}>(t0)", t, size),))
        extra = {}
        if activation == "elu":  # hls4ml's ELU layer: alpha printed into the call, converted to param_t
            pt = layer_type(layer, "param_t")
            extra = {"alpha": constant(layer.get_attr("activ_param", 1.0), pt), "param_type": pt}
        return cls(name, list(layer.inputs), out, activation=activation, table_type=t, table=table, **extra)


# ---------------------------------------------------------------- softmax

LEGACY_TABLE_T = FixedType(18, 8)  # nnet::activ_config::table_t


def _floorlog2(n: int) -> int:
    return 0 if n < 2 else 1 + _floorlog2(n // 2)


def reduce_tree(columns: list[np.ndarray], op) -> np.ndarray:
    """hls4ml's `reduce<T, N, Op>`: a balanced tree, the left part the largest power of two below N."""
    n = len(columns)
    if n == 1:
        return columns[0]
    if n == 2:
        return op(columns[0], columns[1])
    left = 1 << _floorlog2(n - 1)
    return op(reduce_tree(columns[:left], op), reduce_tree(columns[left:], op))


def _pow2_bits(size: int) -> int:
    return max(1, math.ceil(math.log2(size)))


@register("Softmax")
@dataclass
class SoftmaxOp(Op):
    """hls4ml's softmax over one axis of n_slice values (io_parallel): latency, stable, legacy or argmax.

    latency: e_i = exp_table[top bits of x_i] in accum_t, summed by hls4ml's adder tree in accum_t,
    the sum cast to inv_inp_t, 1/sum = inv_table[top bits of the sum], res_i = e_i * (1/sum).
    stable: the same on x_max - x_i (inp_norm_t, the exp table of -x). legacy: sums of
    exp(x_j - x_i) through a [-8, 8) table, inverted through a [0, 64) table. argmax: one-hot.
    """

    implementation: str = "latency"
    in_type: FixedType = None
    accum: FixedType = None
    exp_type: FixedType = None
    inv_type: FixedType = None
    inv_in_type: FixedType = None
    norm_type: FixedType = None
    exp_table: np.ndarray = None
    inv_table: np.ndarray = None

    def run(self, env):
        x = env[self.inputs[0]]
        v = np.asarray(x.values)
        if self.implementation == "argmax":
            first = np.argmax(v == v.max(axis=1, keepdims=True), axis=1)  # the first maximum, as `>` keeps it
            res = np.zeros(v.shape, dtype=np.int64)
            res[np.arange(len(v)), first] = constant(1.0, self.out)
            return Tensor(res, self.out)
        if self.implementation == "legacy":
            return Tensor(self._legacy(v, x.type), self.out)
        if self.implementation == "stable":
            d = v.max(axis=1, keepdims=True) - v  # exact; then assigned to inp_norm_t
            v, t = fixed.cast(d, x.frac, self.norm_type, bits_in=fixed.signed_bits(x.type) + 1), self.norm_type
        else:
            t = x.type
        e = self.exp_table[top_bits(v, t, _pow2_bits(len(self.exp_table)))]
        e = fixed.cast(e, self.exp_type.frac, self.accum, bits_in=fixed.signed_bits(self.exp_type))
        ab = fixed.signed_bits(self.accum)
        total = reduce_tree([e[:, i] for i in range(e.shape[1])],
                            lambda a, b: fixed.cast(a + b, self.accum.frac, self.accum, bits_in=ab + 1))
        total = fixed.cast(total, self.accum.frac, self.inv_in_type, bits_in=ab)
        inv = self.inv_table[top_bits(total, self.inv_in_type, _pow2_bits(len(self.inv_table)))]
        bits = ab + fixed.signed_bits(self.inv_type)
        if fixed.needs_object(bits):
            e, inv = e.astype(object), inv.astype(object)
        return Tensor(fixed.cast(e * inv[:, None], self.accum.frac + self.inv_type.frac, self.out, bits_in=bits),
                      self.out)

    def _legacy(self, v: np.ndarray, t: FixedType) -> np.ndarray:
        n, size_e, size_i = v.shape[1], len(self.exp_table), len(self.inv_table)
        table_t = self.exp_type
        one = constant(1.0, table_t)
        tb = fixed.signed_bits(table_t)
        acc = np.zeros(v.shape, dtype=np.int64)
        for i in range(n):
            for j in range(n):
                term = (np.full(len(v), one) if i == j else
                        self.exp_table[table_index(v[:, j] - v[:, i], t.frac, size_e // 16, size_e)])
                acc[:, i] = fixed.cast(acc[:, i] + term, table_t.frac, table_t, bits_in=tb + 1)
        idx = np.clip(scaled_int(acc, table_t.frac, size_i // 64), 0, size_i - 1).astype(np.int64)
        return fixed.cast(self.inv_table[idx], table_t.frac, self.out, bits_in=tb)

    def to_dict(self):
        types = {k: getattr(self, k).to_dict() for k in ("in_type", "accum", "exp_type", "inv_type", "inv_in_type",
                                                        "norm_type") if getattr(self, k) is not None}
        tables = {k: getattr(self, k).tolist() for k in ("exp_table", "inv_table") if getattr(self, k) is not None}
        return {**super().to_dict(), "implementation": self.implementation, **types, **tables}

    @classmethod
    def from_dict(cls, d: dict) -> SoftmaxOp:
        types = {k: FixedType(**d[k]) for k in ("in_type", "accum", "exp_type", "inv_type", "inv_in_type",
                                                "norm_type") if k in d}
        tables = {k: ints(d[k]) for k in ("exp_table", "inv_table") if k in d}
        return cls(**common_fields(d), implementation=d["implementation"], **types, **tables)

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        impl = str(layer.get_attr("implementation", "stable")).lower()
        if int(layer.get_attr("n_inner", 1)) != 1 or int(layer.get_attr("n_outer", 1)) != 1 or \
                impl not in ("latency", "stable", "legacy", "argmax"):
            return None
        in_type = FixedType.from_hls4ml(layer.get_input_variable().type.precision)
        if impl == "argmax":
            return cls(name, list(layer.inputs), out, implementation=impl, in_type=in_type)
        size = int(layer.get_attr("table_size", 1024))
        exp_size = int(layer.get_attr("exp_table_size", size))
        inv_size = int(layer.get_attr("inv_table_size", size))
        exp_t, inv_t = layer_type(layer, "exp_table_t"), layer_type(layer, "inv_table_t")
        if impl == "legacy":
            # both tables in table_t, which hls4ml's softmax config leaves at nnet::activ_config's ap_fixed<18,8>
            if exp_size % 16 or inv_size % 64:
                return None
            t = LEGACY_TABLE_T
            e, i = hls_tables(_softmax_config(layer, t, t, t, t, t, exp_size, inv_size),
                              ((f"nnet::init_exp_table_legacy<cfg, {exp_size}>(t0)", t, exp_size),
                               (f"nnet::init_invert_table_legacy<cfg, {inv_size}>(t1)", t, inv_size)))
            return cls(name, list(layer.inputs), out, implementation=impl, in_type=in_type, exp_type=t, inv_type=t,
                       exp_table=e, inv_table=i)
        accum = layer_type(layer, "accum_t")
        inv_in = exp_t if layer.types["inv_inp_t"].name == "model_default_t" else layer_type(layer, "inv_inp_t")
        norm = None
        data_t = in_type
        if impl == "stable":  # as hls4ml's SoftmaxConfigTemplate derives them
            if "inp_norm_t" in layer.attributes:
                norm = layer_type(layer, "inp_norm_t")
            else:
                norm = FixedType(in_type.width - in_type.signed, in_type.integer - in_type.signed, False)
                if in_type.signed:
                    exp_size = min(inv_size, 2 ** norm.width)
            data_t = norm
        if not _is_pow2(exp_size) or not _is_pow2(inv_size) or _pow2_bits(exp_size) > data_t.width or \
                _pow2_bits(inv_size) > inv_in.width:
            return None
        negative = "true" if impl == "stable" else "false"
        e, i = hls_tables(_softmax_config(layer, data_t, exp_t, inv_t, inv_in, accum, exp_size, inv_size),
                          ((f"nnet::init_exp_table<cfg::data_t, cfg>(t0, {negative})", exp_t, exp_size),
                           ("nnet::init_invert_table<cfg::inv_inp_t, cfg>(t1)", inv_t, inv_size)))
        return cls(name, list(layer.inputs), out, implementation=impl, in_type=in_type, accum=accum, exp_type=exp_t,
                   inv_type=inv_t, inv_in_type=inv_in, norm_type=norm, exp_table=e, inv_table=i)


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _softmax_config(layer, data_t, exp_t, inv_t, inv_in, accum, exp_size: int, inv_size: int) -> str:
    scale = float(layer.get_attr("exp_scale", 1.0))
    return (f"typedef {cpp_type(data_t)} data_t; typedef {cpp_type(exp_t)} exp_table_t; "
            f"typedef {cpp_type(inv_t)} inv_table_t; typedef {cpp_type(inv_in)} inv_inp_t; "
            f"typedef {cpp_type(accum)} accum_t; "
            f"static const unsigned exp_table_size = {exp_size}; static const unsigned inv_table_size = {inv_size}; "
            f"static constexpr float exp_scale = {scale!r};")
