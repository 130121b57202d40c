"""Reference designs: known designs and the inputs alone, scored once per study on the study's own events."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from codesign import config as cfg
from codesign import evaluation, metrics, tasks
from codesign.errors import CodesignError, ConfigError
from codesign.runtime import quiet_libraries
from codesign.search import candidate as cand
from codesign.search.objective import evaluate_candidate, scoring, tf_threads, train
from codesign.search.settings import Settings
from codesign.search.space import ReferenceDesign
from codesign.search.studydata import candidate_data, inputs_norm, read_data
from codesign.tasks.anomaly import summarise, threshold_setters


def evaluate_reference(reference: dict, run_dir: str, settings: dict) -> dict:
    """Train and score a `space.ReferenceDesign` on the study's events; never raises for its own failure.

    Its training config keeps everything but the data (the study's, so every number is on the same
    events); with `firmware` it goes the candidates' way (`objective.evaluate_candidate`), else its Keras
    scores are the result.
    """
    ref = ReferenceDesign(**reference)
    run_dir = Path(run_dir)
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    record = {"reference": ref.label, "params": ref.params, "config": ref.config or f"inputs alone ({ref.inputs})",
              "status": "complete", "reason": "", "seconds": seconds}
    if ref.inputs is not None:
        record["inputs"] = ref.inputs
    try:
        quiet_libraries()
        s = Settings.model_validate(settings)
        tf_threads(s.tf_threads)
        task = tasks.get(s.task)
        base = cand.study_config(s)
        if ref.inputs is not None:
            record.update(_inputs_alone(ref.inputs, task, base, run_dir, s))
            seconds["score"] = round(time.perf_counter() - start, 2)
            seconds["total"] = seconds["score"]
            return record
        own = cfg.read_yaml(cfg.resolve(ref.config)) or {}
        if not isinstance(own, dict):
            raise ConfigError(f"{ref.config}: expected a training config (a mapping), got {type(own).__name__}")
        shared = base.model_dump(mode="json")  # the study's events, metrics and seed
        config = cfg.parse(task.Config, {**own, **{k: shared[k] for k in ("data", "metrics", "seed")}}, ref.config)
        c = cand.make(ref.params, config, task.Config)
        record["key"] = c.key
        if ref.firmware:
            record.update(evaluate_candidate(c, run_dir, s, seconds))
        else:
            data = candidate_data(c, run_dir)
            t = time.perf_counter()
            result = train(c, data, n_bootstrap=c.config.metrics.n_bootstrap)
            seconds["train"] = round(time.perf_counter() - t, 2)
            record.update({**summarise(result.scores, s.tpr),
                           "scores": {k: v.to_dict() for k, v in result.scores.items()},
                           **threshold_setters(result.background_scores, c.config, c.firmware.score_head,
                                               scoring(c, run_dir, s)),
                           "sparsity": result.metadata["sparsity"]["overall"],
                           "epochs_run": result.metadata["training"]["epochs_run"]})
    except CodesignError as exc:
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - kept with the record, as for a candidate
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=8))
    seconds["total"] = round(time.perf_counter() - start, 2)
    return record


def _inputs_alone(kind: str, task, base, run_dir: Path, s: Settings) -> dict:
    """Scores of the squared norm of the preprocessed inputs (no network), as a candidate's record has them."""
    data = read_data(run_dir)
    norm = inputs_norm(kind, task, data)
    background = norm(data.x_test)
    signal_scores = {k: norm(v) for k, v in data.signals.items()}
    m = base.metrics
    ranked = metrics.SortedScores(background)
    scores = {k: metrics.score_signal(k, ranked, s, m.fpr, m.n_bootstrap, base.seed, m.min_background_above)
              for k, s in signal_scores.items()}
    return {**summarise(scores, s.tpr), "scores": {k: v.to_dict() for k, v in scores.items()},
            "curves": evaluation.curves(background, signal_scores), "tail": evaluation.tail(background)}
