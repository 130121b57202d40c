"""Anomaly-detection tasks: a score per event, the signal efficiency at a background false-positive rate.

`AnomalyTask` implements the task contract (`tasks.base.Task`) for every task whose model scores
events (L1 trigger, DQM histograms, DQM lumisections): training and Keras scores, the run
directory, firmware-exact scores and the threshold-setting events a search compares with the
inputs alone, and `codesign emulate`. A concrete task adds its `Config`, data and input groups.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign import evaluation, firmware, metrics, provenance, tasks
from codesign.config import dump
from codesign.core import persistence
from codesign.core.models import build, training_target
from codesign.core.preprocessing import Preprocessor
from codesign.core.pruning import overall_sparsity
from codesign.core.scoring import anomaly_score
from codesign.core.spec import LSTMAE, DenseAE, ModelSpec
from codesign.core.trainer import fit, seed_everything
from codesign.merit import EFFICIENCY, combine
from codesign.tasks.base import Dataset, Scoring, Task, TaskConfig


@dataclass
class ScoredModel:
    """A trained anomaly model, its preprocessing, and its Keras-level scores on the test background and signals."""

    scores: dict[str, metrics.SignalScores]
    background_scores: np.ndarray
    signal_scores: dict[str, np.ndarray]
    model: object
    preprocessor: Preprocessor
    metadata: dict


def train_and_score(config: TaskConfig, data: Dataset, verbose: int = 0, tensorboard: str | None = None,
                    task: Task | None = None) -> ScoredModel:
    """Fit preprocessing on training data, train the model, score every signal against the test background.

    `task` gives the input groups (default: the task registered under the config's name)."""
    # Fail before training, not after, if the test background cannot resolve the FPR.
    metrics.require_resolvable(len(data.x_test), config.metrics.fpr, config.metrics.min_background_above)
    groups = (task or tasks.get(config.task)).input_groups(data.input_names)
    pre = Preprocessor.fit(config.preprocessing, data.x_train, groups)
    x_train, x_val = pre.transform(data.x_train), pre.transform(data.x_val)
    start = time.perf_counter()
    seed_everything(config.seed)
    model = build(config.model, x_train.shape[1:], config.training.hgq)
    y_train, y_val = training_target(config.model, x_train), training_target(config.model, x_val)
    fitted = fit(model, x_train, y_train, x_val, y_val, config.training, config.model.pruning, config.seed,
                 verbose=verbose, tensorboard=tensorboard)
    train_seconds = time.perf_counter() - start
    loss = config.training.loss
    background = anomaly_score(fitted.model, config.model, data.x_test, loss, transform=pre.transform)
    signal_scores = {name: anomaly_score(fitted.model, config.model, x, loss, transform=pre.transform)
                     for name, x in data.signals.items()}
    ranked = metrics.SortedScores(background)
    scores = {name: metrics.score_signal(name, ranked, s, config.metrics.fpr, config.metrics.n_bootstrap,
                                         seed=config.seed, min_background_above=config.metrics.min_background_above)
              for name, s in signal_scores.items()}
    metadata = {
        "task": getattr(config, "task", None),
        "config": config.model_dump(mode="json"),
        "provenance": provenance.record(seed=config.seed),
        "data": {**data.sources, "n_train": len(data.x_train), "n_val": len(data.x_val),
                 "n_test_background": len(data.x_test), "n_signal": {k: len(v) for k, v in data.signals.items()}},
        "input_names": data.input_names,
        "preprocessing": pre.to_dict(),
        "training": {"epochs_run": fitted.epochs_run, "seconds": round(train_seconds, 1), "history": fitted.history},
        "sparsity": {"per_layer": fitted.sparsity, "overall": overall_sparsity(fitted.model)},
        "ebops": fitted.ebops,  # HGQ's effective bit operations (None: not an HGQ model)
        "parameters": int(fitted.model.count_params()),
        "scores": {k: v.to_dict() for k, v in scores.items()},
    }
    return ScoredModel(scores, background, signal_scores, fitted.model, pre, metadata)


def save_run(out: Path, config: TaskConfig, result: ScoredModel) -> None:
    """model/ (Keras file + metadata), config.yaml, and the scores (see `write_scores`)."""
    persistence.save(out / "model", result.model, result.metadata)
    (out / "config.yaml").write_text(dump(config))
    write_scores(out, result.scores, result.background_scores, result.signal_scores)


def write_scores(out: Path, scores: dict[str, metrics.SignalScores], background: np.ndarray,
                 signal_scores: dict[str, np.ndarray]) -> None:
    """scores.json / scores.csv (metrics per signal) and test_scores.h5 (per-event scores, for ROC curves)."""
    import h5py

    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps({k: v.to_dict() for k, v in scores.items()}, indent=2) + "\n")
    (out / "scores.csv").write_text(scores_csv(scores))
    with h5py.File(out / "test_scores.h5", "w") as f:
        f.create_dataset("background", data=background, compression="lzf")
        for name, values in signal_scores.items():
            f.create_dataset(f"signal/{name}", data=values, compression="lzf")


def scores_csv(scores: dict[str, metrics.SignalScores]) -> str:
    cols = ["signal", "auc", "auc_low", "auc_high", "fpr", "tpr", "tpr_low", "tpr_high", "threshold",
            "n_background", "n_background_above", "n_signal"]
    lines = [",".join(cols)]
    for s in scores.values():
        lines.append(",".join(str(v) for v in [s.signal, s.auc, *s.auc_interval, s.fpr, s.tpr, *s.tpr_interval,
                                                 s.threshold, s.n_background, s.n_background_above, s.n_signal]))
    return "\n".join(lines) + "\n"


def format_scores(columns: dict[str, dict[str, metrics.SignalScores]]) -> str:
    """A per-signal table of AUC and TPR at the FPR, one column group per run label."""
    labels = list(columns)
    signals = list(next(iter(columns.values())))
    fpr = next(iter(next(iter(columns.values())).values())).fpr
    w = max(12, *(len(name) for name in signals))
    head = f"{'signal':<{w}}" + "".join(f" | {label[:36]:^36}" for label in labels)
    sub = f"{'':<{w}}" + "".join(f" | {'AUC':^16} {f'TPR@FPR {fpr:.0e}':^19}" for _ in labels)
    lines = [head, sub, "-" * len(sub)]
    for name in signals:
        row = f"{name:<{w}}"
        for label in labels:
            s = columns[label].get(name)
            row += " | " + (f"{s.auc:.4f} ± {s.auc_error:.4f}  {s.tpr:8.2e} ± {s.tpr_error:7.1e}" if s else " " * 36)
        lines.append(row)
    first = next(iter(next(iter(columns.values())).values()))
    lines.append(f"(thresholds set by {first.n_background_above} of {first.n_background} background test events "
                 f"above them; ± = bootstrap 68 % interval, {first.n_bootstrap} resamplings)")
    return "\n".join(lines)


def summarise(scores: dict[str, metrics.SignalScores], how: str) -> dict:
    """The objective (the per-signal TPRs at the FPR combined `how`, `merit.combine`), its error, the mean AUC."""
    tpr, err = combine(scores, how)
    return {"tpr": tpr, "tpr_error": err, "auc": float(np.mean([s.auc for s in scores.values()]))}


def threshold_setters(background: np.ndarray, config: TaskConfig, score_head: bool, scoring: Scoring) -> dict:
    """The background events on top (`tail`) and, for an autoencoder, the share of those that set its
    threshold (the floor(FPR N) highest, at most 100) that the inputs alone put there too."""
    tail = evaluation.tail(background)
    out = {"tail": tail}
    # a dense autoencoder's score is a reconstruction error: comparable with the inputs' own norm
    if isinstance(config.model, DenseAE) and score_head and scoring.inputs_alone is not None:
        null = scoring.inputs_alone(config.preprocessing)
        setting = min(len(tail["index"]), math.floor(config.metrics.fpr * len(background) + 1e-9))
        out["tail_shared_with_inputs"] = evaluation.tail_overlap(tail, null, setting)
        out["tail_setting_events"] = setting
    return out


def emulate_and_score(model, spec: ModelSpec | None, pre: Preprocessor | None, x_calib: np.ndarray,
                      x_test: np.ndarray, signals: dict[str, np.ndarray], options, target, out: Path,
                      csim_check: int, fpr: float, n_bootstrap: int, seed: int, input_groups: list[str],
                      reference: dict[str, metrics.SignalScores] | None = None) -> int:
    """Firmware into `out`, bit-exact check against C-simulation, emulator scores of every signal, printed."""
    print(f"building firmware for {target.name} ({target.part}, {target.clock_mhz:g} MHz) ...", flush=True)
    fw = firmware.build(model, spec, pre, x_calib, options, target.part, target.clock_period_ns,
                        cache_dir=out / "firmware", input_groups=input_groups)
    check = evaluation.check_bit_exact(fw, np.concatenate([x_test, *signals.values()]), csim_check, seed)
    scores, background, signal_scores = evaluation.score_dataset(fw, x_test, signals, fpr, n_bootstrap, seed)
    write_scores(out, scores, background, signal_scores)
    firmware_dir = fw.directory.relative_to(out)
    (out / "bit_exact.json").write_text(json.dumps({**check.to_dict(), "firmware": str(firmware_dir)}, indent=2))
    columns = {"firmware (emulator)": scores}
    if reference:
        columns["Keras (training run)"] = reference
    print(format_scores(columns))
    print(f"bit-exact: {check.n_exact}/{check.n_events} events ({check.fraction:.3%}) C-sim vs emulator, "
          f"{check.n_edge} of them edge cases; emulator {check.n_events / check.emulator_seconds:,.0f} events/s, "
          f"C-sim {check.n_events / check.csim_seconds:,.0f} events/s")
    print(f"score: {fw.output_types[0]} per event; firmware in {firmware_dir} of the results")
    return 0 if check.n_exact == check.n_events else 1


class AnomalyTask(Task):
    """The contract for tasks that score events; subclasses give `name`, `Config`, `load_data`, `input_groups`."""

    merit = EFFICIENCY
    data_file_field = "background_file"
    low_fidelity = True

    def train(self, config, data, verbose=0, tensorboard=None) -> ScoredModel:
        return train_and_score(config, data, verbose=verbose, tensorboard=tensorboard, task=self)

    def save_run(self, out, config, trained: ScoredModel) -> None:
        save_run(out, config, trained)

    def format_results(self, columns: dict[str, ScoredModel]) -> str:
        return format_scores({label: r.scores for label, r in columns.items()})

    def deployed(self, model, spec):
        """The whole model; with the score head, but for a sequence model, whose firmware returns its
        reconstruction (its score is computed from it: `Firmware.score`)."""
        return model, spec, not isinstance(spec, LSTMAE)

    def score_firmware(self, fw, config, data, trained: ScoredModel, scoring: Scoring) -> dict:
        """Firmware-exact efficiencies of every signal at the FPR (the background's scores set the threshold)."""
        m = config.metrics
        signals = {k: np.asarray(v) for k, v in data.signals.items()}
        scores, background, signal_scores = evaluation.score_dataset(fw, data.x_test, signals, m.fpr,
                                                                     m.n_bootstrap, config.seed)
        return {**summarise(scores, scoring.objective), "keras": summarise(trained.scores, scoring.objective),
                "scores": {k: v.to_dict() for k, v in scores.items()},
                "curves": evaluation.curves(background, signal_scores),
                **threshold_setters(background, config, bool(fw.info.get("score_head")), scoring)}

    def emulate(self, model, config, preprocessor, data, options, target, out, csim_check, run_dir=None) -> int:
        """Emulator scores of the run's test set and signals beside the training run's Keras scores."""
        reference = {}
        if run_dir is not None and (Path(run_dir) / "scores.json").is_file():
            raw = json.loads((Path(run_dir) / "scores.json").read_text())
            reference = {k: metrics.SignalScores.from_dict(v) for k, v in raw.items()}
        m = config.metrics
        return emulate_and_score(model, config.model, preprocessor, data.x_train, data.x_test, data.signals, options,
                                 target, out, csim_check, m.fpr, m.n_bootstrap, config.seed,
                                 self.input_groups(data.input_names), reference)
