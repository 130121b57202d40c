"""Activations computed without tables (io_parallel): LeakyReLU, ThresholdedReLU, PReLU, hard sigmoid and hard tanh."""

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
    constant,
    ints,
    layer_type,
    register,
    shift_to,
    weight_ints,
)
from codesign.firmware.ops.tables import TableActivationOp


def _product(x: Tensor, alpha, t: FixedType) -> tuple[np.ndarray, int, int]:
    bits = fixed.signed_bits(x.type) + fixed.signed_bits(t)
    v = x.values.astype(object) if fixed.needs_object(bits) else x.values
    return v * alpha, x.frac + t.frac, bits


@register("ParametrizedActivation")
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

    @classmethod
    def from_dict(cls, d: dict) -> LeakyReLUOp:
        return cls(**common_fields(d), alpha=d["alpha"], param_type=FixedType(**d["param_type"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        activation = str(layer.get_attr("activation")).lower()
        if activation == "thresholdedrelu":
            return ThresholdedReLUOp.from_hls4ml(layer, name, out, ctx)
        if activation == "elu":
            return TableActivationOp.from_hls4ml(layer, name, out, ctx)
        if activation not in ("leakyrelu", "leaky_relu"):
            return None
        pt = layer_type(layer, "param_t")
        alpha = constant(layer.get_attr("activ_param"), pt)  # printed into the call, converted to param_t
        return cls(name, list(layer.inputs), out, alpha=alpha, param_type=pt)


@register()
@dataclass
class ThresholdedReLUOp(Op):
    """`res = data > theta ? data : 0`, theta held in param_t."""

    theta: int = 0
    param_type: FixedType = None

    def run(self, env):
        x = env[self.inputs[0]]
        frac = max(x.frac, self.param_type.frac)
        bits = max(fixed.signed_bits(x.type) - x.frac, fixed.signed_bits(self.param_type) - self.param_type.frac) + frac
        above = shift_to(x.values, x.frac, frac, bits) > shift_to(np.asarray(self.theta), self.param_type.frac, frac,
                                                                  bits)
        v = np.where(above, x.values, 0)
        return Tensor(fixed.cast(v, x.frac, self.out, bits_in=fixed.signed_bits(x.type)), self.out)

    def to_dict(self):
        return {**super().to_dict(), "theta": int(self.theta), "param_type": self.param_type.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> ThresholdedReLUOp:
        return cls(**common_fields(d), theta=d["theta"], param_type=FixedType(**d["param_type"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op:
        pt = layer_type(layer, "param_t")
        return cls(name, list(layer.inputs), out, theta=constant(layer.get_attr("activ_param"), pt), param_type=pt)


@register("PReLU")
@dataclass
class PReLUOp(LeakyReLUOp):
    """`res[i] = data[i] > 0 ? data[i] : alpha[i] * data[i]`: LeakyReLU with one learned slope per element."""

    alpha: np.ndarray = None

    def to_dict(self):
        return {**Op.to_dict(self), "alpha": self.alpha.tolist(), "param_type": self.param_type.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> PReLUOp:
        return cls(**common_fields(d), alpha=ints(d["alpha"]), param_type=FixedType(**d["param_type"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op:
        pt = layer_type(layer, "param_t")
        return cls(name, list(layer.inputs), out, alpha=weight_ints(layer.weights["param"], pt).ravel(),
                   param_type=pt)


@register("HardActivation")
@dataclass
class HardActivationOp(Op):
    """hard_sigmoid: `clip(slope * x + shift, 0, 1)` computed exactly (`auto`); hard_tanh: `2 * that - 1`."""

    activation: str = "hard_sigmoid"
    slope: int = 0
    slope_type: FixedType = None
    shift: int = 0
    shift_type: FixedType = None

    def run(self, env):
        x = env[self.inputs[0]]
        prod, frac, bits = _product(x, self.slope, self.slope_type)
        frac = max(frac, self.shift_type.frac)
        bits = max(bits, fixed.signed_bits(self.shift_type) + frac - self.shift_type.frac) + 2
        v = shift_to(prod, x.frac + self.slope_type.frac, frac, bits) + \
            shift_to(np.asarray(self.shift), self.shift_type.frac, frac, bits)
        v = np.clip(v, 0, 1 << frac)
        if self.activation == "hard_tanh":
            v = 2 * v - (1 << frac)
        return Tensor(fixed.cast(v, frac, self.out, bits_in=frac + 3), self.out)

    def to_dict(self):
        return {**super().to_dict(), "activation": self.activation, "slope": int(self.slope),
                "slope_type": self.slope_type.to_dict(), "shift": int(self.shift),
                "shift_type": self.shift_type.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> HardActivationOp:
        return cls(**common_fields(d), activation=d["activation"], slope=d["slope"],
                   slope_type=FixedType(**d["slope_type"]), shift=d["shift"], shift_type=FixedType(**d["shift_type"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        activation = str(layer.get_attr("activation")).lower()
        if activation not in ("hard_sigmoid", "hard_tanh"):
            return None
        st, ht = layer_type(layer, "slope_t"), layer_type(layer, "shift_t")
        return cls(name, list(layer.inputs), out, activation=activation, slope=constant(layer.get_attr("slope"), st),
                   slope_type=st, shift=constant(layer.get_attr("shift"), ht), shift_type=ht)
