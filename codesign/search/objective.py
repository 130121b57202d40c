"""The objective: one candidate from parameters to firmware-exact scores and a resource estimate.

`evaluate` runs in a worker process (Dask) and is stateless: it reads the study's data from
the run directory (memory-mapped .npy, written once by the driver), trains, builds and
C-simulates the firmware (cached by content under the run directory), scores the full test
set with the bit-exact emulator, estimates resources on the target, and returns a plain
record. A candidate that fails (NaN loss, an invalid parameter combination, a compile
error) returns a record with its reason; the driver records it and the search goes on.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import numpy as np

from codesign import evaluation, firmware, tasks
from codesign.errors import CodesignError
from codesign.hardware import estimate, graph, load, targets
from codesign.runtime import quiet_libraries
from codesign.search import candidate as cand
from codesign.search.settings import Settings
from codesign.search.studydata import candidate_data, inputs_alone_tail
from codesign.tasks.anomaly import summarise
from codesign.tasks.base import Dataset, Scoring

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


def evaluate(params: dict, run_dir: str, settings: dict, front: list[list[float]] | None = None) -> dict:
    """Train, build, check, score and estimate one candidate; never raises for a candidate's own failure.

    `settings`: the study's `Settings` as JSON (what a Dask worker is sent). `front`: (TPR, resource)
    of the feasible candidates found so far. With `fidelity` > 0 and a task that allows it, a cheap
    first pass (that fraction of the epochs and training data, Keras scores, the network's own
    resources) ends the candidate as 'pruned' when a front point beats it by `prune_margin` in TPR at
    no more resources; otherwise the candidate is trained again at full fidelity from scratch.
    """
    run_dir = Path(run_dir)
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    record = {"params": params, "status": "complete", "reason": "", "seconds": seconds}
    try:
        quiet_libraries()
        s = Settings.model_validate(settings)
        tf_threads(s.tf_threads)
        c = cand.of_study(params, s)
        record["key"] = c.key
        if s.fidelity > 0 and front and tasks.get(s.task).low_fidelity:
            reason = _low_fidelity(c, run_dir, s, front, seconds)
            if reason:
                record.update(status="pruned", reason=reason)
                seconds["total"] = round(time.perf_counter() - start, 2)
                return record
        record.update(evaluate_candidate(c, run_dir, s, seconds))
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


def _low_fidelity(c, run_dir: Path, s: Settings, front: list[list[float]], seconds: dict) -> str:
    """The reason to stop this candidate after a cheap pass, or '' to go on."""
    t = time.perf_counter()
    frac = s.fidelity
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
    result = tasks.get(c.config.task).train(config, small)
    low = summarise(result.scores, s.tpr)
    target = targets.load(s.target)
    kcfg = load.hls_config("keras", result.model, c.firmware.backend, None, None, c.firmware.reuse_factor,
                           c.firmware.strategy if c.method != "da" else "da")
    net = estimate.estimate(load.convert("keras", result.model, kcfg, target.part, target.clock_period_ns),
                            c.method, target)
    bound = float(net.summary()[s.resource])  # the network alone: a lower bound
    seconds["low_fidelity"] = round(time.perf_counter() - t, 2)
    optimistic = s.prune_margin * (low["tpr"] + 2 * low["tpr_error"])
    for f_tpr, f_res in front:
        if f_tpr > optimistic and f_res <= bound:
            return (f"low fidelity ({frac:g} of epochs and data): TPR {low['tpr']:.2e} ± {low['tpr_error']:.1e}, "
                    f"network alone {bound:.0f} {s.resource}; the front has TPR {f_tpr:.2e} "
                    f"at {f_res:.0f}, more than {s.prune_margin:g}x better at no more resources")
    return ""


def train(c: cand.Candidate, data: Dataset, n_bootstrap: int = 10):
    """Train a candidate the search's way (`Task.train`).

    The Keras-level figures are a diagnostic where the firmware's are the result: by default
    the fewest resamplings.
    """
    quick = c.config.model_copy(update={"metrics": c.config.metrics.model_copy(update={"n_bootstrap": n_bootstrap})})
    return tasks.get(c.config.task).train(quick, data)


def build(c: cand.Candidate, trained, data: Dataset, target, cache_dir: Path):
    """The trained candidate's firmware on `target` (what the task deploys), cached by content in `cache_dir`."""
    task = tasks.get(c.config.task)
    model, spec, score_head = task.deployed(trained.model, c.config.model)
    options = c.firmware.model_copy(update={"score_head": score_head})
    return firmware.build(model, spec, trained.preprocessor, np.asarray(data.x_train[:100_000]), options,
                          target.part, target.clock_period_ns, cache_dir=cache_dir,
                          input_groups=task.input_groups(data.input_names))


def rebuild(c: cand.Candidate, run_dir: Path, s: Settings, cache_dir: Path):
    """A recorded candidate trained again from its parameters and seed and built into `cache_dir` (export)."""
    tf_threads(s.tf_threads)
    data = candidate_data(c, run_dir)
    return build(c, train(c, data), data, targets.load(s.target), cache_dir)


def scoring(c: cand.Candidate, run_dir: Path, s: Settings) -> Scoring:
    """How the study scores a candidate: its objective, and the inputs alone's tail on the study's events."""
    task = tasks.get(c.config.task)
    return Scoring(s.tpr, lambda preprocessing: inputs_alone_tail(preprocessing, task, run_dir))


def evaluate_candidate(c: cand.Candidate, run_dir: Path, s: Settings, seconds: dict) -> dict:
    task = tasks.get(c.config.task)
    data = candidate_data(c, run_dir)
    t = time.perf_counter()
    result = train(c, data)
    seconds["train"] = round(time.perf_counter() - t, 2)

    target = targets.load(s.target)
    t = time.perf_counter()
    fw = build(c, result, data, target, run_dir / "firmware")
    seconds["firmware"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    everything = np.concatenate([np.asarray(data.x_test[:20_000]), *[np.asarray(v[:2_000])
                                                                     for v in data.signals.values()]])
    check = evaluation.check_bit_exact(fw, everything, s.csim_check, c.config.seed)
    seconds["csim"] = round(time.perf_counter() - t, 2)
    if check.n_exact != check.n_events:
        raise CodesignError(f"emulator differs from C-simulation on {check.n_events - check.n_exact} of "
                            f"{check.n_events} events: firmware scores would not be trustworthy")

    t = time.perf_counter()
    scored = task.score_firmware(fw, c.config, data, result, scoring(c, run_dir, s))
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
        "ebops": result.metadata.get("ebops"),  # HGQ's own count at the end of training (None: not HGQ)
        "epochs_run": result.metadata["training"]["epochs_run"],
    }
