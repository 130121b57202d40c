"""`codesign dqm lumisections train` (seed 000): train (or reload) a tag, score every LS, flag, write scores.

The histogram path (`codesign dqm train`) judges whole runs; here the unit is the lumisection (LS,
23.3 s), the one a physics analysis can drop. One histogram (METSig by default) per LS is min-max
scaled per bin (fitted on training LS only) and reconstructed either LS by LS (dense AE) or as windows
of consecutive LS (sparse or undercomplete LSTM AE, seed 000's models, on the shared core so that
`bits` quantizes them with QKeras). The score of a LS is its mean absolute error (MAE) over the bins;
a LS is flagged at or above a threshold: the seed's 99.7th percentile of the scores of the monitored (test)
LS, or one set on good validation LS for a chosen false-alarm rate.

The pieces, one module each: `lumi_series` (the series file), `lumi_windows` (splits and windows),
`lumi_model` (settings, training, scores), `lumi_thresholds` (flags), `lumi_scores` (the scores file:
``OUTPUT_DIR/scores.parquet`` and ``flagged_<tag>.csv``); `lumi_assess` assesses the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign import metrics, provenance
from codesign.dqm import tags
from codesign.dqm.lumi_model import LumiSettings, Trained, check_windows, score, train
from codesign.dqm.lumi_scores import SCORES_FILE, read_scores, write_scores
from codesign.dqm.lumi_series import Monitored, read
from codesign.dqm.lumi_thresholds import (
    DEFAULT_PERCENTILE,
    flag,
    flagged_csv,
    threshold_false_alarm,
    threshold_percentile,
)
from codesign.dqm.lumi_windows import segments_of, split_of
from codesign.errors import ConfigError, DataError, MetricError


@dataclass
class LumiRun:
    scores: Path
    flagged: Path
    trained: Trained
    threshold: float
    lines: list[str]
    seconds: float


def _base_frame(m: Monitored, split: np.ndarray):
    import pandas as pd

    s = m.series
    return pd.DataFrame({"run": m.run, "lumisection": m.lumisection, "label": np.asarray(s.labels, np.int8),
                         "kind": np.asarray(s.kinds, dtype=str), "split": split})


def _existing(path: Path, base, settings: LumiSettings, source: Path):
    """The scores file to extend (same LS, same split) or the new base frame; DataError if they disagree."""
    if not path.is_file():
        return base, {}
    frame, meta = read_scores(path)
    same = (len(frame) == len(base) and np.array_equal(frame["run"].to_numpy(), base["run"].to_numpy())
            and np.array_equal(frame["lumisection"].to_numpy(), base["lumisection"].to_numpy()))
    if not same:
        raise DataError(f"{path}: already holds scores of other lumisections than {source}; choose another "
                        "--output_dir")
    if not np.array_equal(frame["split"].astype(str).to_numpy(), base["split"].to_numpy()):
        raise ConfigError(f"{path}: its tags use another split than {list(settings.split)}; tags compared side by "
                          "side share one test set: use the same --split or another --output_dir")
    return frame, meta


def run(settings: LumiSettings, input_file, output_dir, percentile: float | None = None,
        false_alarm: float | None = None, histogram: str | None = None) -> LumiRun:
    """`codesign dqm lumisections train`: read, train (or reload) the tag, score every LS, flag, write.

    Threshold: `false_alarm` (a rate of good validation LS; refused before training when the validation
    block cannot resolve it) or else the `percentile` (default 99.7) of the test LS scores (seed 000).
    """
    start = time.perf_counter()
    if percentile is not None and false_alarm is not None:
        raise ConfigError("--percentile and --false_alarm are two threshold rules: give one")
    if percentile is not None and not 0.0 < percentile < 100.0:
        raise ConfigError(f"--percentile {percentile}: expected a value in (0, 100), e.g. 99.7")
    if false_alarm is not None and not 0.0 < false_alarm < 1.0:
        raise ConfigError(f"--false_alarm {false_alarm}: expected a fraction in (0, 1), e.g. 0.01")
    source = Path(input_file)
    out = Path(output_dir)
    m = read(source, histogram)
    s = m.series
    n = len(s)
    split = split_of(n, settings.split)
    segments = segments_of(m.run, split)
    check_windows(split, segments, settings, str(source))
    good_val = (split == "val") & (np.asarray(s.labels) != 1)
    if false_alarm is not None:
        try:
            metrics.require_resolvable(int(good_val.sum()), false_alarm)
        except MetricError as exc:
            raise MetricError(f"--false_alarm: {str(exc).replace('background events', 'good validation LS')}") \
                from None
    scores_path = out / SCORES_FILE
    frame, meta = _existing(scores_path, _base_frame(m, split), settings, source)
    lines: list[str] = []
    trained = train(settings, s, out, m.run, str(source))
    if trained.loaded:
        lines.append(f"tag {settings.tag!r} already trained with these settings in {trained.directory}: loaded, "
                     "not retrained (a new --tag trains afresh)")
    else:
        i = trained.info
        lines.append(f"trained {settings.model} ({'float' if settings.bits is None else f'{settings.bits}-bit'}) on "
                     f"{i['n_inputs']['train']} {i['n_inputs']['unit']} of the {i['n_ls']['train']} training LS "
                     f"({i['n_inputs']['val']} validation) in {i['fit_seconds']:.1f} s, {i['epochs_run']} epochs; "
                     f"saved to {trained.directory}")
    scores = score(trained, s, segments)
    test = split == "test"
    if false_alarm is not None:
        threshold = threshold_false_alarm(scores[good_val], false_alarm)
        rule = {"rule": "false_alarm", "rate": false_alarm, "n_good_val": int(np.sum(good_val & ~np.isnan(scores)))}
        rule_text = f"false-alarm rate {false_alarm:g} on {rule['n_good_val']} good validation LS"
    else:
        q = DEFAULT_PERCENTILE if percentile is None else percentile
        threshold = threshold_percentile(scores[test], q)
        rule = {"rule": "percentile", "q": q, "n_test": int(np.sum(test & ~np.isnan(scores)))}
        rule_text = f"{q:g}th percentile of the {rule['n_test']} test LS scores"
    flags = flag(scores, threshold)
    tag = settings.tag
    frame = frame.copy()
    frame[f"score_{tag}"] = scores
    frame[f"flag_{tag}"] = flags
    labels = frame["label"].to_numpy()
    n_flag_test = int(np.sum(flags & test))
    hits = int(np.sum(flags & test & (labels == 1)))
    summary = {"model": settings.model, "threshold": threshold, **rule, "n_flagged": int(flags.sum()),
               "n_flagged_test": n_flag_test, "n_flagged_test_anomalous": hits,
               "n_unscored": int(np.isnan(scores).sum()), "settings": settings.model_dump(mode="json"),
               "model_dir": str(Path(tags.MODELS_DIR) / tag), "provenance": provenance.record(seed=settings.seed)}
    meta = {**meta, "series": {"file": str(source.resolve()), "histogram": m.histogram, "n_ls": n,
                               "edges": [float(e) for e in s.edges]},
            "tags": {**meta.get("tags", {}), tag: summary}}
    out.mkdir(parents=True, exist_ok=True)
    write_scores(scores_path, frame, meta)
    flagged = flagged_csv(out / f"flagged_{tag}.csv", frame, tag)
    lines.append(f"threshold {threshold:.4g} ({rule_text}): {int(flags.sum())} LS flagged, {n_flag_test} in the "
                 f"test split ({hits} of them labelled anomalous, of {int(np.sum(test & (labels == 1)))})")
    good_t, bad_t = test & (labels == 0) & ~np.isnan(scores), test & (labels == 1) & ~np.isnan(scores)
    if good_t.any() and bad_t.any():
        lines.append(f"test AUC {metrics.auc(scores[good_t], scores[bad_t]):.3f} ({int(good_t.sum())} good, "
                     f"{int(bad_t.sum())} anomalous LS)")
    if np.isnan(scores).any():
        lines.append(f"{int(np.isnan(scores).sum())} LS lie in no complete window (runs shorter than the window or "
                     "a stride tail): score NaN, never flagged")
    lines.append(f"scores as 'score_{tag}' / 'flag_{tag}' in {scores_path}; flagged LS in {flagged}")
    return LumiRun(scores_path, flagged, trained, threshold, lines, time.perf_counter() - start)
