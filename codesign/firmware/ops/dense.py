"""Dense layers: `DenseOp` (hls4ml's dense_latency / dense_resource, io_parallel) and its per-time-step loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops.base import (
    FLOAT_EXACT_BITS,
    Conversion,
    Op,
    Tensor,
    common_fields,
    ints,
    layer_type,
    matmul_exact,
    register,
    shift_to,
    sum_bits,
    weight_ints,
)


@register("Dense")
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
                xb + wb + sum_bits(0, 0, self.weight.shape[0]))
            acc = self._truncated(x) if truncating else self._sequential(x)
            return Tensor(fixed.cast(acc, fa, self.out, bits_in=fixed.signed_bits(self.accum)), self.out)
        frac = max(prod_frac, fb)
        bound = self.sum_bound_bits(x.type, frac)
        acc = matmul_exact(x.values, self.weight, xb, wb)
        if bound - frac <= acc_int and bound <= FLOAT_EXACT_BITS:
            # No wrap-around possible: the result is the exact sum, converted once (in float64, exactly).
            total = np.ldexp(np.asarray(acc, dtype=np.float64), frac - prod_frac) + \
                np.ldexp(self.bias.astype(np.float64), frac - fb)
            return Tensor(fixed.cast(total, frac, self.out, bits_in=bound), self.out)
        acc = np.rint(acc).astype(np.int64) if acc.dtype.kind == "f" else acc
        acc = shift_to(acc, prod_frac, fa, sum_bits(xb, wb, self.weight.shape[0]))
        bias = fixed.cast(self.bias, fb, self.accum, bits_in=bb)
        # Same fraction bits: this cast only wraps, once, to the accumulator width (two's complement is modular).
        total = fixed.cast(acc + bias[None, :], fa, self.accum, bits_in=max(bound + fa - frac, self.accum.width))
        return Tensor(fixed.cast(total, fa, self.out, bits_in=fixed.signed_bits(self.accum)), self.out)

    def sum_bound_bits(self, x_type: FixedType, frac: int) -> int:
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

    @classmethod
    def from_dict(cls, d: dict) -> DenseOp:
        return cls(d["name"], d["inputs"], FixedType(**d["out"]), weight=ints(d["weight"]),
                   weight_type=FixedType(**d["weight_type"]), bias=ints(d["bias"]),
                   bias_type=FixedType(**d["bias_type"]), accum=FixedType(**d["accum"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op:
        """A Dense layer; inside a TimeDistributed loop, the dense applied to every time step."""
        wt, bt = layer_type(layer, "weight_t"), layer_type(layer, "bias_t")
        w = weight_ints(layer.weights["weight"], wt)
        b = weight_ints(layer.weights["bias"], bt).reshape(-1)
        # The resource strategy stores the kernel transposed, (n_out, n_in).
        w = w.T if layer.get_attr("_weights_transposed", False) else w
        dense = cls(name, list(layer.inputs), out, weight=w.reshape(layer.get_attr("n_in"), -1),
                    weight_type=wt, bias=b, bias_type=bt, accum=layer_type(layer, "accum_t"))
        return dense if ctx.time_steps is None else \
            TimeDistributedOp(name, list(layer.inputs), out, dense=dense, steps=ctx.time_steps)


@register()
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

    @classmethod
    def from_dict(cls, d: dict) -> TimeDistributedOp:
        return cls(**common_fields(d), dense=DenseOp.from_dict(d["dense"]), steps=d["steps"])
