"""The emulator compiled: a Program's ops as machine-code loops over blocks of events (numba).

The numpy Program (program.py) is the reference: each op is several whole-array passes, and a
dense autoencoder costs ~20 of them over every intermediate tensor, with int64/float64 copies
between. Scoring ten million events per candidate needs more than Keras' own float inference
speed, so the same integer semantics are written once more here as small compiled loops: one
per op kind, each reading and writing a block's (value, event) buffer with the events innermost,
so that a loop body is the same arithmetic on contiguous lanes. Blocks run on a thread pool
(the loops release the GIL). Each loop is compiled on first use in a process (~1 s each).

`compile_program` checks every bound the numpy ops check, from the types: a program whose
intermediates could pass 62 bits, or with an op not written here (LSTM, resize), raises
NotCompilable and runs on the numpy reference. Both engines are checked bit for bit against
hls4ml's C-simulation.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from codesign.firmware import fixed, ops
from codesign.firmware.fixed import FixedType

# codes of the quantisation and overflow modes, in fixed.py's order (TRN = 0 ... RND_CONV = 6; WRAP = 0, SAT = 1)
ROUNDING = {name: i for i, name in enumerate(fixed.ROUNDING)}
OVERFLOW = {name: i for i, name in enumerate(fixed.OVERFLOW)}
SAFE_BITS = 62  # every intermediate, as a signed integer, in at most this many bits
BLOCK = 2048  # events per block: the block's buffers stay in cache


class NotCompilable(Exception):
    """The program needs the numpy reference (an op not written here, or a value beyond int64)."""


@dataclass
class Compiled:
    steps: list[Callable]  # step(x, first, n, buf): one op on a block
    buffer: int  # int64 values per event
    outputs: list[tuple[int, int]]  # (offset, width) of each program output in the buffer
    ops: list[str] = field(default_factory=list)


def _check(bits: int, what: str) -> None:
    if bits > SAFE_BITS:
        raise NotCompilable(f"{what} needs {bits} bits")


def _type(t: FixedType) -> tuple[int, bool, int, int]:
    """(width, signed, rounding, overflow) codes of a result type the loops can hold."""
    if fixed.needs_object(t.width + 1):
        raise NotCompilable(f"{t} is wider than int64")
    return t.width, t.signed, ROUNDING[t.rounding], OVERFLOW[t.overflow]


def _shift(frac_in: int, t: FixedType) -> int:
    shift = frac_in - t.frac
    if abs(shift) > SAFE_BITS:
        raise NotCompilable(f"a shift by {shift} bits")
    return shift


@dataclass
class _Block:
    """What a step builder sees: the loops, the tensors laid out so far, and `alloc` for its output."""

    loops: object
    tensors: dict[str, tuple[int, int, FixedType]]  # name -> (offset, width, type)
    alloc: Callable[[str, int, FixedType], int]
    n_inputs: int

    def input(self, op, k: int = 0) -> tuple[int, int, FixedType]:
        return self.tensors[op.inputs[k]]


def compile_program(program, n_inputs: int) -> Compiled:
    """The compiled steps of a Program reading `n_inputs` values per event, or NotCompilable."""
    tensors: dict[str, tuple[int, int, FixedType]] = {}
    steps: list[Callable] = []
    size = 0

    def alloc(name: str, width: int, t: FixedType) -> int:
        nonlocal size
        tensors[name] = (size, width, t)
        size += width
        return tensors[name][0]

    block = _Block(_loops(), tensors, alloc, n_inputs)
    for op in program.ops:
        out = _type(op.out)
        build = STEPS.get(type(op))
        if build is None:
            raise NotCompilable(f"{op.name}: {type(op).__name__} is not written as a compiled loop")
        steps.append(build(op, block, out))
    return Compiled(steps, size, [(tensors[name][0], tensors[name][1]) for name in program.outputs],
                    [op.name for op in program.ops])


def _input_step(op, b: _Block, out) -> Callable:
    o = b.alloc(op.name, b.n_inputs, op.out)
    loops = b.loops
    return lambda x, f, n, buf, o=o, t=op.out, c=out: loops.inputs(x, f, n, buf, o, t.frac, *c)


def _batchnorm_step(op, b: _Block, out) -> Callable:
    i0, width, xt = b.input(op)
    xb = fixed.signed_bits(xt)
    st, bt = op.scale_type, op.bias_type
    frac = xt.frac + st.frac
    up = max(bt.frac - frac, 0)  # the product's shift, or the bias' below
    down = max(frac - bt.frac, 0)
    _check(max(xb + fixed.signed_bits(st) + up, fixed.signed_bits(bt) + down) + 1, f"{op.name}: scale, bias")
    shift = _shift(frac + up, op.out)
    o = b.alloc(op.name, width, op.out)
    scale, bias = np.asarray(op.scale, np.int64), np.asarray(op.bias, np.int64) << down
    loops = b.loops
    return lambda x, f, n, buf, a=(i0, o, width, scale, bias, up, shift, *out): loops.batchnorm(buf, n, *a)


def _activation_step(op, b: _Block, out) -> Callable:
    """ActivationOp (linear, relu) and IdentityOp: the input assigned to the result type."""
    i0, width, xt = b.input(op)
    xb = fixed.signed_bits(xt)
    relu = type(op) is ops.ActivationOp and op.activation == "relu"
    shift = _shift(xt.frac, op.out)
    _check(xb - min(shift, 0), f"{op.name}: the shifted input")
    o = b.alloc(op.name, width, op.out)
    loops = b.loops
    return lambda x, f, n, buf, a=(i0, o, width, relu, shift, *out): loops.activation(buf, n, *a)


def _leaky_step(op, b: _Block, out) -> Callable:
    i0, width, xt = b.input(op)
    xb = fixed.signed_bits(xt)
    pfrac = xt.frac + op.param_type.frac
    pos, neg = _shift(xt.frac, op.out), _shift(pfrac, op.out)
    _check(xb + fixed.signed_bits(op.param_type) - min(neg, 0), f"{op.name}: the slope product")
    _check(xb - min(pos, 0), f"{op.name}: the shifted input")
    o = b.alloc(op.name, width, op.out)
    loops = b.loops
    return lambda x, f, n, buf, a=(i0, o, width, int(op.alpha), pos, neg, *out): loops.leaky(buf, n, *a)


def _merge_step(op, b: _Block, out) -> Callable:
    i0, width, xt = b.input(op)
    if op.op not in ("add", "subtract", "multiply"):
        raise NotCompilable(f"{op.name}: {type(op).__name__} is not written as a compiled loop")
    xb = fixed.signed_bits(xt)
    i1, width1, yt = b.input(op, 1)
    if width1 != width:
        raise NotCompilable(f"{op.name}: a broadcasting merge")
    yb = fixed.signed_bits(yt)
    if op.op == "multiply":
        code, sa, sb, frac = 2, 0, 0, xt.frac + yt.frac
        _check(xb + yb - min(frac - op.out.frac, 0), f"{op.name}: the product")
    else:
        frac = max(xt.frac, yt.frac)
        code, sa, sb = (0 if op.op == "add" else 1), frac - xt.frac, frac - yt.frac
        _check(max(xb - xt.frac, yb - yt.frac) + frac + 1 - min(frac - op.out.frac, 0), f"{op.name}: the sum")
    shift = _shift(frac, op.out)
    o = b.alloc(op.name, width, op.out)
    loops = b.loops
    return lambda x, f, n, buf, a=(i0, i1, o, width, code, sa, sb, shift, *out): loops.merge(buf, n, *a)


def _quantizer_step(op, b: _Block, out) -> Callable:
    """FixedPointQuantizerOp (HGQ): each element cast to its own type, then held in the result type."""
    i0, width, xt = b.input(op)
    xb = fixed.signed_bits(xt)
    k, bits, integers = op.mask(width)
    frac = bits - integers
    shifts = np.array([_shift(xt.frac, FixedType(max(int(bb), 1), int(bb - f))) for bb, f in zip(bits, frac)],
                      dtype=np.int64)
    ups = (frac - op.out.frac).astype(np.int64)
    _check(xb - min(int(shifts.min(initial=0)), 0), f"{op.name}: the shifted input")
    _check(int(bits.max(initial=1)) + 1 - min(int(ups.min(initial=0)), 0), f"{op.name}: the element in its container")
    o = b.alloc(op.name, width, op.out)
    loops = b.loops
    a = (i0, o, width, shifts, bits, k, ups, ROUNDING[op.rounding],
         OVERFLOW[op.overflow], *out)
    return lambda x, f, n, buf, a=a: loops.quantizer(buf, n, *a)


def _dense_step(op, b: _Block, out) -> Callable:
    i0, _, xt = b.input(op)
    return _dense(op, b.loops, i0, xt, b.alloc, out)


# The op classes written as compiled loops, each with the builder of its step; any other op raises NotCompilable.
STEPS: dict[type, Callable] = {
    ops.InputOp: _input_step, ops.DenseOp: _dense_step, ops.BatchNormOp: _batchnorm_step,
    ops.ActivationOp: _activation_step, ops.IdentityOp: _activation_step, ops.LeakyReLUOp: _leaky_step,
    ops.MergeOp: _merge_step, ops.FixedPointQuantizerOp: _quantizer_step,
}


def _dense(op, loops, i0: int, xt: FixedType, alloc, out) -> Callable:
    """The step of a DenseOp: an exact sum (wrapped once to accum_t), or the latency template's sequential
    accumulation when products or bias are not exact in accum_t (or accum_t saturates)."""
    if op.weight.dtype == object or op.bias.dtype == object:
        raise NotCompilable(f"{op.name}: weights beyond int64")
    n_in, n_out = op.weight.shape
    xb, wb, bb = fixed.signed_bits(xt), fixed.signed_bits(op.weight_type), fixed.signed_bits(op.bias_type)
    acc = op.accum
    fa, fb = acc.frac, op.bias_type.frac
    prod_frac = xt.frac + op.weight_type.frac
    acc_int = acc.integer if acc.signed else acc.integer + 1
    aw, asg, arnd, aovf = _type(acc)
    _check(xb + wb, f"{op.name}: a product")
    _check(bb - min(fb - fa, 0), f"{op.name}: the shifted bias")
    bias = fixed.cast(np.asarray(op.bias), fb, acc, bits_in=bb).astype(np.int64)  # the bias in accum_t
    shift = _shift(fa, op.out)
    o = alloc(op.name, n_out, op.out)
    weight = np.ascontiguousarray(op.weight, dtype=np.int64)
    products_exact = fa >= prod_frac and xb + wb - prod_frac <= acc_int
    bias_exact = fb <= fa and bb - fb <= acc_int
    if products_exact and bias_exact and acc.overflow == "WRAP":
        up = fa - prod_frac
        _check(op.sum_bound_bits(xt, fa) + 1, f"{op.name}: the sum")
        return lambda x, f, n, buf, a=(i0, n_in, o, n_out, weight, bias, up, aw, asg, aovf, shift, *out): \
            loops.dense(buf, n, *a)
    down = prod_frac - fa
    if abs(down) > SAFE_BITS:
        raise NotCompilable(f"{op.name}: a shift by {down} bits")
    _check(xb + wb - min(down, 0), f"{op.name}: a shifted product")
    return lambda x, f, n, buf, a=(i0, n_in, o, n_out, weight, bias, down, aw, asg, arnd, aovf, shift, *out): \
        loops.dense_sequential(buf, n, *a)


def run(compiled: Compiled, x: np.ndarray, exponents: np.ndarray | None = None,
        workers: int | None = None) -> list[np.ndarray]:
    """The program's integer outputs, block by block on a thread pool.

    `x`: finite inputs in input units, or physical values with the input units' `exponents` (the value
    in units is x * 2^-e, exactly: it is applied where the inputs are read, without another pass).
    """
    x = np.asarray(x)
    n = len(x)
    results = [np.empty((n, w), np.int64) for _, w in compiled.outputs]
    scale = np.ldexp(1.0, -np.asarray(exponents, np.int64)) if exponents is not None else np.ones(x.shape[1])

    def block(first: int) -> None:
        count = min(BLOCK, n - first)
        buf = np.empty((compiled.buffer, BLOCK), np.int64)
        # the block's inputs transposed, in float64 and in input units: one value per lane
        xt = np.multiply(np.asarray(x[first:first + count], dtype=np.float64), scale).T.copy()
        if not np.isfinite(xt).all():
            raise ValueError("non-finite input value(s): fixed-point inputs must be finite")
        for step in compiled.steps:
            step(xt, first, count, buf)
        for res, (offset, width) in zip(results, compiled.outputs):
            res[first:first + count] = buf[offset:offset + width, :count].T

    starts = range(0, n, BLOCK)
    workers = min(workers or os.cpu_count() or 1, len(starts))
    if workers <= 1:
        for first in starts:
            block(first)
    else:
        # The first block alone: numba compiles each loop on its first call, here in this thread, never in
        # several pool threads at once (a benchmark process that had trained HGQ models failed to type a
        # loop compiled concurrently: KeyError in numba's typing of `neg`).
        block(starts[0])
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(block, starts[1:]))
    return results


# ---------------------------------------------------------------- the loops (plain Python until `_loops()`)
#
# Each function below is compiled by numba on its first call once `_loops()` has replaced the
# module's names with numba dispatchers (so that the loops call each other compiled). With the
# environment variable NUMBA_CACHE_DIR set, the machine code is cached there and later processes
# load it instead of compiling (the test suite does this); without it nothing is written anywhere.

_LOOPS = None
_NAMES = ("round_shift", "bounds", "overflow", "requantize", "from_float", "inputs", "epilogue", "dense",
          "dense_sequential", "batchnorm", "activation", "leaky", "merge", "quantizer")


def _loops():
    """The compiled loops, built on first use in this process."""
    global _LOOPS
    if _LOOPS is None:
        import types

        import numba

        njit = numba.njit(cache=bool(os.environ.get("NUMBA_CACHE_DIR")), nogil=True, boundscheck=False,
                          error_model="numpy")
        compiled = {name: njit(globals()[name]) for name in _NAMES}
        globals().update(compiled)
        _LOOPS = types.SimpleNamespace(**compiled)
    return _LOOPS


def round_shift(v, s, mode):
    # v / 2^s (s > 0) with an ap_fixed quantization mode; >> is arithmetic (floor) on int64
    half = np.int64(1) << (s - 1)
    if mode == 0:  # TRN
        return v >> s
    if mode == 2:  # RND: ties towards +inf
        return (v + half) >> s
    if mode == 5:  # RND_MIN_INF
        return (v + (half - 1)) >> s
    if mode == 6:  # RND_CONV: ties to even
        return (v + (half - 1) + ((v >> s) & 1)) >> s
    neg = np.int64(1) if v < 0 else np.int64(0)
    if mode == 1:  # TRN_ZERO
        return (v + neg * ((np.int64(1) << s) - 1)) >> s
    if mode == 3:  # RND_ZERO
        return (v + (half - 1) + neg) >> s
    return (v + half - neg) >> s  # RND_INF

def bounds(width, signed):
    if signed:
        return -(np.int64(1) << (width - 1)), (np.int64(1) << (width - 1)) - 1
    return np.int64(0), (np.int64(1) << width) - 1

def overflow(v, width, signed, mode):
    lo, hi = bounds(width, signed)
    if mode == 0:  # WRAP
        mask = (np.int64(1) << width) - 1
        if not signed:
            return v & mask
        offset = np.int64(1) << (width - 1)
        return ((v + offset) & mask) - offset
    if mode == 1:  # SAT
        return lo if v < lo else (hi if v > hi else v)
    if mode == 3:  # SAT_SYM
        low = -hi if signed else np.int64(0)
        return low if v < low else (hi if v > hi else v)
    return np.int64(0) if (v < lo or v > hi) else v  # SAT_ZERO

def requantize(row, n, shift, width, signed, rnd, ovf):
    """row[:n], integers with `shift` more fraction bits than the target type, assigned to it in place.

    One tight loop per common case (truncation or round-half-even; saturation or wrap-around)."""
    if shift > 0:
        half = np.int64(1) << (shift - 1)
        if rnd == 0:
            for e in range(n):
                row[e] = row[e] >> shift
        elif rnd == 6:
            for e in range(n):
                v = row[e]
                row[e] = (v + (half - 1) + ((v >> shift) & 1)) >> shift
        elif rnd == 2:
            for e in range(n):
                row[e] = (row[e] + half) >> shift
        else:
            for e in range(n):
                row[e] = round_shift(row[e], shift, rnd)
    elif shift < 0:
        for e in range(n):
            row[e] = row[e] << (-shift)
    lo, hi = bounds(width, signed)
    if ovf == 1:
        for e in range(n):
            v = row[e]
            row[e] = lo if v < lo else (hi if v > hi else v)
    elif ovf == 0:
        mask = (np.int64(1) << width) - 1
        if signed:
            offset = np.int64(1) << (width - 1)
            for e in range(n):
                row[e] = ((row[e] + offset) & mask) - offset
        else:
            for e in range(n):
                row[e] = row[e] & mask
    else:
        for e in range(n):
            row[e] = overflow(row[e], width, signed, ovf)

def from_float(x, frac, width, signed, rnd, ovf):
    """A double assigned to ap_fixed (fixed.from_float, one value)."""
    scaled = x * 2.0 ** frac
    if rnd == 0:  # TRN
        r = math.floor(scaled)
    elif rnd == 1:  # TRN_ZERO
        r = math.floor(scaled) if scaled >= 0 else math.ceil(scaled)
    elif rnd == 2:  # RND
        r = math.floor(scaled + 0.5)
    elif rnd == 5:  # RND_MIN_INF
        r = math.ceil(scaled - 0.5)
    elif rnd == 3:  # RND_ZERO
        r = math.ceil(scaled - 0.5) if scaled > 0 else (math.floor(scaled + 0.5) if scaled < 0 else 0.0)
    elif rnd == 4:  # RND_INF
        r = math.floor(scaled + 0.5) if scaled > 0 else (math.ceil(scaled - 0.5) if scaled < 0 else 0.0)
    else:  # RND_CONV: ties to even
        f = math.floor(scaled)
        d = scaled - f
        odd = f - 2.0 * math.floor(f * 0.5) != 0.0  # exact: f is integral
        r = f + 1.0 if (d > 0.5 or (d == 0.5 and odd)) else f
    if abs(scaled) >= 4503599627370496.0:  # 2^52: already integral
        r = scaled
    lo, hi = bounds(width, signed)
    lo_f, hi_f = float(lo), float(hi)
    if ovf == 0:
        m = float(np.int64(1) << width)
        r = r - m * math.floor(r / m)  # r mod m in [0, m), exact for integral r
        if signed and r > hi_f:
            r -= m
    elif ovf == 1:
        r = lo_f if r < lo_f else (hi_f if r > hi_f else r)
    elif ovf == 3:
        low = -hi_f if signed else 0.0
        r = low if r < low else (hi_f if r > hi_f else r)
    else:
        r = 0.0 if (r < lo_f or r > hi_f) else r
    return np.int64(r)

def inputs(xt, first, n, buf, o, frac, width, signed, rnd, ovf):
    # xt: the block's inputs in input units, (feature, event)
    if rnd == 0 and ovf == 1:  # the usual input type: truncate, saturate
        scale = 2.0 ** frac
        lo, hi = bounds(width, signed)
        lo_f, hi_f = float(lo), float(hi)
        for j in range(xt.shape[0]):
            row, src = buf[o + j], xt[j]
            for e in range(n):
                r = math.floor(src[e] * scale)
                row[e] = np.int64(lo_f if r < lo_f else (hi_f if r > hi_f else r))
    else:
        for j in range(xt.shape[0]):
            for e in range(n):
                buf[o + j, e] = from_float(xt[j, e], frac, width, signed, rnd, ovf)

def epilogue(acc, buf, n, o, m, bias, up, aw, asg, aovf, shift, width, signed, rnd, ovf):
    # (sum << up) + bias, wrapped once to accum_t, then assigned to the result type
    for j in range(m):
        row = buf[o + j]
        b = bias[j]
        for e in range(n):
            row[e] = (acc[j, e] << up) + b
        requantize(row, n, 0, aw, asg, 0, aovf)
        requantize(row, n, shift, width, signed, rnd, ovf)

def dense(buf, n, i0, n_in, o, m, weight, bias, up, aw, asg, aovf, shift, width, signed, rnd, ovf):
    # the exact sum of products (int64: bounded by the types), output by output
    acc = np.zeros((m, n), np.int64)
    for j in range(m):
        for i in range(n_in):
            w = weight[i, j]
            if w != 0:  # pruned weights add nothing
                for e in range(n):
                    acc[j, e] += buf[i0 + i, e] * w
    epilogue(acc, buf, n, o, m, bias, up, aw, asg, aovf, shift, width, signed, rnd, ovf)

def dense_sequential(buf, n, i0, n_in, o, m, weight, bias, down, aw, asg, arnd, aovf, shift, width, signed, rnd,
                     ovf):
    # acc = bias; acc += (accum_t)(x_i * w_i) in input order, each sum assigned to accum_t
    acc = np.empty((m, n), np.int64)
    for j in range(m):
        for e in range(n):
            acc[j, e] = bias[j]
    prod = np.empty(n, np.int64)
    for i in range(n_in):
        src = buf[i0 + i]
        for j in range(m):
            w = weight[i, j]
            if w != 0:  # (accum_t)(x * 0) = 0, and acc + 0 = acc is already in range
                for e in range(n):
                    prod[e] = src[e] * w
                requantize(prod, n, down, aw, asg, arnd, aovf)
                dst = acc[j]
                for e in range(n):
                    dst[e] = dst[e] + prod[e]
                requantize(dst, n, 0, aw, asg, 0, aovf)
    for j in range(m):
        row = buf[o + j]
        for e in range(n):
            row[e] = acc[j, e]
        requantize(row, n, shift, width, signed, rnd, ovf)

def batchnorm(buf, n, i0, o, m, scale, bias, up, shift, width, signed, rnd, ovf):
    for j in range(m):
        row, src, s, b = buf[o + j], buf[i0 + j], scale[j], bias[j]
        for e in range(n):
            row[e] = ((src[e] * s) << up) + b
        requantize(row, n, shift, width, signed, rnd, ovf)

def activation(buf, n, i0, o, m, relu, shift, width, signed, rnd, ovf):
    for j in range(m):
        row, src = buf[o + j], buf[i0 + j]
        if relu:
            for e in range(n):
                v = src[e]
                row[e] = v if v > 0 else 0
        else:
            for e in range(n):
                row[e] = src[e]
        requantize(row, n, shift, width, signed, rnd, ovf)

def leaky(buf, n, i0, o, m, alpha, pos, neg, width, signed, rnd, ovf):
    a = np.empty(n, np.int64)
    for j in range(m):
        row, src = buf[o + j], buf[i0 + j]
        for e in range(n):
            row[e] = src[e]
            a[e] = src[e] * alpha
        requantize(row, n, pos, width, signed, rnd, ovf)
        requantize(a, n, neg, width, signed, rnd, ovf)
        for e in range(n):
            if src[e] <= 0:
                row[e] = a[e]

def merge(buf, n, i0, i1, o, m, code, sa, sb, shift, width, signed, rnd, ovf):
    for j in range(m):
        row, a, b = buf[o + j], buf[i0 + j], buf[i1 + j]
        if code == 0:
            for e in range(n):
                row[e] = (a[e] << sa) + (b[e] << sb)
        elif code == 1:
            for e in range(n):
                row[e] = (a[e] << sa) - (b[e] << sb)
        else:
            for e in range(n):
                row[e] = a[e] * b[e]
        requantize(row, n, shift, width, signed, rnd, ovf)

def quantizer(buf, n, i0, o, m, shifts, widths, signs, ups, rnd, ovf, width, signed, ornd, oovf):
    for j in range(m):
        row, src = buf[o + j], buf[i0 + j]
        if widths[j] == 0:  # hls4ml writes out[j] = 0
            for e in range(n):
                row[e] = 0
            continue
        for e in range(n):
            row[e] = src[e]
        requantize(row, n, shifts[j], widths[j], signs[j] != 0, rnd, ovf)
        requantize(row, n, ups[j], width, signed, ornd, oovf)
