"""Reference designs: known designs and the inputs alone, scored once per study on the study's own events."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from codesign.errors import CodesignError, ConfigError
from codesign.search.objective import evaluate_candidate, summarise, tf_threads, threshold_setters, train
from codesign.search.studydata import candidate_data, inputs_norm, read_data


def evaluate_reference(reference: dict, run_dir: str, settings: dict) -> dict:
    """Train and score a `space.ReferenceDesign` on the study's events; never raises for its own failure.

    Its training config keeps everything but the data (the study's, so every number is on the same
    events); with `firmware` it goes the candidates' way (`objective.evaluate_candidate`), else its Keras
    scores are the result.
    """
    from codesign import config as cfg
    from codesign import tasks
    from codesign.search import candidate as cand
    from codesign.search.space import ReferenceDesign

    ref = ReferenceDesign(**reference)
    run_dir = Path(run_dir)
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    record = {"reference": ref.label, "params": ref.params, "config": ref.config or f"inputs alone ({ref.inputs})",
              "status": "complete", "reason": "", "seconds": seconds}
    if ref.inputs is not None:
        record["inputs"] = ref.inputs
    try:
        from codesign.runtime import quiet_libraries

        quiet_libraries()
        tf_threads(int(settings.get("tf_threads", 1)))
        task = tasks.get(settings["task"])
        base = cfg.parse(task.Config, settings["base_config"], "search base config")
        if ref.inputs is not None:
            record.update(_inputs_alone(ref.inputs, task, base, run_dir, settings))
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
            record.update(evaluate_candidate(c, run_dir, settings, seconds))
        else:
            data = candidate_data(c, run_dir)
            t = time.perf_counter()
            result = train(c, data, n_bootstrap=c.config.metrics.n_bootstrap)
            seconds["train"] = round(time.perf_counter() - t, 2)
            record.update({**summarise(result.scores, settings["tpr"]),
                           "scores": {k: v.to_dict() for k, v in result.scores.items()},
                           **threshold_setters(result.background_scores, c, run_dir),
                           "sparsity": result.metadata["sparsity"]["overall"],
                           "epochs_run": result.metadata["training"]["epochs_run"]})
    except CodesignError as exc:
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - kept with the record, as for a candidate
        record.update(status="failed", reason=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=8))
    seconds["total"] = round(time.perf_counter() - start, 2)
    return record


def _inputs_alone(kind: str, task, base, run_dir: Path, settings: dict) -> dict:
    """Scores of the squared norm of the preprocessed inputs (no network), as a candidate's record has them."""
    from codesign import evaluation, metrics

    data = read_data(run_dir)
    norm = inputs_norm(kind, task, data)
    background = norm(data.x_test)
    signal_scores = {k: norm(v) for k, v in data.signals.items()}
    m = base.metrics
    ranked = metrics.SortedScores(background)
    scores = {k: metrics.score_signal(k, ranked, s, m.fpr, m.n_bootstrap, base.seed, m.min_background_above)
              for k, s in signal_scores.items()}
    return {**summarise(scores, settings["tpr"]), "scores": {k: v.to_dict() for k, v in scores.items()},
            "curves": evaluation.curves(background, signal_scores), "tail": evaluation.tail(background)}
