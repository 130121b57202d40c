"""The compiled loops against the numpy reference ops, on every rounding and overflow mode.

The numpy ops are themselves checked against ap_fixed (test_fixed.py) and hls4ml's C-simulation
(test_bit_accuracy.py, which also runs the compiled loops against C-sim); here programs built
by hand reach the paths trained models rarely take: lossy and saturating accumulators (the
latency template's sequential sum), every quantization and overflow mode, leaky ReLU, merges.
"""

import itertools

import numpy as np
import pytest

from codesign.firmware import fixed, kernel
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops import ActivationOp, BatchNormOp, DenseOp, IdentityOp, InputOp, LeakyReLUOp, MergeOp
from codesign.firmware.program import Program

MODES = list(itertools.product(fixed.ROUNDING, fixed.OVERFLOW))


@pytest.fixture(scope="module")
def loops():
    return kernel._loops()


@pytest.mark.parametrize("signed", [True, False])
def test_requantize_is_fixed_cast_in_every_mode(loops, signed):
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.integers(-2**40, 2**40, 3000), np.arange(-70, 70), [2**45, -2**45, 0, 1, -1]])
    for rounding, overflow in MODES:
        for shift in (-3, 0, 1, 4, 17):
            t = FixedType(12, 4, signed, rounding, overflow)
            frac_in = t.frac + shift
            row = v.copy() if shift >= 0 else v >> 8  # room for the left shift
            expected = fixed.cast(row, frac_in, t)
            got = row.copy()
            loops.requantize(got, len(got), shift, t.width, t.signed, kernel.ROUNDING[rounding],
                             kernel.OVERFLOW[overflow])
            assert np.array_equal(got, expected), (rounding, overflow, shift)


def test_float_inputs_convert_as_fixed_from_float_in_every_mode(loops):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(0, 300, 2000), np.arange(-8, 8, 0.25), [0.5, -0.5, 1.5, -1.5, 2.5, -2.5],
                        [1e6, -1e6, 1e-9, -1e-9, 2.0**52, -2.0**52 - 2]])
    for signed in (True, False):
        for rounding, overflow in MODES:
            t = FixedType(10, 6, signed, rounding, overflow)
            expected = fixed.from_float(x, t)
            got = np.array([loops.from_float(v, t.frac, t.width, t.signed, kernel.ROUNDING[rounding],
                                             kernel.OVERFLOW[overflow]) for v in x])
            assert np.array_equal(got, expected), (signed, rounding, overflow)


def _t(text: str) -> FixedType:
    return FixedType.parse(text)


def _program(rng, accum: str, result: str, n_in: int = 9, n_hidden: int = 7, sparsity: float = 0.3) -> Program:
    """input -> dense (given accumulator) -> batch norm -> leaky relu -> dense -> (x - y)^2 -> sum."""
    w1 = rng.integers(-128, 128, (n_in, n_hidden)) * (rng.uniform(size=(n_in, n_hidden)) > sparsity)
    w2 = rng.integers(-128, 128, (n_hidden, n_in))
    ops = [
        InputOp("x", [], _t("fixed<12,6,RND_CONV,SAT>")),
        DenseOp("d1", ["x"], _t(result), weight=w1, weight_type=_t("fixed<8,1>"),
                bias=rng.integers(-64, 64, n_hidden), bias_type=_t("fixed<8,2>"), accum=_t(accum)),
        BatchNormOp("bn", ["d1"], _t("fixed<14,5,RND,SAT>"), scale=rng.integers(-50, 50, n_hidden),
                    scale_type=_t("fixed<8,3>"), bias=rng.integers(-200, 200, n_hidden), bias_type=_t("fixed<10,4>")),
        LeakyReLUOp("lr", ["bn"], _t("fixed<10,4,TRN,SAT_SYM>"), alpha=3, param_type=_t("ufixed<4,0>")),
        ActivationOp("act", ["lr"], _t("ufixed<8,3,RND_INF,SAT>"), activation="relu"),
        DenseOp("d2", ["act"], _t("fixed<16,7,RND_ZERO,WRAP>"), weight=w2, weight_type=_t("fixed<8,2>"),
                bias=rng.integers(-64, 64, n_in), bias_type=_t("fixed<8,2>"), accum=_t(accum)),
        MergeOp("diff", ["d2", "x"], _t("fixed<18,8,TRN,SAT>"), op="subtract"),
        MergeOp("sq", ["diff", "diff"], _t("ufixed<20,12,RND_MIN_INF,SAT_ZERO>"), op="multiply"),
        MergeOp("sum", ["sq", "act2"], _t("fixed<24,14,TRN_ZERO,SAT>"), op="add"),
        IdentityOp("out", ["sum"], _t("fixed<20,10,RND_CONV,WRAP>")),
    ]
    ops.insert(8, ActivationOp("act2", ["sq"], _t("ufixed<16,10>"), activation="linear"))
    return Program(ops, ["out", "act"])


@pytest.mark.parametrize("accum", ["fixed<40,20>", "fixed<14,4>", "fixed<14,4,RND,SAT>", "fixed<16,9,TRN,SAT>",
                                   "fixed<12,3,RND_CONV,SAT_SYM>", "ufixed<18,9,TRN_ZERO,SAT_ZERO>"])
def test_compiled_program_equals_the_numpy_ops(accum):
    """Exact and lossy accumulators (the sequential sum), saturating everywhere: the same integers."""
    rng = np.random.default_rng(hash(accum) % 2**32)
    prog = _program(rng, accum, "fixed<16,6,RND_CONV,SAT>")
    x = np.concatenate([rng.normal(0, 8, (4000, 9)), rng.choice([-1e6, 0.0, 1e6, 31.99, -32.0], (200, 9))])
    assert prog.compiled(9) is not None
    ref = prog.run(x, engine="numpy")
    got = prog.run(x, engine="compiled")
    for a, b in zip(ref, got):
        assert np.array_equal(a, b)
    # the same through physical units: x * 2^-e read in place of a separate pass
    exps = rng.integers(-3, 4, 9)
    assert all(np.array_equal(a, b) for a, b in zip(prog.run(np.ldexp(x, exps), engine="numpy", exponents=exps),
                                                     prog.run(np.ldexp(x, exps), exponents=exps)))


def test_programs_beyond_int64_run_on_the_numpy_ops():
    rng = np.random.default_rng(3)
    prog = _program(rng, "fixed<70,30>", "fixed<16,6,RND_CONV,SAT>")
    assert prog.compiled(9) is None and "wider than int64" in prog._not_compiled
    x = rng.normal(0, 4, (50, 9))
    assert np.array_equal(prog.run(x)[0], prog.run(x, engine="numpy")[0])
    with pytest.raises(ValueError, match="cannot run compiled"):
        prog.run(x, engine="compiled")


def test_non_finite_inputs_are_refused_by_both_engines():
    prog = _program(np.random.default_rng(4), "fixed<40,20>", "fixed<16,6>")
    x = np.zeros((10, 9))
    x[3, 2] = np.nan
    for engine in ("compiled", "numpy"):
        with pytest.raises(ValueError, match="non-finite"):
            prog.run(x, engine=engine)


@pytest.mark.parametrize("rounding,overflow", [("TRN", "WRAP"), ("RND", "SAT"), ("RND", "WRAP"), ("TRN", "SAT"),
                                               ("RND_CONV", "SAT_SYM")])
def test_compiled_hgq_quantizer_equals_the_numpy_op(rounding, overflow):
    """HGQ's per-element quantizer: each element its own signedness, width (0 = held at 0) and point."""
    from codesign.firmware.ops import FixedPointQuantizerOp

    rng = np.random.default_rng(7)
    k, b = rng.integers(0, 2, 9), rng.integers(0, 8, 9)
    i = rng.integers(-2, 5, 9)
    container = fixed.mask_container(k, b, i)
    ops = [InputOp("x", [], _t("fixed<14,6,RND_CONV,SAT>")),
           FixedPointQuantizerOp("q", ["x"], container, keep_negative=k.tolist(), bits=b.tolist(), integers=i.tolist(),
                                 rounding=rounding, overflow=overflow)]
    prog = Program(ops, ["q"])
    x = np.concatenate([rng.normal(0, 6, (4000, 9)), rng.choice([-1e6, 0.0, 1e6, 31.99, -32.0], (200, 9))])
    assert prog.compiled(9) is not None
    (ref,), (got,) = prog.run(x, engine="numpy"), prog.run(x, engine="compiled")
    assert np.array_equal(ref, got)
    assert np.all(ref[:, b == 0] == 0) and np.all(ref[:, (b > 0) & (k == 0)] >= 0)
