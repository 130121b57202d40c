"""The objective: one candidate from parameters to firmware-exact scores and a resource estimate.

`evaluate` runs in a worker process (Dask) and is stateless: it reads the study's data from
the run directory (memory-mapped .npy, written once by the driver), trains, builds and
C-simulates the firmware (cached by content under the run directory), scores the full test
set with the bit-exact emulator, estimates resources on the target, and returns a plain
record. A candidate that fails (NaN loss, an invalid parameter combination, a compile
error) returns a record with its reason; the driver records it and the search goes on.
"""

from __future__ import annotations

import math
import time
import traceback
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError
from codesign.search.studydata import candidate_data, inputs_alone_tail

LOW_FIDELITY_TEST = 2_000_000  # background events a low-fidelity pass scores (the full set is for the result)
# A candidate whose threshold is set by (at least) this share of the inputs alone's top background events is the
# inputs alone: recorded with its scores, but ended as pruned, so that neither the front nor the sampler takes it
# for a model (in the main job the 40 complete candidates shared 0.02-0.88, median 0.78; six were ended at 0.9-1.0).
NOT_A_MODEL = 0.9
# ... judged only on at least this many threshold-setting events: on ten, nine shared happens by chance (a DQM study's
# few hundred runs); the share is recorded either way.
NOT_A_MODEL_EVENTS = 50


# ---------------------------------------------------------------- evaluation


def tf_threads(n: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    except RuntimeError:  # already initialised in this process
        pass


def summarise(scores: dict, how: str) -> dict:
    """The objective (the per-signal TPRs at the FPR combined `how`, `merit.combine`), its error, the mean AUC."""
    from codesign.merit import combine

    tpr, err = combine(scores, how)
    return {"tpr": tpr, "tpr_error": err, "auc": float(np.mean([s.auc for s in scores.values()]))}


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
        tf_threads(int(settings.get("tf_threads", 1)))
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
        record.update(evaluate_candidate(c, run_dir, settings, seconds))
        shared = record.get("tail_shared_with_inputs")
        if shared is not None and shared >= NOT_A_MODEL and record["tail_setting_events"] >= NOT_A_MODEL_EVENTS:
            record.update(status="pruned", reason=(
                f"not a model: {shared:.0%} of the background events that set its threshold are those of the inputs "
                f"alone (the squared norm of the preprocessed inputs, a network that reconstructs nothing); its "
                f"efficiencies are theirs, whatever its layers (scores kept in this record)"))
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
    # the cheap pass scores on the first LOW_FIDELITY_TEST background events (its threshold on 20 at 1e-5)
    small = Dataset(data.x_train[:n], data.x_val[:max(500, int(len(data.x_val) * frac))],
                    data.x_test[:LOW_FIDELITY_TEST], data.signals, data.input_names, data.sources)
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


def train(c, data, n_bootstrap: int = 10):
    """Train a candidate (the search's recipe; export repeats it to rebuild older firmware).

    A task may train its own way (`task.train(config, data)`, e.g. compression, which has no
    signals to score); anomaly tasks share `tasks.base.train_and_score`. The Keras-level scores
    are a diagnostic where the firmware's are the result: by default the fewest AUC resamplings.
    """
    from codesign import tasks
    from codesign.tasks.base import train_and_score

    quick = c.config.model_copy(update={"metrics": c.config.metrics.model_copy(update={"n_bootstrap": n_bootstrap})})
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


def _anomaly_scores(fw, c, data, result, settings: dict, run_dir: Path) -> dict:
    """Firmware-exact efficiencies of every signal at the FPR (the background's scores set the threshold).

    For an autoencoder, also the share of the background events that set its threshold (the floor(FPR N)
    highest-scoring, at most 100) that the inputs alone (the squared norm of the preprocessed inputs: a network
    that reconstructs nothing) put there too.
    """
    from codesign import evaluation

    m = c.config.metrics
    signals = {k: np.asarray(v) for k, v in data.signals.items()}
    scores, background, signal_scores = evaluation.score_dataset(fw, data.x_test, signals, m.fpr,
                                                                 m.n_bootstrap, c.config.seed)
    return {**summarise(scores, settings["tpr"]), "keras": summarise(result.scores, settings["tpr"]),
            "scores": {k: v.to_dict() for k, v in scores.items()},
            "curves": evaluation.curves(background, signal_scores), **threshold_setters(background, c, run_dir)}


def threshold_setters(background: np.ndarray, c, run_dir: Path) -> dict:
    """The background events on top (`tail`) and, for an autoencoder, the share of those that set its
    threshold (the floor(FPR N) highest, at most 100) that the inputs alone put there too."""
    from codesign import evaluation, tasks
    from codesign.core.spec import DenseAE

    tail = evaluation.tail(background)
    out = {"tail": tail}
    if isinstance(c.config.model, DenseAE) and c.firmware.score_head:  # its score is a reconstruction error
        null = inputs_alone_tail(c.config.preprocessing, tasks.get(c.config.task), run_dir)
        setting = min(len(tail["index"]), math.floor(c.config.metrics.fpr * len(background) + 1e-9))
        out["tail_shared_with_inputs"] = evaluation.tail_overlap(tail, null, setting)
        out["tail_setting_events"] = setting
    return out


def evaluate_candidate(c, run_dir: Path, settings: dict, seconds: dict) -> dict:
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
    if hasattr(task, "score_firmware"):  # a compression scores its decoded jets
        scored = task.score_firmware(fw, c, data, result, settings)
    else:
        scored = _anomaly_scores(fw, c, data, result, settings, run_dir)
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
