"""Bit accuracy: hls4ml C-simulation, the numpy emulator and (where defined exactly) QKeras agree on every bit.

Each case compiles a real hls4ml project with g++. The default run covers one case per
corner of the parameter space; `pytest -m slow` runs the full grid.
"""

import itertools
import re

import numpy as np
import pytest

from codesign import firmware
from codesign.firmware import fixed

from .cases import Case, vectors

FAST_CASES = [
    Case("2bit-w-3bit-a-vivado", bits=2, integer=0, act_bits=3, act_integer=1, encoder=(5,), latent=3,
         backend="Vivado"),
    Case("8bit-rf4-resource-pruned50", bits=8, integer=0, act_bits=8, act_integer=2, encoder=(16, 8), latent=4,
         sparsity=0.5, reuse_factor=4, strategy="resource"),
    Case("16bit-int6-leaky-pruned90", bits=16, integer=6, act_bits=12, act_integer=6, encoder=(8,), latent=2,
         sparsity=0.9, reuse_factor=2, activation="leaky_relu"),
    Case("4bit-int2-batchnorm-rf8", bits=4, integer=2, act_bits=6, act_integer=3, encoder=(12,), latent=3,
         reuse_factor=8, strategy="resource", batchnorm=True),
]

SLOW_CASES = [
    Case(f"w{b}i{i}-a{a}-rf{rf}-s{int(s * 100)}-{strategy}", bits=b, integer=i, act_bits=a, act_integer=min(i + 1, a - 1),
         encoder=(e, max(e // 2, 2)), latent=3, sparsity=s, reuse_factor=rf, strategy=strategy)
    for (b, i, a), e, s, (rf, strategy) in itertools.product(
        [(2, 0, 2), (3, 1, 4), (6, 0, 8), (8, 3, 8), (10, 4, 12), (16, 6, 16)], [8, 20], [0.0, 0.5, 0.9],
        [(1, "latency"), (3, "resource"), (8, "resource")])
]


def check(case: Case, tmp_path, n_vectors: int):
    model = case.model()
    calib, x = vectors(case.n_inputs, n_vectors)
    fw = firmware.build(model, case.spec(), None, calib, case.options(), cache_dir=tmp_path)
    csim = fw.csim(x)[0]
    for engine in ("compiled", "numpy"):  # the compiled loops and the numpy reference ops, each against C-sim
        emulated = fw.emulate(x, engine=engine)[0]
        exact = np.all(emulated == csim, axis=1)
        assert exact.all(), f"{engine}: {(~exact).sum()} of {len(x)} vectors differ, first at {np.argmax(~exact)}"
    # The score path saturates instead of wrapping: an out-of-range event can never wrap round to a low score.
    assert all(op.out.overflow == "SAT" for op in fw.program.ops if op.name.startswith("score"))
    assert fw.program.input.out.overflow == "SAT"
    # the generated C++ really shares its multipliers: every dense layer's config carries the reuse factor
    # (or the nearest one hls4ml accepts for the layer's shape)
    params = (fw.project_dir / "firmware" / "parameters.h").read_text()
    used = {int(rf) for rf in re.findall(r"reuse_factor = (\d+);", params)}
    assert used == {1} if case.reuse_factor == 1 else min(used) > 1
    recorded = {row["reuse_factor"] for row in fw.info["precisions"] if row.get("class") == "Dense"}
    assert recorded <= used
    return fw, x


@pytest.mark.parametrize("case", FAST_CASES, ids=lambda c: c.name)
def test_csim_and_emulator_agree_bit_for_bit(case, tmp_path):
    check(case, tmp_path, n_vectors=3000)


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES, ids=lambda c: c.name)
def test_bit_accuracy_grid(case, tmp_path):
    check(case, tmp_path, n_vectors=20_000)


@pytest.mark.parametrize("case", FAST_CASES[:2], ids=lambda c: c.name)
def test_qkeras_agrees_where_its_quantizers_define_the_result(case, tmp_path):
    """Without BN and with a wide output, every firmware value is a QKeras value: compare the reconstructions.

    Inputs are put on the firmware's input grid first (the firmware truncates raw floats),
    and kept inside the input range (QKeras does not saturate its inputs).
    """
    model = case.model()
    calib, x = vectors(case.n_inputs, 2000)
    options = case.options(score_head=False, layers={"output": {"result": "fixed<40,16>"}})
    fw = firmware.build(model, case.spec(), None, calib, options, cache_dir=tmp_path)
    x = x[np.abs(x).max(axis=1) < np.abs(calib).max()]
    units = fw.units
    on_grid = np.ldexp(fixed.from_float(units.to_units(x), units.type).astype(np.float64), units.exponents[None, :])
    emulated = fixed.to_float(fw.emulate(on_grid)[0], fw.output_types[0].frac)
    keras = model.predict(on_grid.astype(np.float32), verbose=0).astype(np.float64)
    assert np.array_equal(emulated, keras), np.abs(emulated - keras).max()
