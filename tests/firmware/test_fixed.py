"""The emulator's ap_fixed arithmetic against the real ap_fixed headers (compiled with g++)."""

import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType

AP_TYPES = None


def ap_types_dir() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


SOURCE = FixedType(14, 5, True)  # values cast from here to every target below
TARGETS = [FixedType(w, i, s, q, o)
           for (w, i), s, q, o in itertools.product([(6, 2), (4, 0), (8, 6), (5, -1), (10, 12)], [True, False],
                                                    fixed.ROUNDING, fixed.OVERFLOW)
           if not (o == "SAT_SYM" and not s)]


def ctype(t: FixedType) -> str:
    return (f"ap_{'' if t.signed else 'u'}fixed<{t.width},{t.integer},AP_{t.rounding},AP_{t.overflow}>")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    assert shutil.which("g++"), "g++ is required"
    d = tmp_path_factory.mktemp("apfixed")
    lines = ['#include "ap_fixed.h"', "#include <cstdio>", "#include <cmath>", "int main() {",
             "  int n; scanf(\"%d\", &n);", "  double *x = new double[n];",
             "  for (int i = 0; i < n; i++) scanf(\"%lf\", &x[i]);"]
    for k, t in enumerate(TARGETS):
        lines += [f"  for (int i = 0; i < n; i++) {{ {ctype(SOURCE)} s = x[i]; {ctype(t)} a = s; {ctype(t)} b = x[i];",
                  f"    printf(\"%d %d %.0f %.0f\\n\", {k}, i, std::ldexp(a.to_double(), {t.frac}),"
                  f" std::ldexp(b.to_double(), {t.frac})); }}"]
    lines += ["  return 0; }"]
    (d / "h.cpp").write_text("\n".join(lines))
    subprocess.run(["g++", "-O1", "-std=c++14", f"-I{ap_types_dir()}", "h.cpp", "-o", "h"], cwd=d, check=True)
    return d / "h"


def test_casts_and_float_conversion_match_ap_fixed(harness):
    rng = np.random.default_rng(0)
    src = rng.integers(SOURCE.int_min, SOURCE.int_max + 1, 400)
    # ties, zeros and the extremes of the source range
    src = np.concatenate([src, [0, 1, -1, 2, -2, 3, -3, SOURCE.int_min, SOURCE.int_max, 8, -8, 24, -24]])
    x = fixed.to_float(src, SOURCE.frac)
    # Raw doubles, including values beyond every range and not on any grid.
    raw = np.concatenate([x + rng.uniform(-0.03, 0.03, len(x)), [1e6, -1e6, 123.456, -0.0001, 2.0**40 + 0.5]])
    stdin = f"{len(raw)}\n" + "\n".join(repr(float(v)) for v in raw)
    out = subprocess.run([str(harness)], input=stdin, capture_output=True, text=True, check=True).stdout.split()
    table = np.array(out, dtype=np.float64).reshape(-1, 4)
    src_ints = fixed.from_float(raw, SOURCE)
    mismatches = []
    for k, t in enumerate(TARGETS):
        rows = table[table[:, 0] == k]
        casted = fixed.cast(src_ints, SOURCE.frac, t, bits_in=SOURCE.width)
        direct = fixed.from_float(raw, t)
        if not np.array_equal(casted, rows[:, 2].astype(np.int64)):
            mismatches.append(f"cast to {t}")
        if not np.array_equal(direct, rows[:, 3].astype(np.int64)):
            mismatches.append(f"from double to {t}")
    assert not mismatches, mismatches


def test_parse_type_strings():
    t = FixedType.parse("ap_ufixed<8,3,AP_RND_CONV,AP_SAT>")
    assert (t.width, t.integer, t.signed, t.rounding, t.overflow) == (8, 3, False, "RND_CONV", "SAT")
    assert FixedType.parse("fixed<16,6>") == FixedType(16, 6)
    assert FixedType.parse("ap_int<8>") == FixedType(8, 8)
    assert str(FixedType(8, 3, False, "RND", "SAT")) == "ufixed<8,3,RND,SAT>"
    with pytest.raises(ValueError, match="cannot parse"):
        FixedType.parse("float32")


def test_wide_values_stay_exact():
    t = FixedType(90, 60)
    v = np.array([2**60 + 1, -(2**61) - 3], dtype=object)
    out = fixed.cast(v, 10, t)
    assert out.dtype == object and list(out) == [(2**60 + 1) << 20, (-(2**61) - 3) << 20]


def test_exact_type_holds_every_value_on_its_grid():
    from codesign.firmware.fixed import exact_type

    w = np.array([0.75, -1.5, 0.0, 0.015625, 3.0])
    t = exact_type(w)
    assert t.frac == 6 and t.min_value <= -1.5 and t.max_value >= 3.0
    assert np.array_equal(fixed.to_float(fixed.from_float(w, t), t.frac), w)
    assert exact_type([0.1]) is None  # not on any grid of at most 32 fractional bits


def test_mask_container_holds_each_element_type():
    from codesign.firmware.fixed import mask_container

    # signed <4,2> (-2 .. 1.75), unsigned <3,3> (0 .. 7), unsigned <5,-1> (0 .. 0.48), and a 0-bit element
    t = mask_container([1, 0, 0, 1], [4, 3, 5, 0], [2, 3, -1, 5])
    assert t.signed and t.frac == 6 and t.max_value >= 7 and t.min_value <= -2
    assert t.width == 4 + 6  # integer bits: 3 for the unsigned <3,3> plus a sign; fraction from <5,-1>
    assert mask_container([0, 0], [3, 2], [1, 2]) == FixedType(4, 2, False)
    assert mask_container([1], [0], [0]) == FixedType(1, 1, False)  # every element 0
