"""Firmware building: refusals with clear errors, caching, compiler failures, VAE and float models."""

import os
import time

import numpy as np
import pytest
import tensorflow as tf

from codesign import firmware
from codesign.core import models
from codesign.core.spec import VAE, DenseAE, FixedPoint, Quantization
from codesign.errors import FirmwareError, ToolError
from codesign.firmware import csim

from .cases import Case, vectors

Q6 = Quantization(weight=FixedPoint(bits=6, integer=0), activation=FixedPoint(bits=6, integer=2))


def test_unsupported_layers_are_listed():
    inp = tf.keras.Input((6,), name="inputs")
    x = tf.keras.layers.Dense(4, activation="relu", name="fused")(inp)
    x = tf.keras.layers.Activation("tanh", name="soft")(x)
    x = tf.keras.layers.Reshape((2, 2), name="shape")(x)
    model = tf.keras.Model(inp, tf.keras.layers.Flatten(name="flat")(x))
    with pytest.raises(FirmwareError) as err:
        firmware.build(model, None, None, np.ones((10, 6)))
    message = str(err.value)
    for part in ("fused (Dense with a built-in relu activation)", "soft (float tanh activation",
                 "shape (Reshape)", "flat (Flatten)"):
        assert part in message
    assert "\n" not in message


def test_vae_needs_a_deployable_score():
    model = models.build(VAE(encoder=(8,), latent=2, score="kl", activation="relu", quantization=Q6), (10,))
    with pytest.raises(FirmwareError, match="score: radius"):
        firmware.build(model, VAE(encoder=(8,), latent=2, score="kl"), None, np.ones((10, 10)))


def test_vae_encoder_radius_is_bit_exact(tmp_path):
    spec = VAE(encoder=(12, 6), latent=3, score="radius", activation="relu", input_batchnorm=False,
               batchnorm=False, quantization=Q6)
    model = models.build(spec, (10,))
    calib, x = vectors(10, 2000)
    fw = firmware.build(model, spec, None, calib, cache_dir=tmp_path)
    names = [op.name for op in fw.program.ops]
    assert "z_mean" in names and "z_log_var" not in names and "dec_dense1" not in names  # the encoder alone
    assert np.array_equal(fw.emulate(x)[0], fw.csim(x)[0])
    inside = x[10:210]  # past the edge vectors, which saturate in firmware but not in Keras
    z = models.vae_encoder(model).predict(inside, verbose=0)[0]
    assert np.corrcoef(fw.score(inside), np.sum(z**2, axis=1))[0, 1] > 0.99


def test_float_model_gets_derived_precisions_and_is_bit_exact(tmp_path):
    spec = DenseAE(encoder=(16, 8), latent=3)  # the seed-004 float recipe: BN + LeakyReLU(0.3)
    model = models.build(spec, (10,))
    calib, x = vectors(10, 2000)
    model.predict(calib[:100], verbose=0)
    fw = firmware.build(model, spec, None, calib, cache_dir=tmp_path)
    table = {row["layer"]: row for row in fw.info["precisions"]}
    assert table["enc_dense1_act"]["class"] == "ParametrizedActivation"
    assert table["inputs"]["result"].startswith("fixed<16,16")
    assert np.array_equal(fw.emulate(x)[0], fw.csim(x)[0])


def test_same_firmware_is_compiled_once(tmp_path):
    case = Case("cache", bits=4, integer=1, act_bits=4, act_integer=2, encoder=(4,), latent=2)
    model = case.model()
    calib, x = vectors(case.n_inputs, 100)
    first = firmware.build(model, case.spec(), None, calib, cache_dir=tmp_path)
    lib = first.directory / first.info["library"]
    stamp = lib.stat().st_mtime_ns
    start = time.perf_counter()
    second = firmware.build(model, case.spec(), None, calib, cache_dir=tmp_path)
    assert second.directory == first.directory and lib.stat().st_mtime_ns == stamp
    assert time.perf_counter() - start < 5  # no g++ run: the cached library is loaded
    assert np.array_equal(second.csim(x)[0], first.emulate(x)[0])
    other = firmware.build(model, case.spec(), None, calib, case.options(reuse_factor=2), cache_dir=tmp_path)
    assert other.directory != first.directory


def test_missing_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolError, match="g\\+\\+ not found"):
        csim.require_compiler()


def test_compiler_failure_names_the_log(tmp_path):
    case = Case("broken", bits=4, integer=1, act_bits=4, act_integer=2, encoder=(4,), latent=2)
    fw = firmware.build(case.model(), case.spec(), None, vectors(case.n_inputs, 10)[0], cache_dir=tmp_path)
    project = fw.project_dir
    (project / "firmware" / f"{firmware.firmware.PROJECT_NAME}.cpp").write_text("this is not C++\n")
    with pytest.raises(ToolError, match=r"build_lib\.log"):
        csim.build(project, firmware.firmware.PROJECT_NAME, "fffffff0")
    assert "error" in (project / "build_lib.log").read_text()
    assert os.path.isfile(project / "build_lib.log")


def test_a_library_that_aborts_fails_the_build_not_the_process(tmp_path):
    """hls4ml's C++ asserts abort whoever calls it: the first call happens in a child process."""
    src = tmp_path / "fw.cpp"
    src.write_text('#include <cassert>\nextern "C" void codesign_fw_double(double* x, double* y) '
                   '{ assert(x[0] > 1.0 && "RF > N_IN"); y[0] = x[0]; }\n')
    lib = tmp_path / "firmware" / "codesign_fw-0.so"
    lib.parent.mkdir()
    os.system(f"g++ -shared -fPIC {src} -o {lib}")
    with pytest.raises(ToolError, match="aborts on its first call: .*RF > N_IN"):
        csim.smoke_test(lib, "codesign_fw", 1, [1])
    (tmp_path / "ok.cpp").write_text('extern "C" void codesign_fw_double(double* x, double* y) { y[0] = x[0]; }\n')
    os.system(f"g++ -shared -fPIC {tmp_path / 'ok.cpp'} -o {lib}")
    csim.smoke_test(lib, "codesign_fw", 1, [1])


def test_input_units_are_shared_per_physical_quantity():
    from codesign.data.adc2021 import input_quantities
    from codesign.firmware.convert import InputUnits

    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(0, 1, (1000, 57)))
    x[:, 3::3] *= 100.0  # pT-like columns of the 19 objects (MET first)
    x[:, 3] *= 10.0  # the leading e/gamma pT reaches furthest...
    x[:, 24] = 0.0  # ...while a rarely filled slot never fires in calibration
    units = InputUnits.derive(x, 16, 2.0, input_quantities())
    pt = units.exponents[0::3]
    assert (pt == pt[0]).all(), "every pT input shares the widest pT range"
    assert units.exponents[1] == units.exponents[4]  # eta inputs share theirs
    alone = InputUnits.derive(x, 16, 2.0)
    assert alone.exponents[24] < units.exponents[24]  # per-slot ranges would saturate the empty slot first


def test_bounded_preprocessing_saturates_in_the_input_type_exactly(tmp_path):
    """The bounded preprocessing's clip is the firmware's input saturation: units end at the range."""
    from codesign.core.preprocessing import Preprocessor
    from codesign.firmware.convert import InputUnits

    rng = np.random.default_rng(1)
    x = np.abs(rng.normal(0, 1, (5000, 6))) * np.array([40.0, 1.5, 2.0, 30.0, 1.0, 2.5])
    x[:, 3] *= rng.uniform(size=5000) < 0.3  # a rarely filled slot
    groups = ["pt", "eta", "phi", "pt", "eta", "phi"]
    pre = Preprocessor.fit("bounded", x, groups)
    assert list(pre.range) == [256.0, 8.0, 8.0, 256.0, 8.0, 8.0] and list(pre.scale) == list(pre.range)
    slot = Preprocessor.fit("bounded_slot", x, groups)
    assert slot.range[0] == 256.0 and slot.range[3] == 128.0  # each pT slot its own range
    units = InputUnits.saturating_at(pre.range, 16)
    assert [f.max_value for f in units.formats()] == [256.0 - 2.0**-7, 8.0 - 2.0**-12, 8.0 - 2.0**-12] * 2
    spec = DenseAE(encoder=(8,), latent=2, activation="relu", input_batchnorm=False, batchnorm=False,
                   quantization=Quantization(weight=FixedPoint(bits=8, integer=1),
                                             activation=FixedPoint(bits=8, integer=1)))
    tf.keras.utils.set_random_seed(2)
    model = models.build(spec, (6,))
    extreme = np.array([[1e4, 50.0, -9.0, 3e3, -40.0, 9.0], [0.0] * 6, [255.9, 7.9, -7.9, 0.0, 0.0, 0.0]])
    xs = np.concatenate([extreme, x[:2000]])
    fw = firmware.build(model, spec, pre, x, cache_dir=tmp_path)
    assert np.array_equal(fw.units.exponents, units.exponents)
    assert np.array_equal(fw.emulate(xs)[0], fw.csim(xs)[0])
    # within the calibration's ranges the firmware's score is the Keras model's on the clipped, scaled inputs
    inside = x[:2000]
    keras = np.sum((model.predict(pre.transform(inside), verbose=0) - pre.transform(inside)) ** 2, axis=1)
    assert np.allclose(fw.score(inside), keras, rtol=0.03, atol=0.01)
    assert fw.score(extreme[:1])[0] == fw.score(np.minimum(extreme[:1], pre.range))[0]  # beyond the range: saturated
