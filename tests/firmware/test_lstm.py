"""LSTM autoencoders through hls4ml: converted, compiled, C-simulated, and emulated bit for bit.

Each case compiles a real hls4ml project with g++ (about 8 s). The vectors are min-max scaled
lumisection windows plus saturating, negative, zero and extreme inputs.
"""

import numpy as np
import pytest

from codesign import firmware
from codesign.core.models import build
from codesign.core.spec import LSTMAE
from codesign.firmware import fixed
from codesign.firmware.ops import LSTMOp, activation_tables, table_index
from codesign.firmware.options import FirmwareOptions
from codesign.firmware.program import Program
from codesign.hardware import estimate, graph

STEPS, BINS = 8, 6


def _vectors(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    calib = rng.random((2000, STEPS * BINS))
    n_in = STEPS * BINS
    edges = np.array([np.zeros(n_in), np.ones(n_in), np.full(n_in, 1e6), np.full(n_in, -1e6),
                      np.full(n_in, 40.0), np.full(n_in, -40.0), np.where(np.arange(n_in) % 2, 3.0, -3.0),
                      np.full(n_in, 1e-9)])
    x = np.concatenate([edges, rng.random((n, n_in)), rng.uniform(-5, 10, (n // 4, n_in)),
                        rng.standard_cauchy((n // 4, n_in))])
    return calib, x


def _build(tmp_path, seed=0, options=None, **spec_fields):
    spec = LSTMAE(**spec_fields)
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = build(spec, (STEPS, BINS))
    calib, x = _vectors(300)
    fw = firmware.build(model, spec, None, calib, options or FirmwareOptions(score_head=False), cache_dir=tmp_path,
                        input_groups=["bins"] * (STEPS * BINS))
    return model, fw, x


CASES = {
    "sparse-float": dict(variant="sparse", units=(8,)),
    "undercomplete-qlstm8": dict(variant="undercomplete", units=(8, 4), quantization={"weight": {"bits": 8}}),
    "undercomplete-relu": dict(variant="undercomplete", units=(6, 3), activation="relu"),
    "sparse-oldest-qlstm6": dict(variant="sparse", units=(8,), reconstruct="oldest",
                                 quantization={"weight": {"bits": 6}}),
}


@pytest.mark.parametrize("name", CASES)
def test_lstm_autoencoder_csim_and_emulator_agree_bit_for_bit(name, tmp_path):
    model, fw, x = _build(tmp_path, **CASES[name])
    emulated, csim = fw.emulate(x)[0], fw.csim(x)[0]
    exact = np.all(emulated == csim, axis=1)
    assert exact.all(), f"{(~exact).sum()} of {len(x)} vectors differ, first at {np.argmax(~exact)}"
    assert any(isinstance(op, LSTMOp) for op in fw.program.ops)
    assert fw.output_types and emulated.shape[1] == (BINS if CASES[name].get("reconstruct") else STEPS * BINS)
    # The firmware computes what the Keras model computes, to the precision of its fixed-point state.
    windows = x[8:308]
    keras = model.predict(windows.reshape(-1, STEPS, BINS), verbose=0).reshape(len(windows), -1)
    assert np.abs(fixed.to_float(emulated[8:308], fw.output_types[0].frac) - keras).max() < 0.1
    # Saturating inputs saturate, they never wrap: +1e6 and -1e6 give different reconstructions.
    assert not np.array_equal(emulated[2], emulated[3])


def test_resource_strategy_with_reuse_is_bit_exact_and_serialises(tmp_path):
    options = FirmwareOptions(score_head=False, strategy="resource", reuse_factor=4)
    _, fw, x = _build(tmp_path, options=options, variant="sparse", units=(8,), quantization={"weight": {"bits": 6}})
    rows = {r["layer"]: r for r in fw.info["precisions"]}
    assert rows["enc_lstm1"]["strategy"] == "resource" and rows["enc_lstm1"]["reuse_factor"] > 1
    emulated = fw.emulate(x)[0]
    assert np.array_equal(emulated, fw.csim(x)[0])
    again = Program.from_json(fw.program.to_json())
    assert np.array_equal(again.run(fw.to_units(x))[0], emulated)


def test_activation_tables_are_hls4mls():
    t = fixed.FixedType(18, 8)
    sigmoid, tanh = activation_tables(t, 1024)
    s, h = fixed.to_float(sigmoid, t.frac), fixed.to_float(tanh, t.frac)
    assert len(s) == len(h) == 1024 and np.all(np.diff(s) >= 0) and np.all(np.diff(h) >= 0)
    assert s[512] == 0.5 and h[512] == 0.0  # index 512 is x = 0
    # entries are sigmoid/tanh at the left edge of each bin, truncated to 10 fractional bits
    x_s, x_t = (np.arange(1024) - 512) * 16 / 1024, (np.arange(1024) - 512) * 8 / 1024
    assert np.all(np.abs(s - 1 / (1 + np.exp(-x_s))) < 2 ** -10 + 1e-7)
    assert np.all(np.abs(h - np.tanh(x_t)) < 2 ** -10 + 1e-7)


def test_table_index_truncates_toward_zero():
    # value = v / 2^4; sigmoid index = int(value * 64) + 512, C's int() truncating toward zero
    v = np.array([-17, -16, -1, 0, 1, 17, 10_000, -10_000])
    expected = [int(x / 16 * 64) + 512 for x in v]
    expected = np.clip(expected, 0, 1023)
    assert np.array_equal(table_index(v, 4, 64, 1024), expected)


def test_estimate_counts_one_cell_reused_over_the_steps(tmp_path):
    _, fw, _ = _build(tmp_path, variant="sparse", units=(8,))
    g = graph.from_firmware(fw)
    cells = [la for la in g.layers if la.name.startswith("enc_lstm1_")]
    assert {la.steps for la in cells} == {STEPS}
    est = estimate.estimate(g)
    assert "reused over their time steps" in est.description
    by_name = {la.name: la for la in est.layers}
    assert by_name["enc_lstm1_x"].cycles >= STEPS and by_name["enc_lstm1_x"].ii >= STEPS
    assert est.latency_cycles >= 2 * STEPS  # two LSTM layers, one after the other
    # the time-distributed output dense is unrolled: STEPS copies of an 8 x 6 dense layer
    assert by_name["output"].lut > 0 and [la.copies for la in g.layers if la.name == "output"] == [STEPS]


def test_score_head_is_refused_for_sequences(tmp_path):
    from codesign.errors import FirmwareError

    with pytest.raises(FirmwareError, match="score_head: false"):
        _build(tmp_path, options=FirmwareOptions(), variant="sparse", units=(4,))
