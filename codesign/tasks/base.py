"""What every anomaly-detection task shares: the config frame, the dataset, train-and-score, the run directory."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field

from codesign import metrics, provenance
from codesign.config import Frozen, dump
from codesign.core import persistence
from codesign.core.preprocessing import Kind, Preprocessor
from codesign.core.spec import DenseAE, ModelSpec
from codesign.core.trainer import Training


class Metrics(Frozen):
    fpr: float = Field(1e-5, gt=0.0, lt=1.0)
    n_bootstrap: int = Field(200, ge=10)
    min_background_above: int = Field(metrics.MIN_BACKGROUND_ABOVE, ge=1)


class TaskConfig(Frozen):
    """Fields every task config has; tasks add `task` and `data`."""

    seed: int = 42
    preprocessing: Kind = "none"
    model: ModelSpec = DenseAE()
    training: Training = Training()
    metrics: Metrics = Metrics()


def check_test_size(n_test: int, m: Metrics) -> None:
    """For config validators: ValueError when `n_test` background events cannot resolve the FPR."""
    from codesign.errors import MetricError

    try:
        metrics.require_resolvable(n_test, m.fpr, m.min_background_above)
    except MetricError as exc:
        raise ValueError(f"data.n_test is too small: {exc}") from None


@dataclass
class Dataset:
    """Raw (unpreprocessed) inputs: background train/val/test and one test array per signal."""

    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    signals: dict[str, np.ndarray]
    input_names: list[str]
    sources: dict = field(default_factory=dict)


@dataclass
class Result:
    scores: dict[str, metrics.SignalScores]
    background_scores: np.ndarray
    signal_scores: dict[str, np.ndarray]
    model: object
    preprocessor: Preprocessor
    metadata: dict


def train_and_score(config: TaskConfig, data: Dataset, verbose: int = 0, tensorboard: str | None = None) -> Result:
    """Fit preprocessing on training data, train the model, score every signal against the test background."""
    from codesign.core.models import build, training_target
    from codesign.core.scoring import anomaly_score
    from codesign.core.trainer import fit, seed_everything

    # Fail before training, not after, if the test background cannot resolve the FPR.
    metrics.require_resolvable(len(data.x_test), config.metrics.fpr, config.metrics.min_background_above)
    from codesign import tasks

    groups = tasks.get(config.task).input_groups(data.input_names)
    pre = Preprocessor.fit(config.preprocessing, data.x_train, groups)
    x_train, x_val = pre.transform(data.x_train), pre.transform(data.x_val)
    start = time.perf_counter()
    seed_everything(config.seed)
    model = build(config.model, x_train.shape[1:])
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
    from codesign.core.pruning import overall_sparsity

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
        "parameters": int(fitted.model.count_params()),
        "scores": {k: v.to_dict() for k, v in scores.items()},
    }
    return Result(scores, background, signal_scores, fitted.model, pre, metadata)


def save_run(out: Path, config: TaskConfig, result: Result) -> None:
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
