"""Element-wise ops: the input conversion, linear/relu (other activations: activations.py, tables.py), batch normalisation, merges, reshapes and resizes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops.base import (
    Conversion,
    Op,
    Tensor,
    common_fields,
    ints,
    layer_type,
    register,
    shift_to,
    weight_ints,
)
from codesign.firmware.ops.tables import TableActivationOp


@register("Input")
@dataclass
class InputOp(Op):
    """Float inputs converted to the input type, as the C-sim bridge does (double -> input_t)."""

    def run_float(self, x: np.ndarray) -> Tensor:
        return Tensor(fixed.from_float(x, self.out), self.out)

    def run(self, env):
        """The input tensor itself: a Program converts its float inputs with `run_float`."""
        return env[self.name]

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op:
        return cls(name, [], out)



@register("Activation")
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

    @classmethod
    def from_dict(cls, d: dict) -> ActivationOp:
        return cls(**common_fields(d), activation=d["activation"])

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        if str(layer.get_attr("activation")).lower() not in ("linear", "relu"):
            return TableActivationOp.from_hls4ml(layer, name, out, ctx)  # sigmoid, tanh, ...: hls4ml's tables
        return cls(name, list(layer.inputs), out, activation=layer.get_attr("activation").lower())



@register("BatchNormalization")
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
            prod = shift_to(prod, frac, self.bias_type.frac, bits)
            frac = self.bias_type.frac
        else:
            b = shift_to(b.astype(object) if fixed.needs_object(bits) else b, self.bias_type.frac, frac,
                          self.bias_type.width)
        bound = max(bits + max(0, frac - x.frac - self.scale_type.frac),
                    fixed.signed_bits(self.bias_type) + max(0, frac - self.bias_type.frac)) + 1
        return Tensor(fixed.cast(prod + b[None, :], frac, self.out, bits_in=bound),
                      self.out)

    def to_dict(self):
        return {**super().to_dict(), "scale": self.scale.tolist(), "scale_type": self.scale_type.to_dict(),
                "bias": self.bias.tolist(), "bias_type": self.bias_type.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> BatchNormOp:
        return cls(**common_fields(d), scale=ints(d["scale"]), scale_type=FixedType(**d["scale_type"]),
                   bias=ints(d["bias"]), bias_type=FixedType(**d["bias_type"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op:
        st, bt = layer_type(layer, "scale_t"), layer_type(layer, "bias_t")
        # Over a sequence (steps, features) the constants are per feature: tile them over the steps.
        reps = int(np.prod(layer.get_output_variable().shape)) // len(np.ravel(layer.weights["scale"].data))
        return cls(name, list(layer.inputs), out, scale=np.tile(weight_ints(layer.weights["scale"], st), reps),
                   scale_type=st, bias=np.tile(weight_ints(layer.weights["bias"], bt), reps), bias_type=bt)



MERGES = ("add", "subtract", "multiply", "average", "maximum", "minimum")


@register("Merge")
@dataclass
class MergeOp(Op):
    """hls4ml's element-wise merges of two tensors, `res[i] = f(data1[i % n1], data2[i % n2])` (the smaller one
    broadcast): add / subtract / multiply exact, average `(a + b) * 0.5` exact, maximum / minimum the winner
    cast from its own type; the result assigned to the result type."""

    op: str = "add"

    def run(self, env):
        a, b = env[self.inputs[0]], env[self.inputs[1]]
        n = max(a.values.shape[1], b.values.shape[1])
        va, vb = a.values[:, np.arange(n) % a.values.shape[1]], b.values[:, np.arange(n) % b.values.shape[1]]
        ab, bb = fixed.signed_bits(a.type), fixed.signed_bits(b.type)
        if self.op == "multiply":
            bits = ab + bb
            va = va.astype(object) if fixed.needs_object(bits) else va
            return Tensor(fixed.cast(va * vb, a.frac + b.frac, self.out, bits_in=bits), self.out)
        frac = max(a.frac, b.frac)
        bits = max(ab - a.frac, bb - b.frac) + frac + 1
        sa, sb = shift_to(va, a.frac, frac, bits), shift_to(vb, b.frac, frac, bits)
        if self.op in ("maximum", "minimum"):
            first = sa > sb if self.op == "maximum" else sa < sb
            return Tensor(np.where(first, fixed.cast(va, a.frac, self.out, bits_in=ab),
                                   fixed.cast(vb, b.frac, self.out, bits_in=bb)), self.out)
        v = sa - sb if self.op == "subtract" else sa + sb
        if self.op == "average":  # times ap_ufixed<1,0>(0.5): one more fractional bit
            frac += 1
        return Tensor(fixed.cast(v, frac, self.out, bits_in=bits), self.out)

    def to_dict(self):
        return {**super().to_dict(), "op": type(self).__name__, "merge": self.op}

    @classmethod
    def from_dict(cls, d: dict) -> MergeOp:
        return cls(**common_fields(d), op=d["merge"])

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        if layer.get_attr("op").lower() not in MERGES:
            return None
        return cls(name, list(layer.inputs), out, op=layer.get_attr("op").lower())


@register("Concatenate")
@dataclass
class ConcatenateOp(Op):
    """Two tensors joined along `axis` of their (row-major, flattened) shapes, each element cast to the result."""

    shapes: tuple[tuple[int, ...], tuple[int, ...]] = ((1,), (1,))
    axis: int = -1

    def run(self, env):
        parts = []
        for name, shape in zip(self.inputs, self.shapes):
            x = env[name]
            v = fixed.cast(x.values, x.frac, self.out, bits_in=fixed.signed_bits(x.type))
            parts.append(v.reshape((len(v), *shape)))
        axis = self.axis if self.axis < 0 else self.axis + 1  # after the batch axis
        joined = np.concatenate(parts, axis=axis)
        return Tensor(joined.reshape(len(joined), -1), self.out)

    def to_dict(self):
        return {**super().to_dict(), "shapes": [list(s) for s in self.shapes], "axis": self.axis}

    @classmethod
    def from_dict(cls, d: dict) -> ConcatenateOp:
        return cls(**common_fields(d), shapes=tuple(tuple(s) for s in d["shapes"]), axis=d["axis"])

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op:
        shapes = tuple(tuple(int(d) for d in layer.get_input_variable(i).shape) for i in layer.inputs)
        axis = int(layer.get_attr("axis", -1))
        return cls(name, list(layer.inputs), out, shapes=shapes, axis=axis - 1 if axis > 0 else axis)


@register("Reshape", "TimeDistributed")
@dataclass
class IdentityOp(Op):
    """Reshape and time-distributed begin/end: the C++ aliases or copies the array into the same type."""

    def run(self, env):
        x = env[self.inputs[0]]
        return Tensor(fixed.cast(x.values, x.frac, self.out, bits_in=fixed.signed_bits(x.type)), self.out)

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op:
        if layer.class_name == "TimeDistributed":  # the first opens the per-time-step loop, the next closes it
            ctx.time_steps = int(layer.get_attr("n_time_steps")) if ctx.time_steps is None else None
        return cls(name, list(layer.inputs), out)



@register("Resize")
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

    @classmethod
    def from_dict(cls, d: dict) -> ResizeOp:
        return cls(**common_fields(d), width=d["width"], new_width=d["new_width"], channels=d["channels"])

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        if not (layer.get_attr("algorithm") == "nearest"
                and (layer.get_attr("in_height") or 1) == (layer.get_attr("out_height") or 1) == 1):
            return None
        return cls(name, list(layer.inputs), out, width=layer.get_attr("in_width"),
                   new_width=layer.get_attr("out_width"), channels=layer.get_attr("n_chan"))
