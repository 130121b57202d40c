"""`codesign estimate` end to end: Keras (float, QKeras seed-004 AE), JSON + weights, QONNX; budgets; learning."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from codesign import cli
from codesign import config as cfg
from codesign.core import models
from codesign.hardware import estimate, graph, load, targets
from codesign.hardware.calibrate import jet_tagger
from codesign.tasks import l1_anomaly

from ..firmware.cases import Case

REPORTS = Path(__file__).with_name("reports")


@pytest.fixture(scope="module")
def seed004_h5(tmp_path_factory):
    """The seed-004 autoencoder (8-bit QKeras, BN, 75 % pruned) with on-grid random weights."""
    config = cfg.load(l1_anomaly.Config, Path(cfg.PRESETS) / "l1_q8_pruned.yaml")
    model = models.build(config.model, (57,))
    rng = np.random.default_rng(4)
    for layer in model.layers:
        if type(layer).__name__ == "QDense":
            k, b = layer.get_weights()
            k = rng.uniform(-1, 1, k.shape)
            k[rng.random(k.shape) < 0.75] = 0
            layer.set_weights([layer.kernel_quantizer_internal(k.astype("float32")).numpy(),
                               layer.bias_quantizer_internal(b.astype("float32")).numpy()])
    path = tmp_path_factory.mktemp("seed004") / "model.h5"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def jet_h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("jet") / "jet.h5"
    jet_tagger(seed=0).save(path)
    return path


def run_json(capsys, *argv) -> dict:
    assert cli.main(["estimate", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_seed004_autoencoder(capsys, seed004_h5):
    out = run_json(capsys, seed004_h5, "--target", "xcvu9p")
    assert {"lut", "ff", "dsp", "bram18", "latency_cycles", "ii", "latency_ns", "method"} <= set(out)
    assert out["method"] == "analytic" and out["ii"] == 1
    assert out["latency_ns"] == pytest.approx(out["latency_cycles"] * 5.0)
    assert out["lut"] > 0 and out["hls"]["lut"] > out["lut"]  # synthesis reports fewer LUTs than HLS
    assert set(out["error"]) == {"lut", "ff", "dsp", "bram18"}
    assert cli.main(["estimate", str(seed004_h5), "--target", "xcvu9p"]) == 0
    table = capsys.readouterr().out
    for text in ("enc_dense1", "dec_dense", "total (Vivado synth)", "% of xcvu9p", "validated error", "method:"):
        assert text in table


def test_float_keras_with_fixed_config_at_several_reuse_factors(capsys, jet_h5, tmp_path):
    config = tmp_path / "hls.yml"
    config.write_text("Model:\n  Precision: ap_fixed<16,6>\n  ReuseFactor: 1\n  Strategy: Latency\n")
    res = {rf: run_json(capsys, jet_h5, "--hls-config", config, "--reuse-factor", rf, "--target", "xczu7ev")
           for rf in (1, 2, 4, 8)}
    assert [res[rf]["ii"] for rf in (1, 2, 4, 8)] == [1, 2, 4, 8]
    n_mult = 16 * 64 + 64 * 32 + 32 * 32 + 32 * 5
    for rf in (2, 4, 8):  # shared multipliers: ceil(n/RF) per layer, + 5 for the softmax
        assert abs(res[rf]["dsp"] / 0.977 - (n_mult / rf + 5)) <= 5
    lat = [res[rf]["latency_cycles"] for rf in (1, 2, 4, 8)]
    assert lat == sorted(lat) and lat[0] < lat[-1]
    # the flag overrides the config file's reuse factor; the config's precision reaches the layers
    g = load.convert("keras", tf.keras.models.load_model(jet_h5),
                     load.hls_config("keras", tf.keras.models.load_model(jet_h5), "Vitis",
                                     load.read_hls_config(config), None, 4, None), "xczu7ev-ffvc1156-2-e", 5.0)
    dense = [la for la in g.layers if la.kind == "dense"]
    assert {la.reuse for la in dense} == {4} and {str(la.weight_type) for la in dense} == {"fixed<16,6>"}


def test_json_architecture_with_weights(capsys, jet_h5, tmp_path):
    model = tf.keras.models.load_model(jet_h5)
    (tmp_path / "arch.json").write_text(model.to_json())
    model.save_weights(tmp_path / "w.h5")
    a = run_json(capsys, tmp_path / "arch.json", "--weights", tmp_path / "w.h5")
    b = run_json(capsys, jet_h5)
    assert a == b


def test_qonnx_model(capsys, tmp_path):
    from codesign.firmware import qonnx_io

    model = jet_tagger(bits=6, prune=0.75, seed=3)
    qonnx_io.export(model, tmp_path / "jet.onnx")
    out = run_json(capsys, tmp_path / "jet.onnx", "--part", "xcku115-flvb2104-2-e", "--clock-ns", "4")
    assert out["part"] == "xcku115-flvb2104-2-e" and out["clock_period_ns"] == 4.0
    assert out["lut"] > 0 and out["latency_cycles"] > 0
    q = run_json(capsys, tmp_path / "jet.onnx", "--strategy", "resource", "--reuse-factor", "4")
    assert q["ii"] == 4


def test_budget_check_sets_the_exit_code(capsys, jet_h5):
    assert cli.main(["estimate", str(jet_h5), "--budget", "lut=1e6,dsp=1e4"]) == 0
    assert "budget: fits" in capsys.readouterr().out
    assert cli.main(["estimate", str(jet_h5), "--budget", "luts=1000,latency_ns=1"]) == 1
    out = capsys.readouterr().out
    assert "budget: OVER" in out and "lut" in out and "latency_ns" in out


@pytest.mark.parametrize("argv, message", [
    (["--precision", "ap_fixd<16,6>"], "--precision: cannot parse precision 'ap_fixd<16,6>'"),
    (["--part", "xcfoo123"], "--part 'xcfoo123': not a Xilinx/AMD part string"),
    (["--budget", "lut=1e9"], "is more than xcvu13p"),
    (["--target", "xcvu99p"], "unknown target 'xcvu99p'"),
    (["--strategy", "da", "--reuse-factor", "4"], "--strategy da .* needs --reuse-factor 1"),
    (["--budget", "lutz=4"], "--budget: cannot read 'lutz=4'"),
    (["--weights", "w.h5"], "already holds its weights"),
])
def test_bad_input_is_one_line(capsys, jet_h5, argv, message):
    assert cli.main(["estimate", str(jet_h5), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("codesign: error: ") and "\n" not in err
    assert __import__("re").search(message, err), err


def test_bad_config_and_unsupported_layers(capsys, tmp_path):
    bad = tmp_path / "hls.yml"
    bad.write_text("Model:\n  Precision: ap_fixed<16,6>\n"
                   "LayerName:\n  fc1:\n    Precision:\n      weight: fixed<8;3>\n")
    conv = tf.keras.Sequential([tf.keras.layers.Input((8, 2)), tf.keras.layers.Conv1D(3, 3, name="conv"),
                                tf.keras.layers.Flatten(name="flat"), tf.keras.layers.Dense(2, name="fc1")])
    conv.save(tmp_path / "conv.h5")
    assert cli.main(["estimate", str(tmp_path / "conv.h5"), "--hls-config", str(bad)]) == 2
    assert "hls.yml: LayerName.fc1.Precision.weight: cannot parse precision 'fixed<8;3>'" in capsys.readouterr().err
    assert cli.main(["estimate", str(tmp_path / "conv.h5")]) == 2
    err = capsys.readouterr().err
    assert "no resource model for layer(s): conv (Conv1D" in err and "\n" not in err.strip()


def test_real_reports_are_learned_in_the_users_data_directory(capsys, jet_h5, tmp_path, monkeypatch):
    """Learned records live under $CODESIGN_DATA (never beside the package's targets), can be listed and
    removed, and a report implausible for the model is refused unless the user insists."""
    monkeypatch.setenv("CODESIGN_DATA", str(tmp_path / "data"))
    target = tmp_path / "my_zynq.yaml"
    shutil.copy(targets.TARGETS_DIR / "xc7z020.yaml", target)
    shipped = sorted(targets.TARGETS_DIR.iterdir())

    def project(name, lut):
        root = tmp_path / name
        report_dir = root / "myproject_prj" / "solution1" / "syn" / "report"
        report_dir.mkdir(parents=True)
        shutil.copy(REPORTS / "dense16x5_stream_csynth.rpt", report_dir / "myproject_csynth.rpt")
        text = (REPORTS / "dense16x5_stream_vivado_synth.rpt").read_text()
        (root / "vivado_synth.rpt").write_text(text.replace("| Slice LUTs*                | 1526 |",
                                                            f"| Slice LUTs*                | {lut:4d} |"))
        return root

    # the reports are of a smaller network than this model: implausible, refused unless the user insists
    real = project("prj", 1526)
    assert cli.main(["estimate", str(jet_h5), "--target", str(target), "--report", str(real)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Vivado LUT 1,526 vs 111,154 estimated" in err and "not recorded" in err and "\n" not in err, err
    learned = tmp_path / "data" / "calibration" / "my_zynq.jsonl"
    assert not learned.exists()
    before = run_json(capsys, jet_h5, "--target", target, "--report", real, "--trust-report")
    assert before["real"]["synth"]["lut"] == 1526 and before["real"]["hls"]["dsp"] == 73
    (record,) = [json.loads(line) for line in learned.read_text().splitlines()]
    assert record["synth"]["lut"] == 1526 and round(record["estimate_synth"]["lut"]) == before["lut"]
    assert sorted(targets.TARGETS_DIR.iterdir()) == shipped and sorted(tmp_path.glob("*.jsonl")) == []
    after = run_json(capsys, jet_h5, "--target", target)
    assert after["lut"] == 1526 and after["dsp"] == 66  # scaled by real/estimate: the same model reproduces it
    assert cli.main(["estimate", str(jet_h5), "--target", str(target)]) == 0
    assert "scaled by the median real/estimate ratio of 1 real report" in capsys.readouterr().out

    # a fabricated report (1 LUT for this model) is refused, one line, and nothing is recorded
    fake = project("fake", 1)
    assert cli.main(["estimate", str(jet_h5), "--target", str(target), "--report", str(fake)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Vivado LUT 1 vs 1,526 estimated" in err and "--trust-report" in err and "\n" not in err, err
    assert len(learned.read_text().splitlines()) == 1
    other = tmp_path / "other.jsonl"
    assert cli.main(["estimate", str(jet_h5), "--target", str(target), "--report", str(fake), "--trust-report",
                     "--calibration", str(other)]) == 0
    assert len(other.read_text().splitlines()) == 1 and len(learned.read_text().splitlines()) == 1

    assert cli.main(["calibration", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{learned}: 1 record(s)" in listed and "LUT 1,526 real" in listed
    assert cli.main(["calibration", "remove", "2", "--target", str(target)]) == 2
    assert "no record 2 (it holds 1" in capsys.readouterr().err
    assert cli.main(["calibration", "remove", "1", "--target", str(target)]) == 0
    assert capsys.readouterr().out.startswith("removed: ") and learned.read_text() == ""
    assert run_json(capsys, jet_h5, "--target", target)["lut"] == before["lut"]  # unscaled again
    learned.write_text("not json\n")
    assert cli.main(["estimate", str(jet_h5), "--target", str(target)]) == 2
    assert "my_zynq.jsonl:1: not a JSON record" in capsys.readouterr().err


def test_synth_needs_vendor_tools(capsys, jet_h5, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no vitis_hls / vivado_hls here
    assert cli.main(["estimate", str(jet_h5), "--synth", "--synth-dir", str(tmp_path / "s")]) == 2
    assert "--synth needs vitis_hls or vivado_hls on PATH" in capsys.readouterr().err


def test_built_firmware_estimates_like_its_hls4ml_graph(tmp_path):
    """The search's path (firmware cache -> program -> graph) sees what hls4ml's graph holds."""
    from codesign import firmware
    from codesign.firmware import convert
    from codesign.firmware.convert import InputUnits

    from ..firmware.cases import vectors

    case = Case("est", bits=8, integer=0, act_bits=8, act_integer=2, encoder=(12,), latent=4, sparsity=0.5,
                reuse_factor=2)
    calib, _ = vectors(case.n_inputs, 10)
    fw = firmware.build(case.model(), case.spec(), None, calib, case.options(), cache_dir=tmp_path)
    from_fw = graph.from_firmware(fw)
    units = InputUnits.derive(calib, 16, 2.0)
    kgraph = convert.firmware_graph(case.model(), case.spec(), None, units, True)
    hls_model = convert.convert(kgraph, fw.info["hls_config"], case.options(), fw.info["part"], 5.0,
                                str(tmp_path / "p"), "myproject")
    direct = graph.from_hls4ml(hls_model)
    a = [la for la in from_fw.layers if la.kind == "dense"]
    b = [la for la in direct.layers if la.kind == "dense"]
    assert [(la.n_in, la.n_out, la.reuse, la.in_type, la.weight_type, la.accum) for la in a] == \
        [(la.n_in, la.n_out, la.reuse, la.in_type, la.weight_type, la.accum) for la in b]
    assert all(np.array_equal(x.weight, y.weight) for x, y in zip(a, b))
    e1, e2 = estimate.estimate(from_fw), estimate.estimate(direct)
    assert e1.total.dsp == e2.total.dsp and e1.ii == e2.ii == 2
