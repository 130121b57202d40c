"""Studies end to end on a tiny sample: run, resume, reuse, SIGKILL mid-candidate, 2 Dask workers, bad input.

Every candidate is really trained, compiled, C-simulated (bit-exact check), scored and estimated.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from codesign import cli, tasks
from codesign import config as cfg
from codesign.hardware import targets
from codesign.search import records as records_mod
from codesign.search import space as space_mod
from codesign.search import study
from codesign.search.rundir import RunDir

from . import tiny


@pytest.fixture()
def space_file(tmp_path):
    return tiny.write(tmp_path)


def records(out: Path) -> dict[int, dict]:
    return {int(p.stem): json.loads(p.read_text()) for p in sorted((out / "trials").glob("*.json"))}


def search(space_file, out, *extra) -> int:
    return cli.main(["search", "--space", str(space_file), "--out", str(out), "--quiet", "--target", "xcvu9p",
                     "--fidelity", "0", *map(str, extra)])


def test_study_runs_resumes_and_reuses(space_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert search(space_file, out, "--trials", 3, "--budget", "luts=50%") == 0
    printed = capsys.readouterr().out
    assert "Pareto front (feasible):" in printed and "3 trials: 3 complete" in printed
    first = records(out)
    assert len(first) == 3 and all(r["status"] == "complete" for r in first.values())
    r = first[0]
    assert r["bit_exact"]["n_exact"] == r["bit_exact"]["n_events"] > 0
    assert set(r["scores"]) == {"Ato4l", "leptoquark", "hToTauTau", "hChToTauNu"}
    assert r["estimate"]["method"] == "analytic" and r["estimate"]["lut"] > 0 and r["seconds"]["train"] > 0
    for name in ("study.db", "search.json", "trials.csv", "trials.parquet", "front.csv"):
        assert (out / name).is_file()
    saved = json.loads((out / "search.json").read_text())
    assert saved["settings"]["seed"] == 3 and "versions" in json.dumps(saved["provenance"])
    # the same command with more trials resumes: finished trials are kept as they are
    assert search(space_file, out, "--trials", 4, "--budget", "luts=50%") == 0
    again = records(out)
    assert len(again) == 4 and all(again[n] == first[n] for n in first)
    # a resumed study must be the same study
    assert search(space_file, out, "--trials", 5, "--budget", "luts=10%") == 2
    assert "holds a study with different settings (budget)" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [pytest.param(signal.SIGINT, id="ctrl-c"),
                                 pytest.param(signal.SIGKILL, id="sigkill", marks=pytest.mark.slow)])
def test_stopped_mid_candidate_then_resume(space_file, tmp_path, sig):
    """Ctrl-C (SIGINT to the process group) ends the search within seconds, exit 130, no process left behind
    (Dask workers, g++); a SIGKILL (power cut) loses no finished trial either; both resume to the same study."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "codesign.cli", "search", "--space", str(space_file), "--out", str(out), "--quiet",
           "--trials", "3", "--target", "xcvu9p", "--fidelity", "0", "-j", "2"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 300
    while not (out / "trials" / "00000.json").is_file() and time.time() < deadline:
        time.sleep(0.5)
    assert (out / "trials" / "00000.json").is_file(), "the first candidate never finished"
    time.sleep(4)  # the next candidates are being trained
    os.killpg(proc.pid, sig)
    stopped = time.time()
    _, err = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and err.strip().splitlines()[-1] == "codesign: interrupted", err[-2000:]
        print(f"ended {time.time() - stopped:.1f} s after Ctrl-C")
    deadline = time.time() + 30
    while _group_alive(proc.pid) and time.time() < deadline:
        time.sleep(0.5)
    assert not _group_alive(proc.pid), "processes of the interrupted search are still running"
    before = records(out)
    assert 1 <= len(before) < 3
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = records(out)
    assert sum(r["status"] == "complete" for r in after.values()) == 3
    assert all(after[n] == before[n] for n in before)  # nothing finished was lost or redone


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _serial_and_parallel(space_file, tmp_path, scheduler: bool):
    """The same two candidates run serially and on two Dask workers (a local cluster the study starts, or an
    external scheduler it is given)."""
    s = space_mod.load(str(space_file))
    base = cfg.read_yaml(tmp_path / "base.yaml")
    settings = study.Settings(task="l1-anomaly", target="xcvu9p", n_trials=2, base_config=base, csim_check=200,
                              fidelity=0)
    points = [{"depth": 1, "width_1": 8, "latent": 2, "weight_bits": 6, "sparsity": 0.0},
              {"depth": 2, "width_1": 8, "width_2": 4, "latent": 3, "weight_bits": 4, "sparsity": 0.5}]
    serial = study.run(s, settings, tmp_path / "serial", progress=False, enqueue=points)
    if not scheduler:
        return serial, study.run(s, settings.model_copy(update={"jobs": 2}), tmp_path / "parallel", progress=False,
                                 enqueue=points)
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        return serial, study.run(s, settings.model_copy(update={"jobs": 2, "scheduler": cluster.scheduler_address}),
                                 tmp_path / "remote", progress=False, enqueue=points)


def _content(rs):
    return sorted((r.key, r.get("tpr"), r.get("auc"), json.dumps(r.get("scores"), sort_keys=True),
                   json.dumps(r.estimate, sort_keys=True)) for r in rs)


@pytest.mark.slow  # 85 s; CI runs -j 2 every time in the README's main job, this compares it with serial
def test_two_workers_give_the_serial_results(space_file, tmp_path):
    serial, parallel = _serial_and_parallel(space_file, tmp_path, scheduler=False)
    assert _content(serial) == _content(parallel) and len(serial) == 2


@pytest.mark.slow  # the same submission path as -j 2, through an external scheduler's address
def test_a_dask_scheduler_gives_the_serial_results(space_file, tmp_path):
    serial, remote = _serial_and_parallel(space_file, tmp_path, scheduler=True)
    assert _content(serial) == _content(remote) and len(serial) == 2


def test_a_budget_nothing_meets(space_file, tmp_path, capsys):
    assert search(space_file, tmp_path / "run", "--trials", 1, "--budget", "luts=10") == 1
    out = capsys.readouterr().out
    assert "no candidate meets the budget; the closest:" in out and "1 trials: 1 complete" in out
    (rec,) = records(tmp_path / "run").values()
    assert rec["feasible"] is False and rec["violations"]["lut"] > 0


@pytest.mark.parametrize("extra, message", [
    (["--budget", "lutz=5"], "--budget: cannot read 'lutz=5'"),
    (["--budget", "luts=-5"], "--budget: lut: Input should be greater than 0"),
    (["--budget", "luts=five"], "--budget: lut must be a number"),
    (["--budget", "latency_ns=5%"], "a percentage needs a resource of the part"),
    (["--target", "xcvu99p"], "unknown target 'xcvu99p'"),
    (["--objective", "Zprime"], "--objective 'Zprime': expected geomean, min, mean, per-signal or a signal"),
    (["-j", "0"], "argument -j/--jobs: expected an integer >= 1"),
    (["--fidelity", "1.5"], "argument --fidelity: expected a fraction between 0 and 1"),
    (["--fidelity", "1"], "--fidelity must be in [0, 1)"),
])
def test_bad_input_leaves_no_study(space_file, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert search(space_file, out, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not out.exists()


def test_malformed_space_file(tmp_path, capsys):
    bad = tmp_path / "space.yaml"
    bad.write_text("dimensions: {depth: {int: [1, 3]}, colour: {choice: [red]}}\n")
    assert cli.main(["search", "--space", str(bad), "--out", str(tmp_path / "run")]) == 2
    assert "space.yaml: dimensions: unknown dimension(s) colour" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_budget_percentages():
    res = targets.load("xcvu9p").resources_dict
    assert study.budget_fraction("luts=5%,dsp=100", res) == f"luts={int(0.05 * 1182240)},dsp=100"


def test_low_fidelity_pass_prunes_candidates_the_front_beats(space_file, tmp_path):
    """A cheap first pass (a quarter of epochs and data) ends a candidate the front beats by the margin."""
    from codesign.search import objective, studydata
    from codesign.tasks import l1_anomaly

    base = cfg.read_yaml(tmp_path / "base.yaml")
    config = cfg.parse(l1_anomaly.Config, base, "base")
    studydata.write_data(tmp_path, tasks.get("l1-anomaly"), config)
    settings = study.Settings(task="l1-anomaly", target="xcvu9p", base_config=base, fidelity=0.25).model_dump()
    params = {"depth": 1, "width_1": 8, "latent": 2, "weight_bits": 6, "sparsity": 0.5}
    beaten = objective.evaluate(params, str(tmp_path), settings, front=[[1.0, 0.0]])
    assert beaten["status"] == "pruned" and "low fidelity (0.25 of epochs and data)" in beaten["reason"]
    assert beaten["seconds"]["low_fidelity"] > 0 and "train" not in beaten["seconds"]
    kept = objective.evaluate(params, str(tmp_path), {**settings, "csim_check": 100}, front=[[1e-9, 1e9]])
    assert kept["status"] == "complete" and kept["seconds"]["low_fidelity"] > 0 and kept["seconds"]["train"] > 0


@pytest.mark.slow  # the alternative engine; the Optuna engine's tests above cover the shared candidate path
def test_keras_tuner_engine_on_the_same_space(space_file, tmp_path, capsys):
    out = tmp_path / "kt"
    assert search(space_file, out, "--engine", "keras-tuner", "--trials", 2, "--budget", "luts=50%") == 0
    recs = records(out)
    assert len(recs) == 2 and all(r["engine"] == "keras-tuner/bayesian" for r in recs.values())
    assert all(r["status"] == "complete" and r["feasible"] for r in recs.values())
    assert (out / "keras_tuner").is_dir() and (out / "trials.csv").is_file()
    assert "Pareto front (feasible):" in capsys.readouterr().out
    assert search(space_file, tmp_path / "x", "--engine", "keras-tuner", "-j", "2") == 2
    assert "drop -j/--scheduler/--storage" in capsys.readouterr().err


def test_per_signal_objectives_and_reference_designs(tmp_path, capsys):
    """Every signal's TPR its own Optuna objective; a reference design scored once, on the study's events."""
    import optuna
    import yaml

    extra = f"""references:
  - label: float, one layer
    config: {tmp_path / "float.yaml"}
    firmware: false
  - label: inputs alone
    inputs: none
"""
    space_file = tiny.write(tmp_path, extra=extra)
    float_cfg = cfg.read_yaml(tmp_path / "base.yaml")
    float_cfg["model"] = {"kind": "dense_ae", "encoder": [6], "latent": 2, "activation": "relu",
                          "input_batchnorm": False}
    float_cfg["data"] = {"n_train": 10, "n_val": 10, "n_test": 10, "n_signal": 1}  # replaced by the study's data
    (tmp_path / "float.yaml").write_text(yaml.safe_dump(float_cfg))
    out = tmp_path / "run"
    assert search(space_file, out, "--trials", 1, "--budget", "luts=50%", "--objective", "per-signal") == 0
    printed = capsys.readouterr().out
    assert "reference designs, on the same events:" in printed and "float, one layer" in printed
    assert "tail=in" in printed and "inputs alone" in printed
    st = optuna.load_study(study_name=out.resolve().name, storage=f"sqlite:///{out / 'study.db'}")
    assert st.directions == [optuna.study.StudyDirection.MAXIMIZE] * 4 + [optuna.study.StudyDirection.MINIMIZE]
    (trial,) = st.trials
    rec = records(out)[trial.number]
    assert trial.values == [rec["scores"][s]["tpr"] for s in ("Ato4l", "leptoquark", "hToTauTau", "hChToTauNu")] + \
        [rec["estimate"]["lut"]]
    refs = {r.reference: r for r in RunDir(out).read_references()}
    ref = refs["float, one layer"]
    assert ref.complete and ref.estimate is None
    assert {s["n_background"] for s in ref.get("scores").values()} == {10_000}  # the study's events, not its config's
    assert (out / "references.csv").is_file()
    # the inputs alone: the squared norm of the (unpreprocessed) inputs, an independent computation here
    from codesign import metrics
    from codesign.search import studydata

    data = studydata.read_data(out)
    norm = np.sum(np.square(np.asarray(data.x_test, np.float64)), axis=1)
    threshold, _ = metrics.threshold_at_fpr(norm, 1e-3)
    for name, x in data.signals.items():
        assert refs["inputs alone"].get("scores")[name]["tpr"] == np.mean(np.sum(np.square(np.asarray(x, np.float64)),
                                                                             axis=1) > threshold)
    assert records_mod.shared_with_inputs(refs["inputs alone"], records_mod.inputs_tails(list(refs.values())),
                                    study.Settings(task="l1-anomaly", target="xcvu9p")) == 1.0
    stamp = next((out / "references").glob("*.json")).stat().st_mtime_ns
    assert search(space_file, out, "--trials", 1, "--budget", "luts=50%", "--objective", "per-signal") == 0
    assert next((out / "references").glob("*.json")).stat().st_mtime_ns == stamp  # scored once per study


def test_a_network_that_reconstructs_nothing_is_not_taken_for_a_model(space_file, tmp_path):
    """On raw GeV inputs a tiny 8-bit network reconstructs nothing: its threshold is set by the very events the
    squared norm of the inputs puts on top, so it is recorded with its scores and ended, off the front."""
    from codesign.search import objective, studydata
    from codesign.tasks import l1_anomaly

    base = cfg.read_yaml(tmp_path / "base.yaml")
    # 100 threshold-setting events: the verdict is not taken on fewer than objective.NOT_A_MODEL_EVENTS
    base = {**base, "preprocessing": "none", "data": {**base["data"], "n_test": 100_000}}
    studydata.write_data(tmp_path, tasks.get("l1-anomaly"), cfg.parse(l1_anomaly.Config, base, "base"))
    settings = study.Settings(task="l1-anomaly", target="xcvu9p", base_config=base, fidelity=0, csim_check=100)
    rec = objective.evaluate({"depth": 1, "width_1": 4, "latent": 2, "weight_bits": 4, "sparsity": 0.5},
                             str(tmp_path), settings.model_dump())
    assert rec["status"] == "pruned" and rec["reason"].startswith("not a model: 100% of the background events")
    assert rec["tail_shared_with_inputs"] == 1.0 and rec["scores"] and rec["estimate"]["lut"] > 0
    null = json.loads((tmp_path / "data" / "inputs-alone-none.json").read_text())
    assert rec["tail_setting_events"] == 100 and null["index"][:100] == rec["tail"]["index"][:100]
