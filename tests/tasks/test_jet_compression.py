"""The jet-compression task: data, training with residuals, encoder and full-AE firmware bit-exact, a real search."""

import json

import numpy as np
import pytest

from codesign import cli, evaluation, firmware
from codesign import config as cfg
from codesign.core import models
from codesign.data import jet_generator
from codesign.errors import ConfigError
from codesign.firmware.options import FirmwareOptions
from codesign.tasks import jet_compression as task

SMALL = {"seed": 2, "data": {"n_train": 6000, "n_val": 1500, "n_test": 3000},
         "model": {"kind": "dense_ae", "encoder": [16, 8], "latent": 3, "activation": "leaky_relu",
                   "leaky_alpha": 0.25, "batchnorm": False, "input_batchnorm": False,
                   "quantization": {"weight": {"bits": 8, "integer": 1}, "activation": {"bits": 10, "integer": 3}},
                   "code": {"bits": 10, "integer": 3}},
         "training": {"epochs": 6, "batch_size": 128}, "metrics": {"n_bootstrap": 20}}


def _config(**model):
    return cfg.parse(task.Config, {**SMALL, "model": {**SMALL["model"], **model}}, "test")


@pytest.fixture(scope="module")
def trained():
    config = _config()
    data = task.load_data(config)
    return config, data, task.train(config, data)


def test_config_refuses_what_does_not_compress():
    with pytest.raises(ConfigError, match="latent must be below 4"):
        cfg.parse(task.Config, {"model": {"kind": "dense_ae", "latent": 4}}, "test")
    with pytest.raises(ConfigError, match="dense autoencoder"):
        cfg.parse(task.Config, {"model": {"kind": "lstm_ae"}}, "test")
    seed = task.Config()
    assert seed.model.encoder == (200, 100, 50) and seed.model.latent == 3 and seed.model.activation == "tanh"


def test_inputs_round_trip_and_files(tmp_path):
    jets = jet_generator.generate(500, seed=4)
    for rep in ("log", "linear"):
        x = task.to_inputs(jets, rep)
        back = task.to_physical(x, rep)
        for i, v in enumerate(task.VARIABLES):
            np.testing.assert_allclose(back[:, i], jets[v], rtol=1e-5, atol=1e-5)
    assert task.input_names("log") == ["log10_pt", "eta", "phi", "log10_m"]
    path = jet_generator.write(tmp_path / "jets.parquet", jet_generator.generate(2000, seed=5))
    config = cfg.parse(task.Config, {"data": {"file": str(path), "n_train": 600, "n_val": 200, "n_test": 200}}, "t")
    data = task.load_data(config)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (1200, 400, 400)  # proportions of the file
    assert data.sources["kind"] == "file" and not data.signals


def test_training_measures_residuals_on_test_jets(trained):
    config, data, result = trained
    s = result.summary
    assert set(s) == set(task.VARIABLES)
    assert s["pt"]["kind"] == "relative" and s["eta"]["kind"] == "absolute"
    for v in task.VARIABLES:
        lo, hi = s[v]["rms_interval"]
        assert lo <= s[v]["rms"] <= hi and s[v]["n"] == len(data.x_test)
    # six epochs of a 16-8-3 network already reconstruct pT to ~10 %, far better than no information (~1)
    assert s["pt"]["rms"] < 0.3
    assert result.metadata["rms"] == pytest.approx(np.mean([s[v]["rms"] for v in task.VARIABLES]))
    assert set(result.metadata["training"]["history"]) >= {"loss", "val_loss"}


@pytest.mark.parametrize("part", ["encoder", "full"])
def test_firmware_is_bit_exact_with_its_emulator(trained, tmp_path, part):
    """The on-detector encoder (outputs: the quantized code) and the whole AE, through hls4ml C-simulation."""
    config, data, result = trained
    if part == "encoder":
        model, spec, head = task.deployed(result.model, config.model)
    else:
        model, spec, head = models.mean_reconstruction(result.model, config.model), None, False
    fw = firmware.build(model, spec, result.preprocessor, data.x_train, FirmwareOptions(score_head=head),
                        cache_dir=tmp_path, input_groups=task.input_groups(data.input_names))
    check = evaluation.check_bit_exact(fw, data.x_test, 1500, seed=1)
    assert check.n_exact == check.n_events == 1500 + check.n_edge  # every bit, including extreme inputs
    if part == "encoder":
        # the code leaves in its QKeras format (hls4ml would otherwise widen it to the accumulator)
        out = fw.output_types[0]
        assert (out.width, out.integer, out.rounding, out.overflow) == (10, 4, "RND_CONV", "SAT")
        codes = task.firmware_codes(fw, data.x_test)
        keras = models.encoder(result.model, config.model).predict(result.preprocessor.transform(data.x_test),
                                                                    verbose=0)
        # same code for most jets: the firmware differs from Keras only by its input and constant rounding
        assert np.mean(np.all(codes == keras, axis=1)) > 0.5
        reco = task.decode(models.decoder(result.model, config.model), result.preprocessor, codes, "log")
        _, summary, merit = task.fidelity(result.original, reco, 20, 0)
        assert merit["rms"] == pytest.approx(result.metadata["rms"], rel=0.1)


def test_train_command_writes_residuals_plots_and_tensorboard(tmp_path, capsys):
    config = {**SMALL, "task": "jet-compression",
              "model": {"kind": "vae", "encoder": [16], "latent": 3, "beta": 0.01, "activation": "relu",
                        "batchnorm": False, "input_batchnorm": False},
              "training": {"epochs": 2, "batch_size": 256}}
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    out = tmp_path / "run"
    assert cli.main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(out),
                     "--tensorboard", str(tmp_path / "tb")]) == 0
    text = capsys.readouterr().out
    assert "mean RMS" in text and "relative" in text
    saved = json.loads((out / "residuals.json").read_text())
    assert set(saved["residuals"]) == set(task.VARIABLES) and saved["rms"] > 0
    assert (out / "residuals.csv").read_text().startswith("variable,kind,n,mean,rms")
    for name in ("residuals", "residual_correlations", "distributions", "losses"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 10_000
    meta = json.loads((out / "model" / "metadata.json").read_text())
    assert "kl" in meta["training"]["history"]  # the VAE's KL term, for the loss curves
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert cli.main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(out)]) == 2  # never overwrites


def test_search_report_and_export(tmp_path):
    """Two candidates: trained, encoder compiled and C-simulated bit-exact, scored on residuals, reported, exported."""
    base = {**SMALL, "task": "jet-compression", "training": {"epochs": 3, "batch_size": 256}}
    (tmp_path / "base.yaml").write_text(json.dumps(base))
    (tmp_path / "space.yaml").write_text(json.dumps({
        "task": "jet-compression", "base": str(tmp_path / "base.yaml"),
        "dimensions": {"depth": {"int": [1, 2]}, "width": {"choice": [8, 16]}, "weight_bits": {"int": [6, 8]},
                       "code_bits": {"int": [6, 12]}},
        "baseline": {"depth": 2, "width_1": 16, "width_2": 8, "weight_bits": 8, "code_bits": 12}}))
    run = tmp_path / "run"
    code = cli.main(["search", "--space", str(tmp_path / "space.yaml"), "--out", str(run), "--quiet",
                     "--target", "xcvu9p", "--trials", "2", "--budget", "luts=5%"])
    assert code == 0
    records = [json.loads(p.read_text()) for p in sorted((run / "trials").glob("*.json"))]
    assert [r["status"] for r in records] == ["complete", "complete"], [r.get("reason") for r in records]
    for r in records:
        assert r["bit_exact"]["n_exact"] == r["bit_exact"]["n_events"] > 1000
        assert set(r["residuals"]) == set(task.VARIABLES) and r["rms"] > 0 and r["keras"]["rms"] > 0
        assert r["estimate"]["lut"] > 0
        code_layer = [row for row in r["layers"] if row["name"] == "latent"][0]
        assert code_layer["n_out"] == 3 and code_layer["result"].startswith(f"fixed<{r['params']['code_bits']},")
    report = tmp_path / "report"
    assert cli.main(["report", str(run), "--out", str(report), "--format", "html"]) == 0
    assert "residual RMS" in (report / "index.html").read_text()
    bundle = tmp_path / "ip"
    assert cli.main(["export", str(run), "--trial", "0", "--out", str(bundle)]) == 0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["code"]["values"] == 3 and manifest["code"]["bits_per_event"] == 36
    assert manifest["verification"]["n_exact"] == manifest["verification"]["n_vectors"]
    assert (bundle / "model" / "decoder.h5").is_file() and "residual RMS" in (bundle / "README.md").read_text()


def test_emulate_command_checks_encoder_and_autoencoder(tmp_path, capsys):
    config = {**SMALL, "task": "jet-compression", "training": {"epochs": 2, "batch_size": 256}}
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    run = tmp_path / "run"
    assert cli.main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(run)]) == 0
    assert cli.main(["emulate", str(run), "--csim-check", "500"]) == 0
    text = capsys.readouterr().out
    assert "encoder: 561/561 jets bit-exact" in text and "autoencoder: 561/561 jets bit-exact" in text
    table = json.loads((run / "emulation" / "residuals.json").read_text())
    assert set(table) == {"Keras", "encoder fw + float decoder", "firmware autoencoder"}
    for column in table.values():  # firmware and Keras agree to a few per cent of the residual RMS
        assert column["rms"] == pytest.approx(table["Keras"]["rms"], rel=0.05)
    assert cli.main(["emulate", str(run)]) == 2  # never overwrites


def test_bad_jet_files_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "bad.parquet").write_text("not parquet")
    for path in (tmp_path / "missing.parquet", tmp_path / "bad.parquet"):
        assert cli.main(["train", "--task", "jet-compression", "--data", str(path), "--out", str(tmp_path / "r")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(path) in err
