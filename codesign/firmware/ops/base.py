"""The emulator's building blocks: tensors, the `Op` base class and the op registry.

Every firmware op is one class: its numpy reference (`run`), its JSON form (`to_dict` /
`from_dict`, registered under the class name, which is the `"op"` field of program.json)
and its converter from the hls4ml layer classes it implements (`from_hls4ml`). The
`register` decorator records both, so `Program.from_json` and `program.from_hls4ml` are
lookups here, and adding an op is one class plus its tests.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

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


@dataclass
class Conversion:
    """State carried from layer to layer while an hls4ml graph is read."""

    time_steps: int | None = None  # inside a TimeDistributed loop: its number of steps


@dataclass
class Op(ABC):
    name: str
    inputs: list[str]
    out: FixedType

    @abstractmethod
    def run(self, env: dict[str, Tensor]) -> Tensor:
        """The op's result from the tensors computed so far (by name), exactly as the firmware computes it."""

    def to_dict(self) -> dict:
        return {"op": type(self).__name__, "name": self.name, "inputs": self.inputs, "out": self.out.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> Op:
        """The op of `to_dict`'s output (ops with fields of their own override this)."""
        return cls(**common_fields(d))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        """The op of one hls4ml layer of a class registered for it, or None where this variant is not implemented."""
        raise NotImplementedError(f"{cls.__name__} converts no hls4ml layer")


# ---------------------------------------------------------------- the registry

OPS: dict[str, type[Op]] = {}  # JSON "op" name -> class
CONVERTERS: dict[str, type[Op]] = {}  # hls4ml layer class name -> the op class whose from_hls4ml reads it


def register(*hls4ml_classes: str):
    """Class decorator: the op's JSON name (its class name), and the hls4ml layer classes it converts."""

    def add(cls: type[Op]) -> type[Op]:
        name = cls.__name__
        if name in OPS:
            raise ValueError(f"op {name!r} is already registered")
        taken = [c for c in hls4ml_classes if c in CONVERTERS]
        if taken:
            raise ValueError(f"hls4ml class(es) {', '.join(taken)} already converted by "
                             f"{', '.join(sorted({CONVERTERS[c].__name__ for c in taken}))}")
        OPS[name] = cls
        CONVERTERS.update(dict.fromkeys(hls4ml_classes, cls))
        return cls

    return add


def op_from_dict(d: dict) -> Op:
    cls = OPS.get(d["op"])
    if cls is None:
        raise ValueError(f"unknown op {d['op']!r} in program")
    return cls.from_dict(d)


def common_fields(d: dict) -> dict:
    return {"name": d["name"], "inputs": d["inputs"], "out": FixedType(**d["out"])}


def ints(values) -> np.ndarray:
    """Integers read back from JSON: int64, or Python integers where any needs more than 62 bits."""
    arr = np.array(values, dtype=object)
    if arr.size == 0 or max(abs(int(v)) for v in arr.ravel()) < 2**62:
        return arr.astype(np.int64)
    return arr


# ---------------------------------------------------------------- exact integer arithmetic


def sum_bits(x_bits: int, w_bits: int, n: int) -> int:
    return x_bits + w_bits + max(1, math.ceil(math.log2(max(n, 2))))


def matmul_exact(x: np.ndarray, w: np.ndarray, x_bits: int, w_bits: int) -> np.ndarray:
    """x @ w for integer arrays, exactly: as float64 (BLAS) when every partial sum stays below 2^53.

    The float64 result holds exact integers; `fixed.cast` converts it like a double.
    """
    bits = sum_bits(x_bits, w_bits, w.shape[0])
    if bits <= FLOAT_EXACT_BITS:
        return x.astype(np.float64) @ w.astype(np.float64)
    if not fixed.needs_object(bits):
        return x.astype(np.int64) @ w.astype(np.int64)
    return np.asarray(x, dtype=object) @ np.asarray(w, dtype=object)


def shift_to(v: np.ndarray, frac_in: int, frac_out: int, bits: int) -> np.ndarray:
    if frac_out == frac_in:
        return v
    if frac_out > frac_in:
        shift = frac_out - frac_in
        if fixed.needs_object(bits + shift) and v.dtype != object:
            v = v.astype(object)
        return v << shift
    raise AssertionError("only exact (widening) shifts here")


# ---------------------------------------------------------------- reading hls4ml layers


def weight_ints(var, t: FixedType) -> np.ndarray:
    """Weights exactly as the C++ gets them: the printed literal, converted to the weight type."""
    literals = np.array([float(var.precision_fmt.format(v)) for v in np.asarray(var.data).ravel()])
    return fixed.from_float(literals, t).reshape(np.asarray(var.data).shape)


def constant(value: float, t: FixedType) -> int:
    """A number the C++ holds in type t (a printed parameter, `(res_T)1`, ...), as ap_fixed converts a double."""
    return int(fixed.from_float(np.array([float(value)]), t)[0])


def layer_type(layer, name: str) -> FixedType:
    """The fixed-point type hls4ml gave one of a layer's named types (e.g. 'weight_t')."""
    return FixedType.from_hls4ml(layer.types[name].precision)
