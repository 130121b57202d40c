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


def candidate_data(c, run_dir: Path):
    """The study's data as candidate `c` sees it (a task's `view`, e.g. a shorter LSTM window)."""
    from codesign import tasks

    data = read_data(run_dir)
    view = getattr(tasks.get(c.config.task), "view", None)
    return view(c.config, data) if view is not None else data


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


def evaluate(params: dict, run_dir: str, settings: dict, front: list[list[float]] | None = None) -> dict:
    """Train, build, check, score and estimate one candidate; never raises for a candidate's own failure.

    `front`: (TPR, resource) of the feasible candidates found so far. With `settings['fidelity']` > 0 a
    cheap first pass (that fraction of the epochs and training data, Keras scores, the network's own
    resources) ends the candidate as 'pruned' when a front point beats it by `prune_margin` in TPR at
    no more resources; otherwise the candidate is trained again at full fidelity from scratch.
    """
    from codesign import tasks
    from codesign.merit import EFFICIENCY
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
        # the cheap first pass compares efficiencies (a compression trains in seconds: no need)
        if float(settings.get("fidelity", 0)) > 0 and front and getattr(task, "MERIT", EFFICIENCY) is EFFICIENCY:
            reason = _low_fidelity(c, run_dir, settings, front, seconds)
            if reason:
                record.update(status="pruned", reason=reason)
                seconds["total"] = round(time.perf_counter() - start, 2)
                return record
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


def _low_fidelity(c, run_dir: Path, settings: dict, front: list[list[float]], seconds: dict) -> str:
    """The reason to stop this candidate after a cheap pass, or '' to go on."""
    from codesign.hardware import estimate, load, targets
    from codesign.tasks.base import Dataset, train_and_score

    t = time.perf_counter()
    frac = float(settings["fidelity"])
    data = candidate_data(c, run_dir)
    n = max(1000, int(len(data.x_train) * frac))
    small = Dataset(data.x_train[:n], data.x_val[:max(500, int(len(data.x_val) * frac))], data.x_test,
                    data.signals, data.input_names, data.sources)
    training = c.config.training
    model_spec = c.config.model
    epochs = max(2 if model_spec.pruning is not None else 1, round(training.epochs * frac))
    if model_spec.pruning is not None:  # reach the sparsity earlier, and train at least one epoch after it
        p = model_spec.pruning
        end = max(1, min(epochs - 1, round(p.end_epoch * frac)))
        model_spec = model_spec.model_copy(update={"pruning": p.model_copy(update={
            "begin_epoch": min(p.begin_epoch, end - 1), "end_epoch": end})})
    config = c.config.model_copy(update={"training": training.model_copy(update={"epochs": epochs}),
                                         "model": model_spec,
                                         "metrics": c.config.metrics.model_copy(update={"n_bootstrap": 10})})
    result = train_and_score(config, small)
    low = summarise(result.scores, settings["tpr"])
    target = targets.load(settings["target"])
    kcfg = load.hls_config("keras", result.model, c.firmware.backend, None, None, c.firmware.reuse_factor,
                           c.firmware.strategy if c.method != "da" else "da")
    net = estimate.estimate(load.convert("keras", result.model, kcfg, target.part, target.clock_period_ns),
                            c.method, target)
    bound = float(net.summary()[settings.get("resource", "lut")])  # the network alone: a lower bound
    seconds["low_fidelity"] = round(time.perf_counter() - t, 2)
    optimistic = float(settings.get("prune_margin", 2.0)) * (low["tpr"] + 2 * low["tpr_error"])
    for f_tpr, f_res in front:
        if f_tpr > optimistic and f_res <= bound:
            return (f"low fidelity ({frac:g} of epochs and data): TPR {low['tpr']:.2e} ± {low['tpr_error']:.1e}, "
                    f"network alone {bound:.0f} {settings.get('resource', 'lut')}; the front has TPR {f_tpr:.2e} "
                    f"at {f_res:.0f}, more than {settings.get('prune_margin', 2.0):g}x better at no more resources")
    return ""


def train(c, data):
    """Train a candidate (the search's recipe; export repeats it to rebuild older firmware).

    A task may train its own way (`task.train(config, data)`, e.g. compression, which has no
    signals to score); anomaly tasks share `tasks.base.train_and_score`.
    """
    from codesign import tasks
    from codesign.tasks.base import train_and_score

    # Keras-level scores are a diagnostic here (the firmware's are the result): the fewest resamplings.
    quick = c.config.model_copy(update={"metrics": c.config.metrics.model_copy(update={"n_bootstrap": 10})})
    return getattr(tasks.get(c.config.task), "train", train_and_score)(quick, data)


def build(c, result, data, target, cache_dir: Path):
    """The trained candidate's firmware on `target`, cached by content in `cache_dir`.

    What goes on chip is the task's choice (`task.deployed(model, spec)` -> (model, spec,
    score head?)): by default the whole model with its anomaly-score head; for compression
    the encoder alone, returning the latent code.
    """
    from codesign import firmware, tasks

    task = tasks.get(c.config.task)
    model, spec, options = result.model, c.config.model, c.firmware
    if hasattr(task, "deployed"):
        model, spec, score_head = task.deployed(model, spec)
        options = options.model_copy(update={"score_head": score_head})
    return firmware.build(model, spec, result.preprocessor, np.asarray(data.x_train[:100_000]), options, target.part,
                          target.clock_period_ns, cache_dir=cache_dir, input_groups=task.input_groups(data.input_names))


def _anomaly_scores(fw, c, data, result, settings: dict) -> dict:
    """Firmware-exact efficiencies of every signal at the FPR (the background's scores set the threshold)."""
    from codesign import evaluation

    m = c.config.metrics
    signals = {k: np.asarray(v) for k, v in data.signals.items()}
    scores, background, signal_scores = evaluation.score_dataset(fw, np.asarray(data.x_test), signals, m.fpr,
                                                                 m.n_bootstrap, c.config.seed)
    return {**summarise(scores, settings["tpr"]), "keras": summarise(result.scores, settings["tpr"]),
            "scores": {k: v.to_dict() for k, v in scores.items()},
            "curves": evaluation.curves(background, signal_scores)}


def _evaluate(c, run_dir: Path, settings: dict, seconds: dict) -> dict:
    from codesign import evaluation, tasks
    from codesign.hardware import estimate, graph, targets

    task = tasks.get(c.config.task)
    data = candidate_data(c, run_dir)
    t = time.perf_counter()
    result = train(c, data)
    seconds["train"] = round(time.perf_counter() - t, 2)

    target = targets.load(settings["target"])
    t = time.perf_counter()
    fw = build(c, result, data, target, run_dir / "firmware")
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
    score = getattr(task, "score_firmware", _anomaly_scores)
    scored = score(fw, c, data, result, settings)
    seconds["score"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    g = graph.from_firmware(fw)
    est = estimate.estimate(g, c.method, target)
    seconds["estimate"] = round(time.perf_counter() - t, 3)
    return {
        **scored,
        "estimate": est.summary(),
        "bit_exact": check.to_dict(),
        "layers": evaluation.layer_table(fw, g, est),
        "firmware": str(Path(fw.directory).relative_to(run_dir)),
        "sparsity": result.metadata["sparsity"]["overall"],
        "epochs_run": result.metadata["training"]["epochs_run"],
    }
