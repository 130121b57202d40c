"""The command line: fast help, one-line errors for user mistakes, a real small training run."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from codesign.data import adc2021

SMALL = """
task: l1-anomaly
seed: 3
data: {n_train: 3000, n_val: 1000, n_test: 10000, n_signal: 1000}
model: {kind: dense_ae, encoder: [16, 8], latent: 3}
training: {epochs: 2, batch_size: 256}
metrics: {fpr: 1.0e-3, n_bootstrap: 10}
"""


def codesign(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "codesign", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("codesign: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_does_not_import_tensorflow():
    code = "import sys, codesign.cli as c; c.build_parser(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    assert out == "False"
    proc = codesign("--help")
    assert proc.returncode == 0 and "train" in proc.stdout


@pytest.fixture()
def small_config(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def test_unknown_task(small_config):
    assert_one_line_error(codesign("train", "--task", "higgs-to-unicorns"), "unknown task 'higgs-to-unicorns'")


def test_unknown_config_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: l1-anomaly\ntraining: {epoch: 3}\n")
    assert_one_line_error(codesign("train", "--config", bad), "bad.yaml", "training.epoch: unknown key")


def test_signal_needs_name_equals_path():
    proc = codesign("train", "--data", "x.h5", "--signal", "justapath.h5")
    assert proc.returncode == 2 and "expected NAME=PATH" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_data_file(tmp_path, small_config):
    proc = codesign("train", "--config", small_config, "--data", tmp_path / "missing.h5", "--signal",
                    f"Ato4l={tmp_path / 'sig.h5'}", "--out", tmp_path / "run")
    assert_one_line_error(proc, "missing.h5: no such file")


@pytest.mark.parametrize("problem, fragment", [
    ("corrupt", "cannot be read as h5"),
    ("shape", "expected (N, 19, 4)"),
    ("nan", "non-finite value"),
])
def test_bad_data_files(tmp_path, small_config, background_sample, problem, fragment):
    path = tmp_path / f"{problem}.h5"
    if problem == "corrupt":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 20)
    elif problem == "shape":
        with h5py.File(path, "w") as f:
            f.create_dataset("Particles", data=np.zeros((10, 19, 3)))
    else:
        p = background_sample.particles[:20_000].copy()
        p[123, 9, 0] = np.nan
        adc2021.write_events(path, p)
    proc = codesign("train", "--config", small_config, "--data", path, "--signal", f"Ato4l={path}",
                    "--out", tmp_path / "run")
    assert_one_line_error(proc, path.name, fragment)


def test_train_end_to_end_on_generated_files(tmp_path, small_config):
    """generate -> train --data/--signal -> run directory with model, metadata and scores; no silent overwrite."""
    data = tmp_path / "adc"
    gen = codesign("generate", "--out", data, "--n-background", 15_000, "--n-signal", 1_000, "--seed", 5)
    assert gen.returncode == 0, gen.stderr
    assert (data / "background_for_training.h5").exists() and (data / "Ato4l_lepFilter_13TeV.h5").exists()
    out = tmp_path / "run"
    args = ["train", "--config", small_config, "--data", data / "background_for_training.h5",
            "--signal", f"Ato4l={data / 'Ato4l_lepFilter_13TeV.h5'}",
            "--signal", f"hChToTauNu={data / 'hChToTauNu_13TeV_PU20.h5'}", "--out", out]
    proc = codesign(*args)
    assert proc.returncode == 0, proc.stderr
    assert "Ato4l" in proc.stdout and "hChToTauNu" in proc.stdout and "TPR@FPR 1e-03" in proc.stdout
    meta = json.loads((out / "model" / "metadata.json").read_text())
    assert meta["provenance"]["seed"] == 3 and meta["provenance"]["versions"]["tensorflow"] == "2.15.1"
    assert meta["data"]["kind"] == "files" and meta["data"]["n_test_background"] == 10_000
    assert meta["preprocessing"]["kind"] == "none" and len(meta["input_names"]) == 57
    scores = json.loads((out / "scores.json").read_text())
    assert scores["Ato4l"]["n_background_above"] == 10 and 0.0 <= scores["Ato4l"]["auc"] <= 1.0
    with h5py.File(out / "test_scores.h5") as f:
        assert f["background"].shape == (10_000,) and f["signal/Ato4l"].shape == (1_000,)
    assert (out / "config.yaml").exists() and (out / "model" / "model.h5").exists()
    again = codesign(*args)
    assert_one_line_error(again, "already holds a `codesign train` output", "--force")
    # The file was too small for the config: a clear error, not a crash.
    big = tmp_path / "big.yaml"
    big.write_text(SMALL.replace("n_test: 10000", "n_test: 100000"))
    too_small = codesign("train", "--config", big, "--data", data / "background_for_training.h5",
                         "--signal", f"Ato4l={data / 'Ato4l_lepFilter_13TeV.h5'}", "--out", tmp_path / "run2")
    assert_one_line_error(too_small, "holds 15000 events", "n_train + n_val + n_test = 104000")


def test_fpr_the_test_set_cannot_resolve_fails_before_training(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMALL.replace("fpr: 1.0e-3", "fpr: 1.0e-5"))
    proc = codesign("train", "--config", cfg, "--out", tmp_path / "run")
    assert_one_line_error(proc, "data.n_test is too small", "cannot resolve FPR 1e-05 with 10000 background events",
                          "1000000")
    assert not (tmp_path / "run").exists()


def test_emulate_a_run_is_bit_exact_and_scores_every_signal(tmp_path, small_config):
    run = tmp_path / "run"
    assert codesign("train", "--config", small_config, "--out", run).returncode == 0
    proc = codesign("emulate", run, "--csim-check", 300)
    assert proc.returncode == 0, proc.stderr
    assert "firmware (emulator)" in proc.stdout and "Keras (training run)" in proc.stdout
    line = next(l for l in proc.stdout.splitlines() if l.startswith("bit-exact:"))
    n_exact, n_total = line.split()[1].split("/")
    assert n_exact == n_total and int(n_total) > 300
    result = json.loads((run / "emulation" / "bit_exact.json").read_text())
    assert result["fraction"] == 1.0 and result["n_edge"] > 0
    assert (run / "emulation" / "scores.json").exists()
    assert_one_line_error(codesign("emulate", run), "already holds a `codesign emulate` output", "--force")


def test_emulate_refuses_lambda_models(tmp_path):
    import tensorflow as tf

    inp = tf.keras.Input((57,))
    path = tmp_path / "lambda.h5"
    tf.keras.Model(inp, tf.keras.layers.Lambda(lambda t: t + 1, name="sneaky")(inp)).save(path)
    proc = codesign("emulate", path, "--data", path, "--signal", f"A={path}")
    assert_one_line_error(proc, "refused to load", "sneaky")


def test_emulate_lists_layers_that_cannot_be_firmware(tmp_path, background_sample):
    import tensorflow as tf

    inp = tf.keras.Input((57,))
    x = tf.keras.layers.Dense(8, activation="sigmoid", name="squash")(inp)
    path = tmp_path / "model.h5"
    tf.keras.Model(inp, tf.keras.layers.Dense(57, name="out")(x)).save(path)
    data = tmp_path / "bkg.h5"
    adc2021.write_events(data, background_sample.particles[:2000])
    proc = codesign("emulate", path, "--data", data, "--signal", f"A={data}", "--out", tmp_path / "o")
    assert_one_line_error(proc, "cannot build firmware", "squash (Dense with a built-in sigmoid activation)")
