"""The objective: one candidate from parameters to firmware-exact scores and a resource estimate.

`evaluate` runs in a worker process (Dask) and is stateless: it reads the study's data from
the run directory (memory-mapped .npy, written once by the driver), trains, builds and
C-simulates the firmware (cached by content under the run directory), scores the full test
set with the bit-exact emulator, estimates resources on the target, and returns a plain
record. A candidate that fails (NaN loss, an invalid parameter combination, a compile
error) returns a record with its reason; the driver records it and the search goes on.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError

DATA_DIR = "data"


# ---------------------------------------------------------------- the study's data, shared by all workers


def write_data(run_dir: Path, dataset) -> Path:
    """x_train / x_val / x_test / signal_<name> as .npy files (float32) plus a manifest."""
    out = run_dir / DATA_DIR
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"x_train": dataset.x_train, "x_val": dataset.x_val, "x_test": dataset.x_test,
              **{f"signal_{k}": v for k, v in dataset.signals.items()}}
    for name, arr in arrays.items():
        tmp = out / f"{name}.tmp.npy"
        np.save(tmp, np.asarray(arr, dtype=np.float32))
        tmp.replace(out / f"{name}.npy")
    manifest = {"signals": list(dataset.signals), "input_names": list(dataset.input_names),
                "sources": dataset.sources, "shapes": {k: list(np.shape(v)) for k, v in arrays.items()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str))
    return out


def read_data(run_dir: Path):
    from codesign.tasks.base import Dataset

    d = Path(run_dir) / DATA_DIR
    manifest = json.loads((d / "manifest.json").read_text())

    def load(name):
        return np.load(d / f"{name}.npy", mmap_mode="r")

    return Dataset(load("x_train"), load("x_val"), load("x_test"),
                   {k: load(f"signal_{k}") for k in manifest["signals"]}, manifest["input_names"],
                   manifest.get("sources", {}))


# ---------------------------------------------------------------- evaluation


def _tf_threads(n: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # already initialised in this process
        pass


def summarise(scores: dict, tpr_of: str) -> dict:
    """The objective value (TPR at the FPR: one signal's, or the mean over signals) and its error."""
    if tpr_of == "average":
        tpr = float(np.mean([s.tpr for s in scores.values()]))
        err = float(np.sqrt(np.sum([s.tpr_error ** 2 for s in scores.values()])) / len(scores))
    else:
        tpr, err = scores[tpr_of].tpr, scores[tpr_of].tpr_error
    auc = float(np.mean([s.auc for s in scores.values()]))
    return {"tpr": tpr, "tpr_error": err, "auc": auc}


def evaluate(params: dict, run_dir: str, settings: dict) -> dict:
    """Train, build, check, score and estimate one candidate; never raises for a candidate's own failure."""
    from codesign import tasks
    from codesign.search import candidate as cand

    run_dir = Path(run_dir)
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    record = {"params": params, "status": "complete", "reason": "", "seconds": seconds}
    try:
        from codesign.runtime import quiet_libraries

        quiet_libraries()
        _tf_threads(int(settings.get("tf_threads", 1)))
        task = tasks.get(settings["task"])
        from codesign import config as cfg

        base = cfg.parse(task.Config, settings["base_config"], "search base config")
        c = cand.make(params, base, task.Config)
        record["key"] = c.key
        record.update(_evaluate(c, run_dir, settings, seconds))
    except cand.InvalidCandidate as exc:
        record.update(status="failed", reason=f"invalid parameters: {exc}")
    except CodesignError as exc:  # TrainingFailed, FirmwareError, ToolError, ...
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug or an unexpected library error: keep the traceback with the record
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc(limit=8))
    seconds["total"] = round(time.perf_counter() - start, 2)
    return record


def _evaluate(c, run_dir: Path, settings: dict, seconds: dict) -> dict:
    from codesign import evaluation, firmware
    from codesign.data import adc2021
    from codesign.hardware import estimate, graph, targets
    from codesign.tasks.base import train_and_score

    data = read_data(run_dir)
    t = time.perf_counter()
    result = train_and_score(c.config, data)
    seconds["train"] = round(time.perf_counter() - t, 2)
    keras = summarise(result.scores, settings["tpr"])

    target = targets.load(settings["target"])
    t = time.perf_counter()
    fw = firmware.build(result.model, c.config.model, result.preprocessor, np.asarray(data.x_train[:100_000]),
                        c.firmware, target.part, target.clock_period_ns, cache_dir=run_dir / "firmware",
                        input_groups=adc2021.input_quantities())
    seconds["firmware"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    everything = np.concatenate([np.asarray(data.x_test[:20_000]), *[np.asarray(v[:2_000])
                                                                     for v in data.signals.values()]])
    check = evaluation.check_bit_exact(fw, everything, int(settings.get("csim_check", 1000)), c.config.seed)
    seconds["csim"] = round(time.perf_counter() - t, 2)
    if check.n_exact != check.n_events:
        raise CodesignError(f"emulator differs from C-simulation on {check.n_events - check.n_exact} of "
                            f"{check.n_events} events: firmware scores would not be trustworthy")

    t = time.perf_counter()
    m = c.config.metrics
    scores, _, _ = evaluation.score_dataset(fw, np.asarray(data.x_test), {k: np.asarray(v) for k, v in
                                                                            data.signals.items()},
                                            m.fpr, m.n_bootstrap, c.config.seed)
    seconds["score"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    est = estimate.estimate(graph.from_firmware(fw), c.method, target)
    seconds["estimate"] = round(time.perf_counter() - t, 3)
    return {
        **summarise(scores, settings["tpr"]),
        "keras": keras,
        "scores": {k: v.to_dict() for k, v in scores.items()},
        "estimate": est.summary(),
        "bit_exact": check.to_dict(),
        "firmware": str(Path(fw.directory).relative_to(run_dir)),
        "sparsity": result.metadata["sparsity"]["overall"],
        "epochs_run": result.metadata["training"]["epochs_run"],
    }
