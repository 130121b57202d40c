"""The emulator: the generated firmware as a list of fixed-point operations on numpy arrays.

A Program is read off a converted hls4ml ModelGraph — after all of hls4ml's optimizer
passes, with the precisions the C++ is written with and the weights exactly as the
header files print them — so it computes what the firmware computes, bit for bit,
vectorised over events. It serialises to JSON and runs without hls4ml or TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign.errors import FirmwareError
from codesign.firmware import fixed, kernel
from codesign.firmware.fixed import FixedType

FLOAT_EXACT_BITS = 53


class UnsupportedLayer(FirmwareError):
    """An hls4ml layer the emulator does not implement."""


@dataclass
class Tensor:
    values: np.ndarray  # integers (int64, or object for > 62-bit values)
    type: FixedType

    @property
    def frac(self) -> int:
        return self.type.frac


def _sum_bits(x_bits: int, w_bits: int, n: int) -> int:
    return x_bits + w_bits + max(1, math.ceil(math.log2(max(n, 2))))


def _matmul_exact(x: np.ndarray, w: np.ndarray, x_bits: int, w_bits: int) -> np.ndarray:
    """x @ w for integer arrays, exactly: as float64 (BLAS) when every partial sum stays below 2^53.

    The float64 result holds exact integers; `fixed.cast` converts it like a double.
    """
    bits = _sum_bits(x_bits, w_bits, w.shape[0])
    if bits <= FLOAT_EXACT_BITS:
        return x.astype(np.float64) @ w.astype(np.float64)
    if not fixed.needs_object(bits):
        return x.astype(np.int64) @ w.astype(np.int64)
    return np.asarray(x, dtype=object) @ np.asarray(w, dtype=object)


@dataclass
class Op:
    name: str
    inputs: list[str]
    out: FixedType

    def run(self, env: dict[str, Tensor]) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"op": type(self).__name__, "name": self.name, "inputs": self.inputs, "out": self.out.to_dict()}


@dataclass
class InputOp(Op):
    """Float inputs converted to the input type, as the C-sim bridge does (double -> input_t)."""

    def run_float(self, x: np.ndarray) -> Tensor:
        return Tensor(fixed.from_float(x, self.out), self.out)


@dataclass
class DenseOp(Op):
    weight: np.ndarray = None  # (n_in, n_out) integers
    weight_type: FixedType = None
    bias: np.ndarray = None  # (n_out,)
    bias_type: FixedType = None
    accum: FixedType = None

    def run(self, env):
        x = env[self.inputs[0]]
        fa, fb = self.accum.frac, self.bias_type.frac
        prod_frac = x.frac + self.weight_type.frac
        xb, wb, bb = (fixed.signed_bits(t) for t in (x.type, self.weight_type, self.bias_type))
        acc_int = self.accum.integer if self.accum.signed else self.accum.integer + 1  # as signed integer bits
        # Each product and the bias are assigned to accum_t, then summed in accum_t. When every
        # assignment is exact the layer is one exact matrix product (wrapped once if accum_t wraps).
        products_exact = fa >= prod_frac and xb + wb - prod_frac <= acc_int
        bias_exact = fa >= fb and bb - fb <= acc_int
        if not (products_exact and bias_exact and self.accum.overflow == "WRAP"):
            truncating = self.accum.rounding == "TRN" and fa <= prod_frac and not fixed.needs_object(
                xb + wb + _sum_bits(0, 0, self.weight.shape[0]))
            acc = self._truncated(x) if truncating else self._sequential(x)
            return Tensor(fixed.cast(acc, fa, self.out, bits_in=fixed.signed_bits(self.accum)), self.out)
        frac = max(prod_frac, fb)
        sum_bits = self._sum_bound_bits(x.type, frac)
        acc = _matmul_exact(x.values, self.weight, xb, wb)
        if sum_bits - frac <= acc_int and sum_bits <= FLOAT_EXACT_BITS:
            # No wrap-around possible: the result is the exact sum, converted once (in float64, exactly).
            total = np.ldexp(np.asarray(acc, dtype=np.float64), frac - prod_frac) + \
                np.ldexp(self.bias.astype(np.float64), frac - fb)
            return Tensor(fixed.cast(total, frac, self.out, bits_in=sum_bits), self.out)
        acc = np.rint(acc).astype(np.int64) if acc.dtype.kind == "f" else acc
        acc = _shift_to(acc, prod_frac, fa, _sum_bits(xb, wb, self.weight.shape[0]))
        bias = fixed.cast(self.bias, fb, self.accum, bits_in=bb)
        # Same fraction bits: this cast only wraps, once, to the accumulator width (two's complement is modular).
        total = fixed.cast(acc + bias[None, :], fa, self.accum, bits_in=max(sum_bits + fa - frac, self.accum.width))
        return Tensor(fixed.cast(total, fa, self.out, bits_in=fixed.signed_bits(self.accum)), self.out)

    def _sum_bound_bits(self, x_type: FixedType, frac: int) -> int:
        """Signed bits of the largest |sum + bias| any input of `x_type` can produce, at scale 2^-frac."""
        key = (x_type, frac)
        cache = self.__dict__.setdefault("_bounds", {})
        if key not in cache:
            x_max = max(-x_type.int_min, x_type.int_max)
            column = np.abs(self.weight).astype(object).sum(axis=0)  # exact Python integers
            prod_frac = x_type.frac + self.weight_type.frac
            bound = max(int(c) * x_max * 2 ** (frac - prod_frac) + abs(int(b)) * 2 ** (frac - self.bias_type.frac)
                        for c, b in zip(column, self.bias))
            cache[key] = bound.bit_length() + 1
        return cache[key]

    def _truncated(self, x: Tensor) -> np.ndarray:
        """A truncating accumulator (each product floored to accum_t): all products at once.

        Rows whose products could reach the accumulator's range in some partial sum (so that
        the order of saturation matters) are recomputed in the template's order.
        """
        shift = x.frac + self.weight_type.frac - self.accum.frac
        bias = fixed.cast(self.bias, self.bias_type.frac, self.accum, bits_in=fixed.signed_bits(self.bias_type))
        n_in, n_out = self.weight.shape
        w = self.weight.astype(np.int64)[None, :, :]
        out = np.empty((len(x.values), n_out), np.int64)
        step = max(1, (1 << 22) // max(1, n_in * n_out))
        for s in range(0, len(x.values), step):
            xc = x.values[s:s + step].astype(np.int64)
            prods = (xc[:, :, None] * w) >> shift  # arithmetic shift: floor, as ap_fixed truncation
            acc = prods.sum(axis=1) + bias[None, :]
            reach = np.abs(prods).sum(axis=1) + np.abs(bias)[None, :]
            unsafe = (reach > self.accum.int_max).any(axis=1)
            if unsafe.any():
                acc[unsafe] = self._sequential(Tensor(x.values[s:s + step][unsafe], x.type))
            out[s:s + step] = acc
        return out

    def _sequential(self, x: Tensor) -> np.ndarray:
        """acc = bias; acc += (accum_t)(x_i * w_i) in the latency template's order, for lossy accumulators."""
        fa = self.accum.frac
        bias = fixed.cast(self.bias, self.bias_type.frac, self.accum, bits_in=fixed.signed_bits(self.bias_type))
        acc = np.broadcast_to(bias, (len(x.values), self.weight.shape[1])).copy()
        wide = fixed.needs_object(fixed.signed_bits(x.type) + fixed.signed_bits(self.weight_type))
        for i in range(self.weight.shape[0]):
            xi = x.values[:, i:i + 1]
            wi = self.weight[i:i + 1, :]
            prod = (xi.astype(object) * wi.astype(object)) if wide else xi.astype(np.int64) * wi.astype(np.int64)
            prod = fixed.cast(prod, x.frac + self.weight_type.frac, self.accum,
                              bits_in=fixed.signed_bits(x.type) + fixed.signed_bits(self.weight_type))
            acc = fixed.cast(acc + prod, fa, self.accum, bits_in=fixed.signed_bits(self.accum) + 1)
        return acc

    def to_dict(self):
        return {**super().to_dict(), "weight": self.weight.tolist(), "weight_type": self.weight_type.to_dict(),
                "bias": self.bias.tolist(), "bias_type": self.bias_type.to_dict(), "accum": self.accum.to_dict()}


def _shift_to(v: np.ndarray, frac_in: int, frac_out: int, bits: int) -> np.ndarray:
    if frac_out == frac_in:
        return v
    if frac_out > frac_in:
        shift = frac_out - frac_in
        if fixed.needs_object(bits + shift) and v.dtype != object:
            v = v.astype(object)
        return v << shift
    raise AssertionError("only exact (widening) shifts here")


@dataclass
class ActivationOp(Op):
    """linear / relu: `res = data` (or 0 for relu when data <= 0), assigned to the result type."""

    activation: str = "linear"

    def run(self, env):
        x = env[self.inputs[0]]
        v = x.values
        if self.activation == "relu":
            v = np.where(v > 0, v, 0)
        return Tensor(fixed.cast(v, x.frac, self.out, bits_in=fixed.signed_bits(x.type)), self.out)

    def to_dict(self):
        return {**super().to_dict(), "activation": self.activation}


@dataclass
class LeakyReLUOp(Op):
    """`res = data > 0 ? data : alpha * data`, alpha held in param_t."""

    alpha: int = 0
    param_type: FixedType = None

    def run(self, env):
        x = env[self.inputs[0]]
        pos = fixed.cast(x.values, x.frac, self.out, bits_in=fixed.signed_bits(x.type))
        bits = fixed.signed_bits(x.type) + fixed.signed_bits(self.param_type)
        v = x.values.astype(object) if fixed.needs_object(bits) else x.values
        neg = fixed.cast(v * self.alpha, x.frac + self.param_type.frac, self.out, bits_in=bits)
        return Tensor(np.where(x.values > 0, pos, neg), self.out)

    def to_dict(self):
        return {**super().to_dict(), "alpha": int(self.alpha), "param_type": self.param_type.to_dict()}


@dataclass
class BatchNormOp(Op):
    """`res = data * scale + bias` (exact), assigned to the result type."""

    scale: np.ndarray = None
    scale_type: FixedType = None
    bias: np.ndarray = None
    bias_type: FixedType = None

    def run(self, env):
        x = env[self.inputs[0]]
        bits = fixed.signed_bits(x.type) + fixed.signed_bits(self.scale_type)
        v = x.values.astype(object) if fixed.needs_object(bits + 1) else x.values
        prod = v * self.scale[None, :]
        frac = x.frac + self.scale_type.frac
        b = self.bias
        if self.bias_type.frac > frac:
            prod = _shift_to(prod, frac, self.bias_type.frac, bits)
            frac = self.bias_type.frac
        else:
            b = _shift_to(b.astype(object) if fixed.needs_object(bits) else b, self.bias_type.frac, frac,
                          self.bias_type.width)
        bound = max(bits + max(0, frac - x.frac - self.scale_type.frac),
                    fixed.signed_bits(self.bias_type) + max(0, frac - self.bias_type.frac)) + 1
        return Tensor(fixed.cast(prod + b[None, :], frac, self.out, bits_in=bound),
                      self.out)

    def to_dict(self):
        return {**super().to_dict(), "scale": self.scale.tolist(), "scale_type": self.scale_type.to_dict(),
                "bias": self.bias.tolist(), "bias_type": self.bias_type.to_dict()}


@dataclass
class MergeOp(Op):
    """Element-wise add / subtract / multiply of two tensors (exact), assigned to the result type."""

    op: str = "add"

    def run(self, env):
        a, b = env[self.inputs[0]], env[self.inputs[1]]
        if self.op == "multiply":
            bits = fixed.signed_bits(a.type) + fixed.signed_bits(b.type)
            va = a.values.astype(object) if fixed.needs_object(bits) else a.values
            return Tensor(fixed.cast(va * b.values, a.frac + b.frac, self.out, bits_in=bits), self.out)
        frac = max(a.frac, b.frac)
        bits = max(fixed.signed_bits(a.type) - a.frac, fixed.signed_bits(b.type) - b.frac) + frac + 1
        va = _shift_to(a.values, a.frac, frac, bits)
        vb = _shift_to(b.values, b.frac, frac, bits)
        v = va + vb if self.op == "add" else va - vb
        return Tensor(fixed.cast(v, frac, self.out, bits_in=bits), self.out)

    def to_dict(self):
        return {**super().to_dict(), "op": type(self).__name__, "merge": self.op}


@dataclass
class IdentityOp(Op):
    """Reshape and time-distributed begin/end: the C++ aliases or copies the array into the same type."""

    def run(self, env):
        x = env[self.inputs[0]]
        return Tensor(fixed.cast(x.values, x.frac, self.out, bits_in=fixed.signed_bits(x.type)), self.out)


@dataclass
class ResizeOp(Op):
    """hls4ml's resize_nearest (1D): out[j] = in[(j * ((width << 16) // new_width + 1)) >> 16]."""

    width: int = 1
    new_width: int = 1
    channels: int = 1

    def run(self, env):
        x = env[self.inputs[0]]
        ratio = (self.width << 16) // self.new_width + 1
        src = (np.arange(self.new_width) * ratio) >> 16
        index = (src[:, None] * self.channels + np.arange(self.channels)[None, :]).ravel()
        return Tensor(fixed.cast(x.values[:, index], x.frac, self.out, bits_in=fixed.signed_bits(x.type)), self.out)

    def to_dict(self):
        return {**super().to_dict(), "width": self.width, "new_width": self.new_width, "channels": self.channels}


@dataclass
class TimeDistributedOp(Op):
    """A dense layer applied to every time step (hls4ml's read_time_step / dense / write_time_step loop)."""

    dense: DenseOp = None
    steps: int = 1

    def run(self, env):
        x = env[self.inputs[0]]
        n = len(x.values)
        flat = Tensor(x.values.reshape(n * self.steps, -1), x.type)
        out = self.dense.run({self.dense.inputs[0]: flat})
        return Tensor(out.values.reshape(n, -1), self.out)

    def to_dict(self):
        return {**super().to_dict(), "dense": self.dense.to_dict(), "steps": self.steps}


def _table_index(v: np.ndarray, frac: int, scale: int, size: int) -> np.ndarray:
    """`int index = data * table_size / range + table_size / 2`, clipped: int() truncates toward zero."""
    q = np.asarray(v, dtype=object if v.dtype == object else np.int64) * scale
    trunc = np.where(q >= 0, q >> frac, -((-q) >> frac))
    return np.clip(trunc + size // 2, 0, size - 1).astype(np.int64)


@dataclass
class LSTMOp(Op):
    """hls4ml's lstm_stack / lstm_static (io_parallel), step by step over the sequence.

    Per step: gates = dense(x_t) + dense(h) in accum_t (Keras order i, f, c, o); i, f, o through
    the sigmoid table, c through the tanh table (both 1024 entries of table_t over [-8, 8) and
    [-4, 4), indexed by int(x * size / range) which truncates toward zero); the cell state
    s = c * i + s * f and h = o * tanh(s) are computed exactly and assigned to result_t, so both
    states live in the layer's result type. The tables are computed by the C++ itself (`tables`).
    """

    kernel: DenseOp = None  # x_t -> 4 n (accum_t)
    recurrent: DenseOp = None  # h -> 4 n (accum_t)
    steps: int = 1
    n_in: int = 1
    units: int = 1
    return_sequences: bool = True
    accum: FixedType = None
    activation: str = "tanh"
    table_type: FixedType = None
    sigmoid: np.ndarray = None  # table_t integers
    tanh: np.ndarray = None

    def _sigmoid(self, v: np.ndarray) -> np.ndarray:
        size = len(self.sigmoid)
        idx = _table_index(v, self.accum.frac, size // 16, size)
        return fixed.cast(self.sigmoid[idx], self.table_type.frac, self.accum,
                          bits_in=fixed.signed_bits(self.table_type))

    def _act(self, v: np.ndarray, t: FixedType) -> np.ndarray:
        """The cell activation of a value of type t, assigned to accum_t."""
        if self.activation == "relu":
            return fixed.cast(np.where(v > 0, v, 0), t.frac, self.accum, bits_in=fixed.signed_bits(t))
        size = len(self.tanh)
        idx = _table_index(v, t.frac, size // 8, size)
        return fixed.cast(self.tanh[idx], self.table_type.frac, self.accum, bits_in=fixed.signed_bits(self.table_type))

    def run(self, env):
        x = env[self.inputs[0]]
        n, u, fa, res = len(x.values), self.units, self.accum.frac, self.out
        h = np.zeros((n, u), np.int64)
        s = np.zeros((n, u), np.int64)
        ab = fixed.signed_bits(self.accum)
        rb = fixed.signed_bits(res)
        wide = fixed.needs_object(max(2 * ab, rb + ab) + 2)
        outputs = []
        for t in range(self.steps):
            xt = Tensor(x.values[:, t * self.n_in:(t + 1) * self.n_in], x.type)
            a = self.kernel.run({self.kernel.inputs[0]: xt}).values
            r = self.recurrent.run({self.recurrent.inputs[0]: Tensor(h, res)}).values
            g = fixed.cast(a + r, fa, self.accum, bits_in=ab + 1)
            i, f, c, o = (g[:, k * u:(k + 1) * u] for k in range(4))
            i, f, o = self._sigmoid(i), self._sigmoid(f), self._sigmoid(o)
            c = self._act(c, self.accum)
            if wide:
                i, f, o, c, s = (np.asarray(v, dtype=object) for v in (i, f, o, c, s))
            # s = c*i + s*f: exact products (2 fa and res.frac + fa fractional bits), one assignment to result_t.
            frac = max(2 * fa, res.frac + fa)
            total = (c * i) * (1 << (frac - 2 * fa)) + (s * f) * (1 << (frac - res.frac - fa))
            s = fixed.cast(total, frac, res, bits_in=max(2 * ab, rb + ab) + 2)
            h = fixed.cast(o * self._act(s, res), 2 * fa, res, bits_in=2 * ab)
            if self.return_sequences:
                outputs.append(h)
        values = np.concatenate(outputs, axis=1) if self.return_sequences else h
        return Tensor(values, self.out)

    def to_dict(self):
        return {**super().to_dict(), "kernel": self.kernel.to_dict(), "recurrent": self.recurrent.to_dict(),
                "steps": self.steps, "n_in": self.n_in, "units": self.units,
                "return_sequences": self.return_sequences, "accum": self.accum.to_dict(),
                "activation": self.activation, "table_type": self.table_type.to_dict(),
                "sigmoid": self.sigmoid.tolist(), "tanh": self.tanh.tolist()}


@dataclass
class Program:
    """Ops in execution order; `outputs` name the tensors the firmware returns."""

    ops: list[Op]
    outputs: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def input(self) -> InputOp:
        return self.ops[0]

    @property
    def output_types(self) -> list[FixedType]:
        by_name = {op.name: op.out for op in self.ops}
        return [by_name[o] for o in self.outputs]

    def run(self, x: np.ndarray, batch: int = 4096, workers: int | None = None, engine: str = "auto",
            exponents: np.ndarray | None = None) -> list[np.ndarray]:
        """Integer outputs (one array per firmware output) for inputs x of shape (N, n_in).

        `x` is in input units, or in physical units with the input units' `exponents` (x * 2^-e).
        `engine`: "compiled" runs the compiled loops (`firmware.kernel`: the same integer semantics,
        ~10x faster), "numpy" the reference ops below, batch by batch on a thread pool; "auto" the
        compiled loops wherever they can run this program.
        """
        if engine != "numpy":
            compiled = self.compiled(np.shape(x)[1]) if np.ndim(x) == 2 else None
            if compiled is not None:
                return kernel.run(compiled, x, exponents, workers)
            if engine == "compiled":
                raise ValueError(f"this program cannot run compiled: {self._not_compiled}")
        x = np.asarray(x, dtype=np.float64)
        if exponents is not None:
            x = np.ldexp(x, -np.asarray(exponents, np.int64)[None, :])
        starts = range(0, len(x), batch)
        workers = workers or min(len(starts), os.cpu_count() or 1)
        if workers <= 1:
            parts = [self._run_batch(x[s:s + batch]) for s in starts]
        else:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda s: self._run_batch(x[s:s + batch]), starts))
        if not parts:
            return [np.zeros((0,) + (1,), np.int64) for _ in self.outputs]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(self.outputs))]

    def compiled(self, n_inputs: int):
        """The kernel's op table for this program (cached), or None where only the numpy ops can run it."""
        cache = self.__dict__.setdefault("_compiled", {})
        if n_inputs not in cache:
            try:
                cache[n_inputs] = kernel.compile_program(self, n_inputs)
            except kernel.NotCompilable as exc:
                cache[n_inputs] = None
                self.__dict__["_not_compiled"] = str(exc)
        return cache[n_inputs]

    def _run_batch(self, x: np.ndarray) -> list[np.ndarray]:
        env = {self.ops[0].name: self.input.run_float(x)}
        for op in self.ops[1:]:
            env[op.name] = op.run(env)
        return [env[name].values for name in self.outputs]

    def run_float(self, x: np.ndarray) -> list[np.ndarray]:
        return [fixed.to_float(v, t.frac) for v, t in zip(self.run(x), self.output_types)]

    # ---------------------------------------------------------------- serialisation

    def to_json(self) -> str:
        return json.dumps({"ops": [op.to_dict() for op in self.ops], "outputs": self.outputs, "meta": self.meta})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> "Program":
        return cls.from_json(Path(path).read_text())

    @classmethod
    def from_json(cls, text: str) -> "Program":
        data = json.loads(text)
        ops = []
        for d in data["ops"]:
            common = {"name": d["name"], "inputs": d["inputs"], "out": FixedType(**d["out"])}
            kind = d["op"]
            if kind == "InputOp":
                ops.append(InputOp(**common))
            elif kind == "DenseOp":
                ops.append(_dense_from_dict(d))
            elif kind == "ActivationOp":
                ops.append(ActivationOp(**common, activation=d["activation"]))
            elif kind == "LeakyReLUOp":
                ops.append(LeakyReLUOp(**common, alpha=d["alpha"], param_type=FixedType(**d["param_type"])))
            elif kind == "BatchNormOp":
                ops.append(BatchNormOp(**common, scale=_ints(d["scale"]), scale_type=FixedType(**d["scale_type"]),
                                       bias=_ints(d["bias"]), bias_type=FixedType(**d["bias_type"])))
            elif kind == "MergeOp":
                ops.append(MergeOp(**common, op=d["merge"]))
            elif kind == "IdentityOp":
                ops.append(IdentityOp(**common))
            elif kind == "ResizeOp":
                ops.append(ResizeOp(**common, width=d["width"], new_width=d["new_width"], channels=d["channels"]))
            elif kind == "TimeDistributedOp":
                ops.append(TimeDistributedOp(**common, dense=_dense_from_dict(d["dense"]), steps=d["steps"]))
            elif kind == "LSTMOp":
                ops.append(LSTMOp(**common, kernel=_dense_from_dict(d["kernel"]),
                                  recurrent=_dense_from_dict(d["recurrent"]), steps=d["steps"], n_in=d["n_in"],
                                  units=d["units"], return_sequences=d["return_sequences"],
                                  accum=FixedType(**d["accum"]), activation=d["activation"],
                                  table_type=FixedType(**d["table_type"]), sigmoid=_ints(d["sigmoid"]),
                                  tanh=_ints(d["tanh"])))
            else:
                raise ValueError(f"unknown op {kind!r} in program")
        return cls(ops, data["outputs"], data.get("meta", {}))


def _dense_from_dict(d: dict) -> DenseOp:
    return DenseOp(d["name"], d["inputs"], FixedType(**d["out"]), weight=_ints(d["weight"]),
                   weight_type=FixedType(**d["weight_type"]), bias=_ints(d["bias"]),
                   bias_type=FixedType(**d["bias_type"]), accum=FixedType(**d["accum"]))


def _ints(values) -> np.ndarray:
    arr = np.array(values, dtype=object)
    if arr.size == 0 or max(abs(int(v)) for v in arr.ravel()) < 2**62:
        return arr.astype(np.int64)
    return arr


# ---------------------------------------------------------------- reading an hls4ml graph


def _weight_ints(var, t: FixedType) -> np.ndarray:
    """Weights exactly as the C++ gets them: the printed literal, converted to the weight type."""
    literals = np.array([float(var.precision_fmt.format(v)) for v in np.asarray(var.data).ravel()])
    return fixed.from_float(literals, t).reshape(np.asarray(var.data).shape)


def _type(layer, name: str) -> FixedType:
    return FixedType.from_hls4ml(layer.types[name].precision)


def from_hls4ml(hls_model) -> Program:
    """Read the emulator program off a converted hls4ml ModelGraph (io_parallel)."""
    ops: list[Op] = []
    unsupported = []
    time_steps = None  # inside a TimeDistributed loop: its number of steps
    for layer in hls_model.get_layers():
        name = layer.outputs[0]
        out = FixedType.from_hls4ml(layer.get_output_variable().type.precision)
        cls = layer.class_name
        if cls == "Input":
            ops.append(InputOp(name, [], out))
        elif cls == "Dense":
            wt, bt = _type(layer, "weight_t"), _type(layer, "bias_t")
            w = _weight_ints(layer.weights["weight"], wt)
            b = _weight_ints(layer.weights["bias"], bt).reshape(-1)
            # The resource strategy stores the kernel transposed, (n_out, n_in).
            w = w.T if layer.get_attr("_weights_transposed", False) else w
            dense = DenseOp(name, list(layer.inputs), out, weight=w.reshape(layer.get_attr("n_in"), -1),
                            weight_type=wt, bias=b, bias_type=bt, accum=_type(layer, "accum_t"))
            ops.append(dense if time_steps is None else
                       TimeDistributedOp(name, list(layer.inputs), out, dense=dense, steps=time_steps))
        elif cls == "Activation" and str(layer.get_attr("activation")).lower() in ("linear", "relu"):
            ops.append(ActivationOp(name, list(layer.inputs), out, activation=layer.get_attr("activation").lower()))
        elif cls == "ParametrizedActivation" and layer.get_attr("activation").lower() in ("leakyrelu", "leaky_relu"):
            pt = _type(layer, "param_t")
            alpha = int(fixed.from_float(np.array([float(layer.get_attr("activ_param"))]), pt)[0])
            ops.append(LeakyReLUOp(name, list(layer.inputs), out, alpha=alpha, param_type=pt))
        elif cls == "BatchNormalization":
            st, bt = _type(layer, "scale_t"), _type(layer, "bias_t")
            # Over a sequence (steps, features) the constants are per feature: tile them over the steps.
            reps = int(np.prod(layer.get_output_variable().shape)) // len(np.ravel(layer.weights["scale"].data))
            ops.append(BatchNormOp(name, list(layer.inputs), out,
                                   scale=np.tile(_weight_ints(layer.weights["scale"], st), reps), scale_type=st,
                                   bias=np.tile(_weight_ints(layer.weights["bias"], bt), reps), bias_type=bt))
        elif cls == "Merge" and layer.get_attr("op").lower() in ("add", "subtract", "multiply"):
            ops.append(MergeOp(name, list(layer.inputs), out, op=layer.get_attr("op").lower()))
        elif cls == "LSTM" and _lstm_supported(layer):
            ops.append(_lstm_op(layer, name, out))
        elif cls == "Reshape":
            ops.append(IdentityOp(name, list(layer.inputs), out))
        elif cls == "Resize" and layer.get_attr("algorithm") == "nearest" and \
                (layer.get_attr("in_height") or 1) == (layer.get_attr("out_height") or 1) == 1:
            ops.append(ResizeOp(name, list(layer.inputs), out, width=layer.get_attr("in_width"),
                                new_width=layer.get_attr("out_width"), channels=layer.get_attr("n_chan")))
        elif cls == "TimeDistributed" and time_steps is None:  # opens the per-time-step loop
            time_steps = int(layer.get_attr("n_time_steps"))
            ops.append(IdentityOp(name, list(layer.inputs), out))
        elif cls == "TimeDistributed":  # closes it
            time_steps = None
            ops.append(IdentityOp(name, list(layer.inputs), out))
        else:
            detail = layer.get_attr("activation") or layer.get_attr("op") or ""
            unsupported.append(f"{layer.name} ({cls}{' ' + str(detail) if detail else ''})")
    if unsupported:
        raise UnsupportedLayer("the emulator does not implement: " + ", ".join(unsupported))
    return Program(ops, list(hls_model.outputs))


def _lstm_supported(layer) -> bool:
    return (layer.get_attr("recurrent_activation") == "sigmoid" and layer.get_attr("activation") in ("tanh", "relu")
            and layer.get_attr("direction", "forward") == "forward" and layer.get_attr("table_size", 1024) % 16 == 0)


def _lstm_op(layer, name: str, out: FixedType) -> LSTMOp:
    n_in, units = int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
    accum = _type(layer, "accum_t")
    transposed = layer.get_attr("_weights_transposed", False)

    def dense(kind: str, rows: int, tag: str) -> DenseOp:
        prefix = "" if kind == "" else f"{kind}_"
        wt, bt = _type(layer, f"{prefix}weight_t"), _type(layer, f"{prefix}bias_t")
        w = _weight_ints(layer.weights[f"{prefix}weight"], wt)
        w = w.T if transposed else w  # the resource strategy stores (4 n, rows)
        b = _weight_ints(layer.weights[f"{prefix}bias"], bt).reshape(-1)
        return DenseOp(f"{name}_{tag}", [tag], accum, weight=w.reshape(rows, 4 * units), weight_type=wt, bias=b,
                       bias_type=bt, accum=accum)

    table_type = _type(layer, "table_t")
    sigmoid, tanh = activation_tables(table_type, int(layer.get_attr("table_size", 1024)))
    return LSTMOp(name, list(layer.inputs), out, kernel=dense("", n_in, "x"), recurrent=dense("recurrent", units, "h"),
                  steps=int(layer.get_attr("n_timesteps")), n_in=n_in, units=units,
                  return_sequences=bool(layer.get_attr("return_sequences")), accum=accum,
                  activation=layer.get_attr("activation"), table_type=table_type, sigmoid=sigmoid, tanh=tanh)


_TABLES_CPP = """#include <cstdio>
#include "ap_fixed.h"
#include "nnet_utils/nnet_activation.h"
struct cfg { typedef %(type)s table_t; };
int main() {
    static cfg::table_t s[%(n)d], t[%(n)d];
    nnet::init_sigmoid_table<cfg, %(n)d>(s);
    nnet::init_tanh_table<cfg, %(n)d>(t);
    for (int i = 0; i < %(n)d; i++) std::printf("%%a %%a\\n", s[i].to_double(), t[i].to_double());
}
"""


def activation_tables(table_type: FixedType, size: int) -> tuple[np.ndarray, np.ndarray]:
    """hls4ml's sigmoid and tanh lookup tables as table_t integers, computed by hls4ml's own C++.

    The tables are filled at run time from float expf/tanhf values; compiling hls4ml's
    init functions (g++, ~2 s, cached per type) reproduces them bit for bit, where
    re-deriving them in numpy could differ in the last bit of a float.
    """
    key = (table_type, size)
    if key not in _TABLE_CACHE:
        _TABLE_CACHE[key] = _compile_tables(table_type, size)
    return _TABLE_CACHE[key]


_TABLE_CACHE: dict = {}


def _compile_tables(table_type: FixedType, size: int) -> tuple[np.ndarray, np.ndarray]:
    import subprocess
    import tempfile

    import hls4ml

    from codesign.firmware.csim import require_compiler

    templates = Path(hls4ml.__file__).parent / "templates" / "vivado"
    t = table_type
    cpp_type = (f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_{t.rounding},AP_{t.overflow}>")
    with tempfile.TemporaryDirectory(prefix="codesign-tables-") as tmp:
        src, exe = Path(tmp) / "tables.cpp", Path(tmp) / "tables"
        src.write_text(_TABLES_CPP % {"type": cpp_type, "n": size})
        proc = subprocess.run([require_compiler(), "-O3", "-std=c++11", f"-I{templates}", f"-I{templates / 'ap_types'}",
                               str(src), "-o", str(exe)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise FirmwareError(f"g++ could not build hls4ml's activation tables: {proc.stderr.strip()[:300]}")
        text = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    values = np.array([[float.fromhex(v) for v in line.split()] for line in text.splitlines()])
    return fixed.from_float(values[:, 0], t), fixed.from_float(values[:, 1], t)
