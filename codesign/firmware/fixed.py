"""ap_fixed arithmetic on integer numpy arrays: the numeric core of the bit-exact emulator.

A fixed-point value is an integer array `v` with an implied scale 2^-frac. Conversions
follow Xilinx ap_fixed<W, I, Q, O> semantics: quantization (Q) first, at the target's
least significant bit, then overflow (O) at its width. Products and sums of ap_fixed
values are exact in C++ (the result type grows), so the emulator only rounds where the
generated HLS assigns to a narrower type.

Values up to 62 bits stay in int64; wider intermediate results fall back to Python
integers (object arrays), which are exact but slower.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

ROUNDING = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
OVERFLOW = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")
INT64_SAFE_BITS = 62

_FIXED_RE = re.compile(
    r"^\s*(?:ap_)?(u?)(fixed|int)\s*<\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?(?:,\s*(?:AP_)?(\w+)\s*)?(?:,\s*(?:AP_)?(\w+)\s*)?"
    r"(?:,\s*(\d+)\s*)?>\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class FixedType:
    """ap_fixed<width, integer, rounding, overflow> (signed) or ap_ufixed (unsigned)."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self):
        if self.width < 1:
            raise ValueError(f"fixed-point width must be >= 1, got {self.width}")
        if self.rounding not in ROUNDING:
            raise ValueError(f"unknown rounding mode {self.rounding!r}; expected one of {ROUNDING}")
        if self.overflow not in OVERFLOW:
            raise ValueError(f"unknown overflow mode {self.overflow!r}; expected one of {OVERFLOW}")

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def int_min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def int_max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    @property
    def max_value(self) -> float:
        return self.int_max * self.lsb

    @property
    def min_value(self) -> float:
        return self.int_min * self.lsb

    def __str__(self) -> str:
        base = f"{'' if self.signed else 'u'}fixed<{self.width},{self.integer}"
        if self.rounding != "TRN" or self.overflow != "WRAP":
            base += f",{self.rounding},{self.overflow}"
        return base + ">"

    @classmethod
    def parse(cls, text: str) -> "FixedType":
        """'fixed<16,6>', 'ap_ufixed<8,0,AP_RND_CONV,AP_SAT>', 'ap_int<8>', 'fixed<8,2,RND,SAT,0>'."""
        m = _FIXED_RE.match(text)
        if not m:
            raise ValueError(f"cannot parse fixed-point type {text!r}; expected e.g. 'fixed<16,6>' or "
                             "'ufixed<8,0,RND_CONV,SAT>'")
        unsigned, kind, width, integer, rounding, overflow, sat_bits = m.groups()
        width = int(width)
        integer = width if kind.lower() == "int" else int(integer if integer is not None else width)
        if sat_bits not in (None, "0"):
            raise ValueError(f"{text!r}: saturation bits other than 0 are not supported")
        return cls(width, integer, not unsigned, (rounding or "TRN").upper(), (overflow or "WRAP").upper())

    @classmethod
    def from_hls4ml(cls, precision) -> "FixedType":
        """From an hls4ml FixedPrecisionType / IntegerPrecisionType (or a backend's subclass of them)."""
        from hls4ml.model import types

        special = (types.XnorPrecisionType, types.ExponentPrecisionType, types.FloatPrecisionType)
        if isinstance(precision, special) or not isinstance(precision, (types.IntegerPrecisionType,
                                                                         types.FixedPrecisionType)):
            raise ValueError(f"unsupported hls4ml precision {precision} ({type(precision).__name__}); "
                             "only fixed-point and integer types")
        if isinstance(precision, types.IntegerPrecisionType):
            return cls(precision.width, precision.width, precision.signed)
        if getattr(precision, "saturation_bits", 0):
            raise ValueError(f"{precision}: saturation bits other than 0 are not supported")
        return cls(precision.width, precision.integer, precision.signed, precision.rounding_mode.name,
                   precision.saturation_mode.name)

    def to_dict(self) -> dict:
        return {"width": self.width, "integer": self.integer, "signed": self.signed, "rounding": self.rounding,
                "overflow": self.overflow}


def _wide(v) -> np.ndarray:
    return np.asarray(v).astype(object)


def needs_object(bits: int) -> bool:
    return bits > INT64_SAFE_BITS


def _round_shift(v: np.ndarray, shift: int, mode: str) -> np.ndarray:
    """Divide by 2^shift (shift > 0) with an ap_fixed quantization mode (all arithmetic shifts: floor)."""
    half = 1 << (shift - 1)
    if mode == "TRN":
        return v >> shift
    if mode == "RND":  # ties towards +inf
        return (v + half) >> shift
    if mode == "RND_MIN_INF":  # ties towards -inf
        return (v + (half - 1)) >> shift
    if mode == "RND_CONV":  # ties to even: a tie rounds up exactly when the floor is odd
        return (v + (half - 1) + ((v >> shift) & 1)) >> shift
    negative = v < 0
    if mode == "TRN_ZERO":  # towards zero: floor for v >= 0, ceiling below
        return (v + negative * ((1 << shift) - 1)) >> shift
    if mode == "RND_ZERO":  # ties towards zero: like RND_MIN_INF above zero, RND below
        return (v + (half - 1) + negative) >> shift
    # RND_INF: ties away from zero: RND above zero, RND_MIN_INF below
    return (v + half - negative) >> shift


def _overflow(v: np.ndarray, t: FixedType) -> np.ndarray:
    lo, hi = t.int_min, t.int_max
    if t.overflow == "WRAP":
        if v.dtype == object:
            m = 1 << t.width
            w = v % m
            return w - m * (w > hi) if t.signed else w
        mask = (1 << t.width) - 1
        if not t.signed:
            return v & mask
        offset = 1 << (t.width - 1)
        return ((v + offset) & mask) - offset
    if t.overflow == "SAT":
        return np.clip(v, lo, hi)
    if t.overflow == "SAT_SYM":
        return np.clip(v, -hi if t.signed else 0, hi)
    return np.where((v < lo) | (v > hi), 0, v)  # SAT_ZERO


def signed_bits(t: FixedType) -> int:
    """Bits a signed integer needs to hold every value of `t`."""
    return t.width + (0 if t.signed else 1)


def cast(v: np.ndarray, frac_in: int, t: FixedType, bits_in: int | None = None) -> np.ndarray:
    """Assign integers with `frac_in` fractional bits to type `t` (ap_fixed conversion).

    `bits_in` bounds the input as a signed integer width (see `signed_bits`). It decides
    whether a left shift still fits int64, and lets the overflow step be skipped when no
    value can leave the target's range (the result is int64 whenever `t` itself fits).
    """
    v = np.asarray(v)
    shift = frac_in - t.frac
    if v.dtype.kind == "f":  # integers held exactly in float64 (|v| < 2^53): convert as from a double
        if shift <= 0 and bits_in is not None and t.signed and bits_in - shift <= t.width:
            return np.ldexp(v, -shift).astype(np.int64)  # nothing to round, nothing can overflow
        return from_float(np.ldexp(v, -frac_in), t)
    if shift > 0:
        v = _round_shift(v, shift, t.rounding)
    elif shift < 0:
        if bits_in is None or needs_object(bits_in - shift):
            v = _wide(v)
        v = v << (-shift)
    if bits_in is not None and t.signed and t.overflow in ("WRAP", "SAT"):
        bound = bits_in - shift + (1 if shift > 0 and t.rounding != "TRN" else 0)
        if bound <= t.width:  # every value already fits
            return v.astype(np.int64) if v.dtype == object and not needs_object(t.width) else v
    out = _overflow(v, t)
    if out.dtype == object and not needs_object(t.width):
        out = out.astype(np.int64)
    return out


def from_float(x, t: FixedType) -> np.ndarray:
    """Convert floats (float64) to `t` as ap_fixed's constructor from double does."""
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError("non-finite input value(s): fixed-point inputs must be finite")
    scaled = np.ldexp(x, t.frac)  # exact
    if t.rounding == "TRN":
        r = np.floor(scaled)
    elif t.rounding == "TRN_ZERO":
        r = np.trunc(scaled)
    elif t.rounding == "RND":
        r = np.floor(scaled + 0.5)
    elif t.rounding == "RND_MIN_INF":
        r = np.ceil(scaled - 0.5)
    elif t.rounding == "RND_ZERO":
        r = np.sign(scaled) * np.ceil(np.abs(scaled) - 0.5)
    elif t.rounding == "RND_INF":
        r = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    else:
        r = np.round(scaled)  # numpy rounds ties to even
    # `scaled + 0.5` is exact for |scaled| < 2^52; beyond that the value is already integral.
    if scaled.size and (scaled.max() >= 2.0**52 or scaled.min() <= -(2.0**52)):
        r = np.where(np.abs(scaled) >= 2.0**52, scaled, r)
    if t.overflow == "WRAP":
        m = 2.0**t.width
        r = np.mod(r, m)  # exact for integral doubles
        if t.signed:
            r = np.where(r > t.int_max, r - m, r)
    else:
        lo, hi = float(t.int_min), float(t.int_max)
        if t.overflow == "SAT":
            r = np.clip(r, lo, hi)
        elif t.overflow == "SAT_SYM":
            r = np.clip(r, -hi if t.signed else 0.0, hi)
        else:
            r = np.where((r < lo) | (r > hi), 0.0, r)
    if needs_object(t.width):
        return np.array([int(v) for v in r.ravel()], dtype=object).reshape(r.shape)
    return r.astype(np.int64)


def to_float(v: np.ndarray, frac: int) -> np.ndarray:
    """Integers with `frac` fractional bits as float64 (exact up to 53 significant bits)."""
    return np.ldexp(np.asarray(v, dtype=np.float64), -frac)


def bits_for(max_abs: float, signed: bool = True) -> int:
    """Integer bits (sign included for signed types) that hold values up to `max_abs`."""
    if max_abs <= 0:
        return 1 if signed else 0
    return int(np.floor(np.log2(max_abs))) + 1 + (1 if signed else 0)


def exact_type(values, max_frac: int = 32) -> FixedType | None:
    """The narrowest signed type that holds every value exactly (an HGQ weight grid), or None if none does
    with at most `max_frac` fractional bits."""
    v = np.asarray(values, dtype=np.float64).ravel()
    for frac in range(-16, max_frac + 1):
        scaled = np.ldexp(v, frac)
        if np.array_equal(scaled, np.round(scaled)):
            peak = int(np.max(np.abs(scaled))) if v.size else 0
            integer_bits = peak.bit_length() + 1  # the sign included, in units of 2^-frac
            return FixedType(max(integer_bits, 2), max(integer_bits, 2) - frac, True, "TRN", "WRAP")
    return None


def element_mask(keep_negative, bits, integers, n: int) -> np.ndarray:
    """(3, n) int64: an HGQ quantizer's keep_negative, bits and integer bits broadcast to its n elements
    (hls4ml keeps one value of a uniform quantizer's mask)."""
    return np.stack([np.broadcast_to(np.asarray(a, dtype=np.int64).ravel(), (n,)) for a in
                     (keep_negative, bits, integers)])


def mask_container(keep_negative, bits, integers) -> FixedType:
    """One type holding each element of an HGQ quantizer's per-element `ap_(u)fixed<b_j, i_j>` exactly."""
    k, b, i = (np.asarray(a, dtype=np.int64).ravel() for a in (keep_negative, bits, integers))
    k, b, i = np.broadcast_arrays(k, b, i)
    live = b > 0
    if not live.any():
        return FixedType(1, 1, False)  # every element is 0
    k, b, i = k[live], b[live], i[live]
    frac = int(np.max(b - i))
    signed = bool(k.any())
    integer = int(np.max(i + (1 - k))) if signed else int(np.max(i))  # an unsigned element needs a sign bit here
    return FixedType(max(integer + frac, 1), integer, signed, "TRN", "WRAP")
