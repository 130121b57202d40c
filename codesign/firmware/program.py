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
from codesign.firmware import fixed
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
            return Tensor(fixed.cast(self._sequential(x), fa, self.out, bits_in=fixed.signed_bits(self.accum)),
                          self.out)
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

    def run(self, x: np.ndarray, batch: int = 4096, workers: int | None = None) -> list[np.ndarray]:
        """Integer outputs (one array per firmware output) for inputs x of shape (N, n_in).

        Batches run on a thread pool: numpy releases the GIL, so this uses every core.
        """
        x = np.asarray(x, dtype=np.float64)
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
                ops.append(DenseOp(**common, weight=_ints(d["weight"]), weight_type=FixedType(**d["weight_type"]),
                                   bias=_ints(d["bias"]), bias_type=FixedType(**d["bias_type"]),
                                   accum=FixedType(**d["accum"])))
            elif kind == "ActivationOp":
                ops.append(ActivationOp(**common, activation=d["activation"]))
            elif kind == "LeakyReLUOp":
                ops.append(LeakyReLUOp(**common, alpha=d["alpha"], param_type=FixedType(**d["param_type"])))
            elif kind == "BatchNormOp":
                ops.append(BatchNormOp(**common, scale=_ints(d["scale"]), scale_type=FixedType(**d["scale_type"]),
                                       bias=_ints(d["bias"]), bias_type=FixedType(**d["bias_type"])))
            elif kind == "MergeOp":
                ops.append(MergeOp(**common, op=d["merge"]))
            else:
                raise ValueError(f"unknown op {kind!r} in program")
        return cls(ops, data["outputs"], data.get("meta", {}))


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
            ops.append(DenseOp(name, list(layer.inputs), out, weight=w.reshape(layer.get_attr("n_in"), -1),
                               weight_type=wt, bias=b, bias_type=bt, accum=_type(layer, "accum_t")))
        elif cls == "Activation" and str(layer.get_attr("activation")).lower() in ("linear", "relu"):
            ops.append(ActivationOp(name, list(layer.inputs), out, activation=layer.get_attr("activation").lower()))
        elif cls == "ParametrizedActivation" and layer.get_attr("activation").lower() in ("leakyrelu", "leaky_relu"):
            pt = _type(layer, "param_t")
            alpha = int(fixed.from_float(np.array([float(layer.get_attr("activ_param"))]), pt)[0])
            ops.append(LeakyReLUOp(name, list(layer.inputs), out, alpha=alpha, param_type=pt))
        elif cls == "BatchNormalization":
            st, bt = _type(layer, "scale_t"), _type(layer, "bias_t")
            ops.append(BatchNormOp(name, list(layer.inputs), out, scale=_weight_ints(layer.weights["scale"], st),
                                   scale_type=st, bias=_weight_ints(layer.weights["bias"], bt), bias_type=bt))
        elif cls == "Merge" and layer.get_attr("op").lower() in ("add", "subtract", "multiply"):
            ops.append(MergeOp(name, list(layer.inputs), out, op=layer.get_attr("op").lower()))
        else:
            detail = layer.get_attr("activation") or layer.get_attr("op") or ""
            unsupported.append(f"{layer.name} ({cls}{' ' + str(detail) if detail else ''})")
    if unsupported:
        raise UnsupportedLayer("the emulator does not implement: " + ", ".join(unsupported))
    return Program(ops, list(hls_model.outputs))
