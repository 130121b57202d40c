"""HGQ (heterogeneous quantization) models: the emulator's per-element quantizer, bit for bit against C-sim.

The default test trains a small HGQ autoencoder with codesign's core (`quantizer: hgq`), builds
its firmware the way every candidate is built, and compares every output bit of the emulator
with hls4ml's C-simulation on background-like, saturating and extreme inputs. The slow ones
repeat that for several betas and take HGQ's own proxy straight to hls4ml (its bit-exact pass on).
"""

import numpy as np
import pytest

from codesign import evaluation
from codesign.core import models
from codesign.core.hgq import HGQTraining
from codesign.core.preprocessing import Preprocessor
from codesign.core.spec import VAE, DenseAE
from codesign.core.trainer import Training, fit
from codesign.firmware import firmware, fixed, program
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops import FixedPointQuantizerOp, Tensor, op_from_dict
from codesign.firmware.options import FirmwareOptions
from codesign.hardware import analytic, graph


def test_each_element_is_cast_to_its_own_type():
    """Hand case: element 0 signed 4 bits (1 fractional), 1 unsigned 3 bits (1 fractional), 2 zero bits."""
    op = FixedPointQuantizerOp("q", ["x"], FixedType(8, 4), keep_negative=[1, 0, 1], bits=[4, 3, 0],
                               integers=[3, 2, 2], rounding="RND", overflow="SAT")
    x_t = FixedType(12, 6)
    x = fixed.from_float(np.array([[1.3, 1.3, 1.3], [-7.0, -1.0, 5.0], [9.9, 9.9, 9.9], [1.25, 0.75, 0.0]]), x_t)
    out = op.run({"x": Tensor(x, x_t)})
    got = fixed.to_float(out.values, out.type.frac)
    # RND to 0.5 steps (ties up); SAT to [-4, 3.5] signed and [0, 3.5] unsigned; the third element is always 0
    np.testing.assert_array_equal(got, [[1.5, 1.5, 0.0], [-4.0, 0.0, 0.0], [3.5, 3.5, 0.0], [1.5, 1.0, 0.0]])
    assert op_from_dict(op.to_dict()) == op


def _inputs(rng, n: int) -> np.ndarray:
    """Background-like events at three scales: 30 x the training spread saturates every quantizer."""
    return np.concatenate([rng.normal(size=(n, 19)) * s for s in (1, 3, 30)])


def _trained(beta: float, seed: int = 1, kind=DenseAE, **extra):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(6000, 19)).astype(np.float32)
    spec = kind(encoder=(12, 6), latent=3, activation="relu", batchnorm=True, input_batchnorm=False,
                quantizer="hgq", **extra)
    training = Training(epochs=3, batch_size=256, hgq=HGQTraining(beta=beta))
    fitted = fit(models.build(spec, (19,), training.hgq), x, x, x[:1000], x[:1000], training, seed=seed)
    return spec, fitted, x


def _firmware(spec, fitted, x, tmp_path):
    pre = Preprocessor.fit("standard", x)
    return firmware.build(fitted.model, spec, pre, x, FirmwareOptions(), "xcvu9p-flga2104-2L-e", 5.0,
                          cache_dir=tmp_path)


def test_an_hgq_autoencoder_is_bit_exact_with_its_csim(tmp_path):
    spec, fitted, x = _trained(beta=3e-5)
    # training ends in HGQ's proxy: quantizers with per-element widths, the zero-bit weights pruned
    assert fitted.ebops > 0 and 0 < sum(fitted.sparsity.values())
    fw = _firmware(spec, fitted, x, tmp_path)
    quantizers = [op for op in fw.program.ops if isinstance(op, FixedPointQuantizerOp)]
    assert quantizers and any(len(set(op.bits)) > 1 for op in quantizers)  # heterogeneous, not fused away
    check = evaluation.check_bit_exact(fw, _inputs(np.random.default_rng(2), 10_000), 30_000)
    assert check.n_exact == check.n_events == 30_000 + check.n_edge
    # the per-element types reach the firmware's precision table (the export manifest's layers)
    rows = {row["layer"]: row for row in fw.info["precisions"]}
    assert len(rows[quantizers[0].name]["elements"]) == 19
    # the firmware's EBOPs over the network's layers (not the score head) are HGQ's own count, exactly
    network = [layer for layer in graph.from_firmware(fw).layers if layer.kind == "dense" and layer.name != "score"]
    assert sum(analytic.ebops(layer) for layer in network) == fitted.ebops


@pytest.mark.slow
@pytest.mark.parametrize("beta", [1e-6, 1e-5, 1e-4])
def test_hgq_autoencoders_of_every_beta_are_bit_exact_on_100k_vectors(beta, tmp_path):
    spec, fitted, x = _trained(beta, seed=int(-np.log10(beta)))
    fw = _firmware(spec, fitted, x, tmp_path)
    check = evaluation.check_bit_exact(fw, _inputs(np.random.default_rng(3), 34_000), 102_000)
    assert check.n_exact == check.n_events >= 100_000


@pytest.mark.slow
def test_an_hgq_vae_radius_trigger_is_bit_exact_on_100k_vectors(tmp_path):
    """AXOL1TL's form with HGQ: the encoder up to z_mean's learned quantizer, then sum(z_mean^2)."""
    spec, fitted, x = _trained(1e-5, seed=4, kind=VAE, score="radius")
    fw = _firmware(spec, fitted, x, tmp_path)
    names = [op.name for op in fw.program.ops]
    assert "z_mean_quantizer" in names and not any(n.startswith(("z_log_var", "z_quantize", "dec_")) for n in names)
    check = evaluation.check_bit_exact(fw, _inputs(np.random.default_rng(5), 34_000), 102_000)
    assert check.n_exact == check.n_events >= 100_000


@pytest.mark.slow  # two more HGQ trainings (their XLA compiles): `tox -e slow`
def test_a_larger_beta_learns_fewer_bits():
    """EBOPs in the loss: the same model and seed with 30 x the beta ends with fewer effective bit operations."""
    small, large = _trained(beta=1e-6)[1], _trained(beta=3e-5)[1]
    assert large.ebops < small.ebops


@pytest.mark.slow
def test_hgqs_own_proxy_is_bit_exact_with_its_csim(tmp_path):
    """HGQ's proxy converted by hls4ml itself (its bit-exact pass on, uniform quantizers fused): the emulator
    reads the result and agrees with C-sim bit for bit."""
    import hls4ml
    import tensorflow as tf
    from HGQ import FreeBOPs, ResetMinMax, trace_minmax
    from HGQ.layers import HDense, HQuantize
    from HGQ.proxy import to_proxy_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 57)).astype(np.float32)
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.Sequential([HQuantize(beta=3e-5, input_shape=(57,)), HDense(16, activation="relu", beta=3e-5),
                                 HDense(8, activation="relu", beta=3e-5), HDense(57, beta=3e-5)])
    model.compile("adam", "mse")
    model.fit(x, x, epochs=2, batch_size=256, verbose=0, callbacks=[ResetMinMax(), FreeBOPs()])
    trace_minmax(model, x, cover_factor=1.0, verbose=False)
    proxy = to_proxy_model(model, aggressive=True)
    hm = hls4ml.converters.convert_from_keras_model(proxy, backend="Vitis", io_type="io_parallel",
                                                    hls_config={"Model": {"Precision": "fixed<1,0>",
                                                                          "ReuseFactor": 1}},
                                                    output_dir=str(tmp_path / "prj"))
    hm.compile()
    prog = program.from_hls4ml(hm)
    assert sum(isinstance(op, FixedPointQuantizerOp) for op in prog.ops) == 4  # input, two ReLUs, output
    xt = np.concatenate([rng.normal(size=(3000, 57)) * s for s in (1, 3, 30)])  # 30: saturating and wrapping
    (emu,) = prog.run(xt)
    t = prog.output_types[0]
    np.testing.assert_array_equal(fixed.to_float(emu, t.frac), hm.predict(xt))
