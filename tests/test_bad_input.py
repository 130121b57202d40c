"""Bad input to every command, through the real CLI (a subprocess each): exit 2, one line naming what was wrong,
no traceback, and nothing changed anywhere (the workspace, which holds every input, is hashed before and after).

The cases are classes, not examples: impossible numbers (zero, negative, NaN, inf, huge, not a number) for every
count, seed, fraction and rate flag; config files that are empty, duplicated, non-finite, binary, unsafe or of the
wrong type; data files that are missing, empty, truncated, corrupt, pickled, complex, NaN or of the wrong shape;
output locations that are files, users' directories, too long or impossible. `test_arguments.py` and
`test_config.py` add property-based checks of the parsers behind them.
"""

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

LONG = "x" * 300

GOOD_CONFIG = """\
task: l1-anomaly
seed: 3
data: {n_train: 2000, n_val: 500, n_test: 2000, n_signal: 500}
training: {epochs: 1, batch_size: 256}
metrics: {fpr: 1.0e-2, n_bootstrap: 10}
"""


def _h5(path, data, name="Particles"):
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=data)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Every input the cases use, in one directory hashed around each case."""
    d = tmp_path_factory.mktemp("bad_input")
    (d / "good.yaml").write_text(GOOD_CONFIG)
    (d / "empty.yaml").write_text("")
    (d / "comment.yaml").write_text("# nothing but a comment\n")
    (d / "dup.yaml").write_text("task: l1-anomaly\nseed: 1\nseed: 2\n")
    (d / "dupnested.yaml").write_text("task: l1-anomaly\ntraining: {epochs: 1, epochs: 3}\n")
    (d / "inf.yaml").write_text("task: l1-anomaly\ntraining: {learning_rate: .inf}\n")
    (d / "nan.yaml").write_text("task: l1-anomaly\nmetrics: {fpr: .nan}\n")
    (d / "negative.yaml").write_text("task: l1-anomaly\ndata: {n_train: -5}\n")
    (d / "zero_epochs.yaml").write_text("task: l1-anomaly\ntraining: {epochs: 0}\n")
    (d / "list.yaml").write_text("- task\n- l1-anomaly\n")
    (d / "scalar.yaml").write_text("42\n")
    (d / "python.yaml").write_text("task: !!python/object/apply:os.system ['touch pwned']\n")
    (d / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (d / "truncated.yaml").write_text("task: l1-anomaly\ntraining: {epochs: 3,\n")
    (d / "hgq_lstm.yaml").write_text("task: dqm-lumisections\nmodel: {kind: lstm_ae, quantizer: hgq}\n")
    (d / "hgq_qkeras.yaml").write_text("task: l1-anomaly\nmodel: {activation: relu, quantizer: hgq, "
                                       "quantization: {weight: {bits: 6}}}\n")
    particles = np.abs(np.random.default_rng(0).normal(size=(5000, 19, 4))).astype(np.float32)
    _h5(d / "complex.h5", particles.astype(np.complex64))
    _h5(d / "shape.h5", particles[:, :10])
    _h5(d / "strings.h5", np.array([b"a", b"b"]))
    _h5(d / "noparticles.h5", particles, name="Jets")
    nan = particles.copy()
    nan[5, 3, 0] = np.nan
    _h5(d / "nan.h5", nan)
    _h5(d / "empty.h5", particles[:0])
    _h5(d / "good.h5", particles)
    (d / "truncated.h5").write_bytes((d / "good.h5").read_bytes()[:700])
    (d / "text.h5").write_text("not an h5 file\n")
    (d / "pickle.h5").write_bytes(pickle.dumps({"Particles": particles[:2]}))
    (d / "zero.h5").write_bytes(b"")
    jets = {"pt": np.full(50, 30.0), "eta": np.zeros(50), "phi": np.zeros(50), "m": np.ones(50)}
    with h5py.File(d / "jets_complex.h5", "w") as f:
        for k, v in jets.items():
            f.create_dataset(k, data=v.astype(np.complex128) if k == "pt" else v)
    import dataclasses

    from codesign.data import lumi_generator
    from codesign.dqm import lumi_series

    series = lumi_generator.generate(n_ls=300, seed=1)
    labels = np.asarray(series.labels).copy()
    labels[7] = 5
    lumi_series.write_series(d / "labels.parquet", dataclasses.replace(series, labels=labels))
    (d / "mine").mkdir()
    (d / "mine" / "thesis.tex").write_text("keep me")
    (d / "afile").write_text("a file where a directory is expected")
    (d / "notes.parquet").write_text("not parquet")
    (d / "cwd").mkdir()  # where each command runs (its default outputs would land here)
    return d


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


# (command line with {ws} for the workspace, a fragment the one-line error must contain)
CASES = {
    "train": [
        ("train --config {ws}/empty.yaml", "empty; expected a mapping"),
        ("train --config {ws}/comment.yaml", "empty; expected a mapping"),
        ("train --config {ws}/dup.yaml", "duplicate key 'seed'"),
        ("train --config {ws}/dupnested.yaml", "duplicate key 'epochs'"),
        ("train --config {ws}/inf.yaml", "training.learning_rate: Input should be a finite number"),
        ("train --config {ws}/nan.yaml", "metrics.fpr: Input should be a finite number"),
        ("train --config {ws}/negative.yaml", "data.n_train"),
        ("train --config {ws}/zero_epochs.yaml", "training.epochs"),
        ("train --config {ws}/list.yaml", "expected a mapping of keys at the top level, got list"),
        ("train --config {ws}/scalar.yaml", "expected a mapping of keys at the top level, got int"),
        ("train --config {ws}/python.yaml", "invalid YAML"),
        ("train --config {ws}/binary.yaml", "not a text (UTF-8) file"),
        ("train --config {ws}/truncated.yaml", "invalid YAML"),
        ("train --config {ws}/hgq_lstm.yaml", "quantizer: HGQ has no LSTM layer; use quantizer: qkeras"),
        ("train --config {ws}/hgq_qkeras.yaml", "quantization: QKeras formats do not apply with quantizer: hgq"),
        ("train --config {ws}/nosuch.yaml", "no such file"),
        ("train --config {ws}/mine", "is a directory"),
        ("train --task unicorns", "unknown task 'unicorns'"),
        ("train --seed -1", "argument --seed: expected a seed between 0"),
        ("train --seed 1e3", "argument --seed: expected an integer"),
        ("train --seed 99999999999", "argument --seed: expected a seed between 0"),
        ("train --signal justapath.h5", "expected NAME=PATH"),
        ("train --config {ws}/good.yaml --out {ws}/mine", "holds files codesign did not write"),
        ("train --config {ws}/good.yaml --out {ws}/mine --force", "holds files codesign did not write"),
        ("train --config {ws}/good.yaml --out {ws}/afile", "exists and is not a directory"),
        ("train --config {ws}/good.yaml --out {ws}/afile/run", "exists and is not a directory"),
        ("train --config {ws}/good.yaml --out {ws}/" + LONG, "File name too long"),
        ("train --config {ws}/good.yaml --out {ws}", "an input of this command"),
        ("train --config {ws}/good.yaml --data {ws}/complex.h5 --signal A={ws}/good.h5", "holds complex64 values"),
        ("train --config {ws}/good.yaml --data {ws}/shape.h5 --signal A={ws}/good.h5", "has shape (5000, 10, 4)"),
        ("train --config {ws}/good.yaml --data {ws}/strings.h5 --signal A={ws}/good.h5", "has shape"),
        ("train --config {ws}/good.yaml --data {ws}/noparticles.h5 --signal A={ws}/good.h5", "no 'Particles'"),
        ("train --config {ws}/good.yaml --data {ws}/truncated.h5 --signal A={ws}/good.h5", "cannot be read as h5"),
        ("train --config {ws}/good.yaml --data {ws}/text.h5 --signal A={ws}/good.h5", "cannot be read as h5"),
        ("train --config {ws}/good.yaml --data {ws}/pickle.h5 --signal A={ws}/good.h5", "cannot be read as h5"),
        ("train --config {ws}/good.yaml --data {ws}/zero.h5 --signal A={ws}/good.h5", "cannot be read as h5"),
        ("train --config {ws}/good.yaml --data {ws}/nosuch.h5 --signal A={ws}/good.h5", "no such file"),
        ("train --config {ws}/good.yaml --data {ws}/empty.h5 --signal A={ws}/good.h5", "holds 0 events"),
        ("train --config {ws}/good.yaml --data {ws}/nan.h5 --signal A={ws}/good.h5", "non-finite value"),
        ("train --task jet-compression --data {ws}/jets_complex.h5", "column 'pt' holds complex128 values"),
    ],
    "demo": [
        ("demo --out {ws}/mine", "holds files codesign did not write"),
        ("demo --out {ws}/mine --force", "holds files codesign did not write"),
        ("demo --seed -4", "argument --seed"),
    ],
    "generate": [
        ("generate --out {ws}/cwd/g --n-background 0", "argument --n-background: expected an integer >= 1"),
        ("generate --out {ws}/cwd/g --n-background -5", "expected an integer >= 1"),
        ("generate --out {ws}/cwd/g --n-background abc", "expected an integer, got 'abc'"),
        ("generate --out {ws}/cwd/g --n-signal -1", "argument --n-signal: expected an integer >= 1"),
        ("generate --out {ws}/cwd/g --seed -1", "argument --seed"),
        ("generate --out {ws}/mine", "holds files codesign did not write"),
        ("generate --out {ws}/mine --force", "holds files codesign did not write"),
        ("generate --out {ws}/afile", "exists and is not a directory"),
        ("generate --out /proc/codesign/x", "cannot create"),
    ],
    "search": [
        ("search --trials 0", "argument --trials: expected an integer >= 1, got '0'"),
        ("search --trials -3", "argument --trials: expected an integer >= 1"),
        ("search --trials 2.5", "argument --trials: expected an integer"),
        ("search -j 0", "argument -j/--jobs: expected an integer >= 1"),
        ("search --budget luts=1e999", "--budget: lut: Input should be a finite number"),
        ("search --budget luts=500%", "at most 100%"),
        ("search --budget luts=0%", "above 0%"),
        ("search --budget luts=-1", "--budget: lut: Input should be greater than 0"),
        ("search --budget lut=nan", "finite number"),
        ("search --budget lut=5,lut=6", "lut is given twice"),
        ("search --budget colour=3", "cannot read 'colour=3'"),
        ("search --budget luts=abc", "lut must be a number"),
        ("search --budget lut=99999999 --target xcvu9p", "is more than xcvu9p"),
        ("search --fidelity 1.5", "argument --fidelity: expected a fraction between 0 and 1"),
        ("search --fidelity nan", "expected a finite number"),
        ("search --prune-margin 0", "argument --prune-margin: expected a number > 0"),
        ("search --seed -2", "argument --seed"),
        ("search --target nosuch", "nosuch"),
        ("search --objective unicorns --trials 1 --out {ws}/cwd/s", "--objective 'unicorns'"),
        ("search --space nosuch", "nosuch"),
        ("search --config {ws}/empty.yaml --out {ws}/cwd/s", "empty; expected a mapping"),
        ("search --trials 1 --out {ws}/mine", "holds files codesign did not write"),
        ("search --trials 1 --out {ws}/afile", "exists and is not a directory"),
    ],
    "estimate": [
        ("estimate {ws}/nosuch.h5", "nosuch.h5"),
        ("estimate {ws}/text.h5", "text.h5"),
        ("estimate {ws}/good.h5 --clock-ns -3", "argument --clock-ns: expected a number > 0"),
        ("estimate {ws}/good.h5 --clock-ns 0", "argument --clock-ns: expected a number > 0"),
        ("estimate {ws}/good.h5 --clock-ns inf", "expected a finite number"),
        ("estimate {ws}/good.h5 --reuse-factor 0", "argument --reuse-factor: expected an integer >= 1"),
        ("estimate {ws}/good.h5 --part banana", "--part 'banana': not a Xilinx/AMD part string"),
        ("estimate {ws}/good.h5 --part xcvu9pgarbage", "--part 'xcvu9pgarbage': not a Xilinx/AMD part string"),
        ("estimate {ws}/good.h5 --target xc7z020 --part xcvu9p", "either --target or --part"),
        ("estimate {ws}/good.h5 --budget lut=1e999", "finite number"),
        ("estimate {ws}/good.h5 --precision 'fixed<8;3>'", "cannot parse precision"),
    ],
    "calibration": [
        ("calibration remove 1", "needs --target or --calibration"),
        ("calibration remove 0 --target xcvu9p", "argument N: expected an integer >= 1"),
        ("calibration remove 1 --calibration {ws}/nosuch.jsonl", "no learned records there"),
        ("calibration list --target xcvu9p --calibration {ws}/x.jsonl", "either --target or --calibration"),
        ("calibration list 3", "takes no numbers"),
    ],
    "report": [
        ("report {ws}/nosuch", "no such directory"),
        ("report {ws}/mine --out {ws}/cwd/r", "mine"),
        ("report {ws}/afile --out {ws}/cwd/r", "afile"),
    ],
    "export": [
        ("export {ws}/nosuch --trial 0 --out {ws}/cwd/b", "nosuch"),
        ("export {ws}/mine --trial 0 --out {ws}/cwd/b", "mine"),
        ("export {ws}/mine --trial -1 --out {ws}/cwd/b", "argument --trial: expected an integer >= 0"),
    ],
    "emulate": [
        ("emulate {ws}/nosuch.h5 --data {ws}/good.h5 --signal A={ws}/good.h5", "nosuch.h5"),
        ("emulate {ws}/text.h5 --data {ws}/good.h5 --signal A={ws}/good.h5 --out {ws}/cwd/e", "text.h5"),
        ("emulate {ws}/text.h5", "needs --data"),
        ("emulate {ws}/text.h5 --data {ws}/good.h5 --signal A={ws}/good.h5 --out {ws}/mine",
         "holds files codesign did not write"),
        ("emulate {ws}/text.h5 --data {ws}/good.h5 --signal A={ws}/good.h5 --out {ws}", "an input of this command"),
        ("emulate {ws}/text.h5 --csim-check -1", "argument --csim-check: expected an integer >= 0"),
        ("emulate {ws}/text.h5 --reuse-factor 0", "argument --reuse-factor"),
    ],
    "dqm": [
        ("dqm generate --out {ws}/cwd/d --runs 0", "argument --runs: expected an integer >= 1"),
        ("dqm generate --out {ws}/cwd/d --bad_fraction 1.5", "expected a fraction between 0 and 1"),
        ("dqm generate --out {ws}/cwd/d --unlabelled_fraction nan", "expected a finite number"),
        ("dqm generate --out {ws}/cwd/d --pd ../up", "primary dataset '../up'"),
        ("dqm generate --out {ws}/mine", "holds files codesign did not write"),
        ("dqm generate --out {ws}/afile", "exists and is not a directory"),
        ("dqm fetch --output_dir {ws}/afile", "exists and is not a directory"),
        ("dqm fetch --output_dir {ws}/mine", "holds files codesign did not write"),
        ("dqm fetch --input_dir {ws}/nosuch --contents {ws}/good.yaml --datasets {ws}/good.yaml "
         + "--output_dir {ws}/cwd/f", "good.yaml"),
        ("dqm train --input_file {ws}/nosuch.parquet --output_dir {ws}/cwd/t --algorithm pca --tag p", "no such file"),
        ("dqm train --input_file {ws}/nosuch.parquet --output_dir {ws}/cwd/t --algorithm pca --tag ../evil", "tag"),
        ("dqm train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/t --algorithm pca --tag p",
         "not a readable parquet file"),
        ("dqm train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/t --n_components 0", "expected an integer"),
        ("dqm train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/t --train_fraction 1",
         "strictly between 0 and 1"),
        ("dqm train --input_file {ws}/notes.parquet --output_dir {ws}/mine --algorithm pca --tag p",
         "holds files codesign did not write"),
        ("dqm assess --input_file {ws}/nosuch.parquet --output_dir {ws}/cwd/a", "no such file"),
        ("dqm assess --input_file {ws}/notes.parquet --output_dir {ws}/cwd/a --n_bootstrap 0", "expected an integer"),
        ("dqm assess --input_file {ws}/notes.parquet --output_dir {ws}/cwd/a --tprs 1.5,abc", "--tprs"),
        ("dqm assess --input_file {ws}/notes.parquet --output_dir {ws}/mine", "holds files codesign did not write"),
        ("dqm lumisections generate --out {ws}/cwd/s.parquet --n_ls 0", "expected an integer >= 1"),
        ("dqm lumisections generate --out {ws}/cwd/s.parquet --anomaly_fraction 1.5", "between 0 and 1"),
        ("dqm lumisections generate --out {ws}/cwd/s.parquet --run 0", "argument --run"),
        ("dqm lumisections generate --out {ws}/notes.parquet", "already exists; pass --force"),
        ("dqm lumisections generate --out {ws}/notes.parquet --force", "not a series written by codesign"),
        ("dqm lumisections train --input_file {ws}/nosuch.parquet --output_dir {ws}/cwd/l --tag t", "no such file"),
        ("dqm lumisections train --input_file {ws}/labels.parquet --output_dir {ws}/cwd/l --tag t",
         "column 'label' holds 5 (row 7)"),
        ("dqm lumisections train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/l --tag t --window 0",
         "argument --window"),
        ("dqm lumisections train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/l --tag t --dropout 2",
         "argument --dropout"),
        ("dqm lumisections train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/l --tag t "
         + "--learning_rate 0", "expected a number > 0"),
        ("dqm lumisections train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/l --tag t --percentile 100",
         "strictly between 0 and 100"),
        ("dqm lumisections train --input_file {ws}/notes.parquet --output_dir {ws}/cwd/l --tag t --false_alarm 0",
         "strictly between 0 and 1"),
        ("dqm lumisections train --input_file {ws}/notes.parquet --output_dir {ws}/mine --tag t",
         "holds files codesign did not write"),
        ("dqm lumisections assess --input_file {ws}/nosuch.parquet --output_dir {ws}/cwd/la", "no such file"),
        ("dqm lumisections assess --input_file {ws}/labels.parquet --output_dir {ws}/mine",
         "holds files codesign did not write"),
        ("dqm lumisections train --input_file {ws}/labels.parquet --output_dir {ws}/cwd/l --tag ../evil", "tag"),
        ("dqm lumisections assess --input_file {ws}/notes.parquet --output_dir {ws}/cwd/la --n_bootstrap 0",
         "expected an integer >= 1"),
    ],
}


ALL = [(c, f) for cases in CASES.values() for c, f in cases]


def _run(ws: Path, index: int, command: str) -> tuple:
    """One case in its own copy of the workspace (hard links: nothing is duplicated, a replaced or edited file
    shows in the hashes); (returncode, stderr, snapshot before, snapshot after)."""
    import shlex
    import shutil

    root = ws.parent / f"case{index:03d}"
    shutil.copytree(ws, root, copy_function=os.link)
    before = snapshot(root)
    argv = [a.replace("{ws}", str(root)) for a in shlex.split(command)]
    proc = subprocess.run([sys.executable, "-m", "codesign", *argv], capture_output=True, text=True,
                          cwd=root / "cwd", timeout=300, check=False)
    return proc.returncode, proc.stderr, before, snapshot(root), root


@pytest.fixture(scope="module")
def results(ws):
    """Every case at once, a few processes at a time (each is mostly interpreter start-up)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(2, os.cpu_count() or 1) + 1) as pool:
        futures = [pool.submit(_run, ws, i, command) for i, (command, _) in enumerate(ALL)]
        return [f.result() for f in futures]


@pytest.mark.parametrize("index", range(len(ALL)), ids=[c.replace("{ws}/", "") for c, _ in ALL])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(results, index):
    _, fragment = ALL[index]
    code, stderr, before, after, root = results[index]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, stderr[-3000:]
    assert "Traceback" not in stderr and len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("codesign: error: ") and fragment.replace("{ws}", str(root)) in lines[0], lines[0]
    assert after == before, "a refused command changed files"
    assert not (root / "pwned").exists() and not (root / "cwd" / "pwned").exists()
