"""Per-lumisection monitoring (seed 000): autoencoders over a series of one histogram per lumisection.

The histogram path (`codesign dqm train`) judges whole runs; here the unit is the lumisection (LS,
23.3 s), the one a physics analysis can drop. One histogram (METSig by default) per LS is min-max
scaled per bin (fitted on training LS only) and reconstructed either LS by LS (dense AE) or as windows
of consecutive LS (sparse or undercomplete LSTM AE, seed 000's models, on the shared core so that
`bits` quantizes them with QKeras). The score of a LS is its mean absolute error (MAE) over the bins;
a LS is flagged at or above a threshold: the seed's 99.7th percentile of the scores of the monitored (test)
LS, or one set on good validation LS for a chosen false-alarm rate.

Files (plain parquet, JSON metadata; nothing pickled):

- a series: columns ``run``, ``lumisection`` (1-based within the run), ``lumi``, ``label`` (0 good,
  1 anomalous, -1 unknown), ``kind`` and one list<float64> column of bin contents named after the
  histogram; edges etc. in the ``codesign.dqm`` schema metadata (`codesign.dqm.table`'s layout);
- ``OUTPUT_DIR/models/<tag>/``: ``model.h5`` (loaded without executing code), ``minmax.json``,
  ``settings.json`` (settings, versions, seed, LS per split, training history);
- ``OUTPUT_DIR/scores.parquet``: one row per LS (run, lumisection, label, kind, split, then
  ``score_<tag>`` and ``flag_<tag>`` per tag; thresholds in the metadata) and ``flagged_<tag>.csv``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from codesign import metrics, provenance
from codesign.config import Frozen, parse
from codesign.data import lumi_generator as lg
from codesign.errors import ConfigError, DataError, MetricError

log = logging.getLogger("codesign")

HISTOGRAM = "METSig"
SERIES_COLUMNS = ("run", "lumisection", "lumi", "label", "kind")
SCORES_FILE = "scores.parquet"
SCORES_KEY = b"codesign.dqm.lumisections"
MODELS_DIR = "models"
MODEL_FILE, MINMAX_FILE, SETTINGS_FILE = "model.h5", "minmax.json", "settings.json"
SPLITS = ("train", "val", "test")
MODELS = ("dense", "sparse_lstm", "undercomplete_lstm")
# Widths down to the bottleneck. dense: encoder (32, 16), latent 8 (50 bins -> 8: enough to follow the
# luminosity-driven shape changes, too few to copy an anomaly); LSTMs: seed 000's 64 and 64 -> 32.
DEFAULT_UNITS = {"dense": (32, 16, 8), "sparse_lstm": (64,), "undercomplete_lstm": (64, 32)}
TAG = re.compile(r"^[A-Za-z0-9_-]+$")
DEFAULT_PERCENTILE = 99.7


# ---------------------------------------------------------------- series files


@dataclass(frozen=True)
class Monitored:
    """A series as read from a file, with the run and lumisection numbers of its rows."""

    series: lg.Series
    run: np.ndarray  # (n_ls,) int64
    lumisection: np.ndarray  # (n_ls,) int64, 1-based within the run
    histogram: str
    path: Path | None = None


def write_series(path, series: lg.Series, run=1, histogram: str = HISTOGRAM) -> Path:
    """One row per LS, bins as a list column named after the histogram; atomic (temporary file, rename).

    `run`: one run number for the whole series, or one per LS (lumisections then count from 1 in each run,
    in the given order). The edges go into the same `codesign.dqm` metadata the per-run tables carry, so
    pandas, pyarrow or awkward read the file as they read those.
    """
    import pandas as pd

    from codesign.dqm import table as tbl

    n = len(series)
    runs = np.broadcast_to(np.asarray(run, dtype=np.int64), (n,)).copy()
    if not histogram or histogram in SERIES_COLUMNS:
        raise ConfigError(f"histogram name {histogram!r}: empty or a series column ({', '.join(SERIES_COLUMNS)})")
    lumisection = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        lumisection[i] = lumisection[i - 1] + 1 if runs[i] == runs[i - 1] else 1
    frame = pd.DataFrame({"run": runs, "lumisection": lumisection, "lumi": np.asarray(series.lumi, np.float64),
                          "label": np.asarray(series.labels, np.int8), "kind": [str(k) for k in series.kinds]})
    edges = tuple(float(e) for e in series.edges)
    info = tbl.HistogramInfo(histogram, "TH1D", (series.counts.shape[1],), (edges,), histogram, (histogram,))
    return tbl.write(path, tbl.Table(frame, {histogram: series.counts}, {histogram: info},
                                     {"series": {"histogram": histogram, "n_ls": n}}))


def read(path, histogram: str | None = None) -> Monitored:
    """A series file, rows sorted by (run, lumisection), checked: one-line DataError naming the file otherwise.

    `histogram`: which list column holds the bins (default: the only one, or the one the metadata names).
    Missing `label` / `kind` / `lumi` columns read as -1 / '' / NaN: a series of real data has no labels.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from codesign.dqm import table as tbl

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected a lumisection series (parquet, e.g. from "
                        "'codesign dqm lumisections generate')")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0][:160]})") from None
    meta: dict = {}
    raw = (table.schema.metadata or {}).get(tbl.META_KEY)
    if raw is not None:
        try:
            meta = json.loads(raw)
        except ValueError as exc:
            raise DataError(f"{path}: corrupt codesign.dqm metadata ({exc})") from None
    lists = [n for n in table.column_names
             if pa.types.is_list(table.schema.field(n).type) or pa.types.is_large_list(table.schema.field(n).type)]
    if histogram is None:
        named = (meta.get("series") or {}).get("histogram")
        if named in lists:
            histogram = named
        elif len(lists) == 1:
            histogram = lists[0]
        else:
            raise DataError(f"{path}: {len(lists)} list columns of bin contents ({', '.join(lists) or 'none'}); "
                            "expected one, or name it with --histogram")
    if histogram not in lists:
        raise DataError(f"{path}: no list column {histogram!r} of bin contents (list columns: "
                        f"{', '.join(lists) or 'none'})")
    for name in ("run", "lumisection"):
        if name not in table.column_names:
            raise DataError(f"{path}: no {name!r} column; expected columns run, lumisection and {histogram!r}")
    counts = _bins(table.column(histogram), str(path))
    frame = table.select([c for c in table.column_names if c not in lists]).to_pandas()
    try:
        run = frame["run"].to_numpy(dtype=np.int64)
        lumisection = frame["lumisection"].to_numpy(dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: run and lumisection must be integers ({exc})") from None
    n = len(frame)
    labels = np.full(n, -1, np.int8)
    if "label" in frame:
        raw = frame["label"].fillna(-1).to_numpy()
        bad = ~np.isin(raw, (-1, 0, 1)) if raw.dtype.kind in "biuf" else np.ones(n, bool)
        if bad.any():
            raise DataError(f"{path}: column 'label' holds {raw[np.flatnonzero(bad)[0]]!r} (row "
                            f"{int(np.flatnonzero(bad)[0])}); expected 1 (anomalous), 0 (good) or -1/empty (unlabelled)")
        labels = raw.astype(np.int8)
    kinds = frame["kind"].fillna("").astype(str).to_numpy() if "kind" in frame else np.full(n, "", dtype=object)
    lumi = frame["lumi"].to_numpy(dtype=np.float64) if "lumi" in frame else np.full(n, np.nan)
    order = np.lexsort((lumisection, run))
    pairs = np.stack([run[order], lumisection[order]], axis=1)
    dup = np.flatnonzero(np.all(pairs[1:] == pairs[:-1], axis=1))
    if dup.size:
        r, ls = pairs[dup[0]]
        raise DataError(f"{path}: run {r} lumisection {ls} appears more than once ({dup.size} duplicate row(s))")
    edges = _edges(meta, histogram, counts.shape[1], str(path))
    series = lg.Series(counts[order], labels[order], np.asarray(kinds, dtype=str)[order], lumi[order], edges)
    return Monitored(series, run[order], lumisection[order], histogram, path)


def read_series(path, histogram: str | None = None) -> lg.Series:
    """The `Series` of a series file (see `read` for the checks)."""
    return read(path, histogram).series


def _bins(column, source: str) -> np.ndarray:
    """A list<float> column -> (n_ls, n_bins), via `lumi_generator.check` (NaN bins, differing binnings)."""
    import pyarrow as pa

    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if isinstance(column, pa.ChunkedArray):
        column = pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], type=column.type)
    nulls = int(column.null_count)
    if nulls:
        first = int(np.flatnonzero(np.asarray(column.is_null().to_numpy(zero_copy_only=False)))[0])
        raise DataError(f"{source}: {nulls} lumisection(s) without bin contents (null), first at row {first}; "
                        "expected one histogram per lumisection")
    lengths = np.asarray(column.value_lengths().to_numpy(zero_copy_only=False))
    if len(lengths) == 0:
        raise DataError(f"{source}: holds no lumisections")
    if np.any(lengths != lengths[0]):
        return lg.check(column.to_pylist(), source)  # raises: different numbers of bins
    flat = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    return lg.check(flat.reshape(len(lengths), int(lengths[0])), source)


def _edges(meta: dict, histogram: str, n_bins: int, source: str) -> np.ndarray:
    info = (meta.get("histograms") or {}).get(histogram)
    if not info:
        return np.arange(n_bins + 1, dtype=np.float64)  # no metadata: bin numbers
    try:
        edges = np.asarray(info["edges"][0], dtype=np.float64)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DataError(f"{source}: corrupt edges for {histogram!r} in the metadata ({exc})") from None
    if len(edges) != n_bins + 1:
        raise DataError(f"{source}: {histogram!r} holds {n_bins} bins, its metadata gives {len(edges)} edges")
    return edges


# ---------------------------------------------------------------- settings


class Settings(Frozen):
    """What defines a trained tag; a tag trained with other settings is refused, the same ones reload it.

    `units`: widths down to the bottleneck; default by model (`DEFAULT_UNITS`): dense (32, 16, 8) =
    encoder 32-16 and latent 8; sparse_lstm (64,), undercomplete_lstm (64, 32), seed 000's sizes.
    `bits`: None trains in float; else QKeras weights of `bits` bits (integer 0: scaled inputs and
    weights of order one), activations `max(bits, 8)` bits with 2 integer bits; LSTMs become QLSTM.
    `split`: train / val / test fractions of the LS, contiguous in LS order (train first): windows never
    straddle a split (nor a run). `train_on_bad`: by default LS labelled anomalous (1), and every window
    holding one, never train or validate (as bad runs in the histogram path); true trains blind, as the seed.
    """

    model: Literal["dense", "sparse_lstm", "undercomplete_lstm"] = "sparse_lstm"
    tag: str
    window: int = Field(50, ge=1, description="LS per window (LSTM models)")
    stride: int = Field(1, ge=1, description="LS between window starts, in training and scoring")
    units: tuple[int, ...] = ()
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="sparse LSTM: dropout after each LSTM")
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    patience: int = Field(5, ge=1, description="early stopping on the validation MAE")
    bits: int | None = Field(None, ge=2, le=16)
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    train_on_bad: bool = False
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _default_units(cls, data):
        if isinstance(data, dict) and not data.get("units") and data.get("model", "sparse_lstm") in DEFAULT_UNITS:
            data = {**data, "units": DEFAULT_UNITS[data.get("model", "sparse_lstm")]}
        return data

    @field_validator("tag")
    @classmethod
    def _safe_tag(cls, value: str) -> str:
        if not TAG.match(value):
            raise ValueError("a tag names files and columns: letters, digits, '_' and '-' only")
        return value

    @field_validator("split")
    @classmethod
    def _fractions(cls, value):
        if any(f <= 0 for f in value) or abs(sum(value) - 1.0) > 1e-6:
            raise ValueError(f"expected three positive fractions train,val,test summing to 1 (got {list(value)})")
        return value

    @model_validator(mode="after")
    def _units(self):
        if any(u < 1 for u in self.units):
            raise ValueError(f"units must be positive widths (got {list(self.units)})")
        need = {"sparse_lstm": 1, "undercomplete_lstm": 2}.get(self.model)
        if need and len(self.units) != need:
            raise ValueError(f"{self.model} takes {need} width(s) in units, e.g. {list(DEFAULT_UNITS[self.model])} "
                             f"(got {list(self.units)})")
        return self

    @property
    def is_lstm(self) -> bool:
        return self.model != "dense"


def settings_from(values: dict, source: str = "command line") -> Settings:
    """Settings from a mapping (command-line values; None = default); a one-line ConfigError if invalid."""
    return parse(Settings, {k: v for k, v in values.items() if v is not None}, source)


def spec(settings: Settings):
    """The core's model spec for these settings (`codesign.core.spec`)."""
    from codesign.core.spec import LSTMAE, DenseAE, FixedPoint, Quantization

    q = None
    if settings.bits is not None:
        q = Quantization(weight=FixedPoint(bits=settings.bits, integer=0),
                         activation=FixedPoint(bits=max(settings.bits, 8), integer=2))
    if settings.model == "dense":
        return DenseAE(encoder=settings.units[:-1], latent=settings.units[-1], activation="relu", batchnorm=False,
                       input_batchnorm=False, quantization=q)
    return LSTMAE(variant="sparse" if settings.model == "sparse_lstm" else "undercomplete", units=settings.units,
                  dropout=settings.dropout, quantization=q)


# ---------------------------------------------------------------- splits and windows


def split_of(n_ls: int, fractions=(0.6, 0.2, 0.2)) -> np.ndarray:
    """'train' / 'val' / 'test' per LS, contiguous in LS order: the model is judged on LS after those it saw."""
    n_train = int(round(fractions[0] * n_ls))
    n_val = int(round(fractions[1] * n_ls))
    split = np.full(n_ls, "test", dtype=object)
    split[:n_train] = "train"
    split[n_train:n_train + n_val] = "val"
    return split.astype(str)


def segments_of(*keys) -> np.ndarray:
    """An integer per LS that changes wherever any key (run, split...) changes: windows stay inside one."""
    n = len(keys[0])
    change = np.zeros(n, dtype=bool)
    for key in keys:
        key = np.asarray(key)
        change[1:] |= key[1:] != key[:-1]
    return np.cumsum(change)


def blocks(segments) -> list[tuple[int, int]]:
    """(start, stop) of each run of equal segment ids."""
    segments = np.asarray(segments)
    if len(segments) == 0:
        return []
    cuts = np.flatnonzero(segments[1:] != segments[:-1]) + 1
    starts = np.r_[0, cuts]
    return list(zip(starts.tolist(), np.r_[cuts, len(segments)].tolist()))


def window_indices(segments, width: int, stride: int = 1) -> np.ndarray:
    """(n_windows, width) LS indices of every complete window inside a segment (blocks too short: none)."""
    out = [lg.windows(np.arange(a, b)[:, None], width, stride)[:, :, 0] for a, b in blocks(segments)
           if b - a >= width]
    return np.concatenate(out) if out else np.zeros((0, width), dtype=np.int64)


def window_mae(x_windows, reco_windows) -> np.ndarray:
    """(n_windows, width): mean |x - reco| over the bins at each position of each window.

    Pure numpy, so that reconstructions computed elsewhere (a firmware emulator, C-simulation) are
    scored exactly as Keras's are.
    """
    x, reco = np.asarray(x_windows, dtype=np.float64), np.asarray(reco_windows, dtype=np.float64)
    if x.shape != reco.shape or x.ndim != 3:
        raise DataError(f"window_mae: expected inputs and reconstructions of one (windows, width, bins) shape, "
                        f"got {x.shape} and {reco.shape}")
    return np.mean(np.abs(x - reco), axis=-1)


# ---------------------------------------------------------------- training


@dataclass
class Trained:
    """A trained (or reloaded) tag: the Keras model, its input scaling and settings."""

    model: object
    minmax: lg.MinMax
    settings: Settings
    directory: Path | None = None
    loaded: bool = False
    info: dict = field(default_factory=dict)  # what settings.json holds besides the settings


def model_dir(output_dir, tag: str) -> Path:
    return Path(output_dir) / MODELS_DIR / tag


def load(directory) -> Trained:
    """A tag's directory written by `train`; the model file is checked for Lambda layers before loading."""
    from codesign.core import persistence
    from codesign.errors import ModelFileError

    directory = Path(directory)
    try:
        saved = json.loads((directory / SETTINGS_FILE).read_text())
        minmax = lg.MinMax.from_dict(json.loads((directory / MINMAX_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{directory}: not a complete lumisection model directory ({type(exc).__name__}: "
                             f"{exc}); expected {MODEL_FILE}, {MINMAX_FILE} and {SETTINGS_FILE}") from None
    settings = parse(Settings, saved.get("settings"), str(directory / SETTINGS_FILE))
    model = persistence.load_keras(directory / MODEL_FILE)
    return Trained(model, minmax, settings, directory, True, {k: v for k, v in saved.items() if k != "settings"})


def _differences(saved: dict, wanted: dict) -> list[str]:
    return [f"{k}={saved.get(k)!r} (now {wanted.get(k)!r})" for k in sorted(set(saved) | set(wanted))
            if saved.get(k) != wanted.get(k)]


def _good(series: lg.Series, settings: Settings) -> np.ndarray:
    return np.ones(len(series), bool) if settings.train_on_bad else np.asarray(series.labels) != 1


def _training_inputs(x: np.ndarray, mask: np.ndarray, segments: np.ndarray, good: np.ndarray,
                     settings: Settings) -> tuple[np.ndarray, int]:
    """(network inputs of the LS in `mask`, number set aside because they hold a known-bad LS)."""
    if not settings.is_lstm:
        return x[mask & good], int(np.sum(mask & ~good))
    idx = window_indices(np.where(mask, segments, -1), settings.window, settings.stride)
    idx = idx[mask[idx[:, 0]]] if len(idx) else idx
    keep = good[idx].all(axis=1) if len(idx) else np.zeros(0, bool)
    return x[idx[keep]], int(np.sum(~keep))


def train(settings: Settings, series: lg.Series, output_dir, segments=None, source: str = "series") -> Trained:
    """Fit the tag's model on the training LS (min-max fitted there too) and save it under models/<tag>/.

    LSTM models see windows of `window` consecutive scaled LS (stride `stride`) from the training block,
    validated (early stopping) on windows of the validation block; the dense AE sees single LS. Loss: MAE,
    the score. An existing tag with the same settings is loaded instead of retrained; other settings under
    it are refused (trained models are never overwritten). `segments`: ids (e.g. runs) windows stay inside.
    """
    from codesign.outdir import fresh

    directory = model_dir(output_dir, settings.tag)
    wanted = settings.model_dump(mode="json")
    if (directory / SETTINGS_FILE).is_file():
        try:
            saved = json.loads((directory / SETTINGS_FILE).read_text()).get("settings", {})
        except ValueError as exc:
            raise ConfigError(f"{directory / SETTINGS_FILE}: invalid JSON ({exc})") from None
        diff = _differences(saved, json.loads(json.dumps(wanted)))
        if diff:
            raise ConfigError(f"tag {settings.tag!r} in {directory.parent} was trained with other settings: "
                              f"{'; '.join(diff)[:300]}; choose a new --tag (trained models are never overwritten)")
        return load(directory)
    if directory.exists():
        raise ConfigError(f"{directory}: exists but holds no {SETTINGS_FILE} (an interrupted training?); "
                          "delete it or choose a new --tag")
    n = len(series)
    split = split_of(n, settings.split)
    segments = segments_of(np.zeros(n) if segments is None else segments, split)
    check_windows(split, segments, settings, source)
    good = _good(series, settings)
    train_mask, val_mask = split == "train", split == "val"
    if not (train_mask & good).any():
        raise DataError(f"{source}: no good lumisection in the training block; check the labels or --split")
    minmax = lg.MinMax.fit(series.counts[train_mask & good])
    x = minmax.transform(series.counts)
    x_train, dropped_train = _training_inputs(x, train_mask, segments, good, settings)
    x_val, dropped_val = _training_inputs(x, val_mask, segments, good, settings)
    unit = "windows" if settings.is_lstm else "lumisections"
    for name, arr in (("training", x_train), ("validation", x_val)):
        if len(arr) == 0:
            raise DataError(f"{source}: no {name} {unit} free of known-bad lumisections; use a shorter --window, "
                            "another --split, or --train_on_bad")
    from codesign.core import models, trainer

    t0 = time.perf_counter()
    model = models.build(spec(settings), x_train.shape[1:])
    training = trainer.Training(epochs=settings.epochs, batch_size=settings.batch_size,
                                learning_rate=settings.learning_rate, loss="mae",
                                early_stopping_patience=settings.patience, lr_patience=max(2, settings.patience // 2))
    fitted = trainer.fit(model, x_train, x_train, x_val, x_val, training, None, settings.seed,
                         verbose=2 if log.isEnabledFor(logging.INFO) else 0)
    seconds = time.perf_counter() - t0
    info = {"n_ls": {s: int(np.sum(split == s)) for s in SPLITS},
            "n_inputs": {"train": len(x_train), "val": len(x_val), "unit": unit,
                         "set_aside_known_bad": {"train": dropped_train, "val": dropped_val}},
            "epochs_run": fitted.epochs_run, "fit_seconds": round(seconds, 2),
            "history": fitted.history, "input_shape": list(x_train.shape[1:]),
            "provenance": provenance.record(seed=settings.seed)}
    from codesign.core import persistence

    with fresh(directory) as tmp:
        persistence.save_model(tmp / MODEL_FILE, fitted.model)
        (tmp / MINMAX_FILE).write_text(json.dumps(minmax.to_dict()) + "\n")
        (tmp / SETTINGS_FILE).write_text(json.dumps({"settings": wanted, **info}, indent=1, default=str) + "\n")
    return Trained(fitted.model, minmax, settings, directory, False, info)


def check_windows(split: np.ndarray, segments: np.ndarray, settings: Settings, source: str) -> None:
    """Every split block must hold a complete window of an LSTM model: say so before any training."""
    if not settings.is_lstm:
        return
    n = len(split)
    if n < settings.window:
        raise DataError(f"{source}: series of {n} lumisections is shorter than the window of {settings.window}; "
                        "use a shorter --window or more lumisections")
    for name in SPLITS:
        longest = max((b - a for a, b in blocks(np.where(split == name, segments, -1)) if split[a] == name),
                      default=0)
        if longest < settings.window:
            raise DataError(f"{source}: the {name} block of the split {list(settings.split)} holds no "
                            f"{settings.window} consecutive lumisections of one run (longest {longest}); use a "
                            "shorter --window, more lumisections or another --split")


# ---------------------------------------------------------------- scoring


def _trained(model) -> Trained:
    return model if isinstance(model, Trained) else load(model)


def _predict(model, x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return np.zeros_like(x)
    return np.asarray(model.predict(x, batch_size=512, verbose=0), dtype=np.float64)


def reconstruct(model, series: lg.Series, segments=None) -> tuple[np.ndarray, np.ndarray]:
    """(scaled input, reconstruction) per LS, (n_ls, n_bins); an LSTM's is the mean over the windows
    covering the LS (NaN rows where none does). For figures: the score is `score`'s, not the MAE of this mean."""
    t = _trained(model)
    x = t.minmax.transform(series.counts).astype(np.float64)
    if not t.settings.is_lstm:
        return x, _predict(t.model, x.astype(np.float32))
    segments = np.zeros(len(series)) if segments is None else segments
    idx = window_indices(segments, t.settings.window, t.settings.stride)
    reco = _predict(t.model, x[idx].astype(np.float32))
    total = np.zeros_like(x)
    count = np.zeros(len(x))
    np.add.at(total, idx.ravel(), reco.reshape(-1, x.shape[1]))
    np.add.at(count, idx.ravel(), 1)
    with np.errstate(invalid="ignore"):
        return x, np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], np.nan)


def score(model, series: lg.Series, segments=None) -> np.ndarray:
    """Per-LS MAE between the scaled histogram and its reconstruction (higher = more anomalous).

    `model`: a `Trained` or its directory. Dense AE: the MAE of each LS. LSTM AE: every complete window
    of `window` LS (stride `stride`) inside a segment (default: the whole series; `train`'s CLI passes
    run x split so that a test score never depends on other splits) is reconstructed; each position's
    MAE over the bins (`window_mae`) is averaged over all the windows covering the LS
    (`lumi_generator.per_lumisection`), so a LS in several windows gets the mean over them, and a LS no
    window covers (a segment shorter than the window, a tail left by the stride) gets NaN.
    """
    t = _trained(model)
    x = t.minmax.transform(series.counts)
    if not t.settings.is_lstm:
        return np.mean(np.abs(x - _predict(t.model, x)), axis=1)
    segments = np.zeros(len(series)) if segments is None else np.asarray(segments)
    out = np.full(len(series), np.nan)
    spans = [(a, b) for a, b in blocks(segments) if b - a >= t.settings.window]
    if not spans:
        return out
    per_block = [lg.windows(x[a:b], t.settings.window, t.settings.stride) for a, b in spans]
    reco = _predict(t.model, np.concatenate(per_block))
    i = 0
    for (a, b), w in zip(spans, per_block):
        errors = window_mae(w, reco[i:i + len(w)])
        out[a:b] = lg.per_lumisection(errors, b - a, t.settings.stride)
        i += len(w)
    return out


# ---------------------------------------------------------------- the anomaly finder


def threshold_percentile(scores, q: float = DEFAULT_PERCENTILE) -> float:
    """Seed 000's rule: the q-th percentile of the scores of the monitored series itself (NaN left out).

    It flags about (100 - q) % of whatever it is given, anomalous or not: a fixed alarm budget, not a
    rate. LS at the threshold are flagged (`flag`: at or above): identical inputs (every empty LS is the
    same all-zero histogram) score the same, and a tie at the top must not hide them all.
    """
    if not 0.0 < q < 100.0:
        raise ConfigError(f"percentile {q}: expected a value in (0, 100), e.g. 99.7")
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise MetricError("no finite score to take a percentile of")
    return float(np.percentile(s, q))


def threshold_false_alarm(good_scores, rate: float) -> float:
    """The threshold at or above which at most a fraction `rate` of good (validation) LS lie: a false-alarm rate.

    Refused (MetricError) unless floor(rate x N) >= `metrics.MIN_BACKGROUND_ABOVE` (10) good LS may lie
    above it: a threshold resting on fewer is noise. `metrics.threshold_at_fpr` counts scores strictly
    above; the next float up gives the same set with `flag`'s "at or above".
    """
    s = np.asarray(good_scores, dtype=np.float64)
    s = s[~np.isnan(s)]
    try:
        return float(np.nextafter(metrics.threshold_at_fpr(s, rate)[0], np.inf))
    except MetricError as exc:
        raise MetricError(f"false-alarm rate: {str(exc).replace('background events', 'good lumisections')}") \
            from None


def flag(scores, threshold: float) -> np.ndarray:
    """True where the score is at or above the threshold; never for an unscored (NaN) LS."""
    s = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(s), False, s >= threshold)


def flagged_csv(path, frame, tag: str) -> Path:
    """The flagged LS in LS order: run, lumisection, score, label, kind, split."""
    rows = frame[frame[f"flag_{tag}"]]
    out = rows[["run", "lumisection", f"score_{tag}", "label", "kind", "split"]].rename(
        columns={f"score_{tag}": "score"})
    path = Path(path)
    out.to_csv(path, index=False, float_format="%.6g")
    return path


# ---------------------------------------------------------------- scores file


def read_scores(path) -> tuple[object, dict]:
    """(DataFrame, metadata) of a scores file written by `run`; one-line DataError otherwise."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected {SCORES_FILE} from 'codesign dqm lumisections train'")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0][:160]})") from None
    raw = (table.schema.metadata or {}).get(SCORES_KEY)
    if raw is None or not {"run", "lumisection", "split"} <= set(table.column_names):
        raise DataError(f"{path}: not a lumisection scores file (no {SCORES_KEY.decode()} metadata); expected "
                        f"{SCORES_FILE} from 'codesign dqm lumisections train'")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise DataError(f"{path}: corrupt {SCORES_KEY.decode()} metadata ({exc})") from None
    return table.to_pandas(), meta


def write_scores(path, frame, meta: dict) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           SCORES_KEY: json.dumps(meta, default=str).encode()})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def tags_of(frame) -> list[str]:
    return [c[len("score_"):] for c in frame.columns if c.startswith("score_")]


@dataclass
class Result:
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


def _existing(path: Path, base, settings: Settings, source: Path):
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


def run(settings: Settings, input_file, output_dir, percentile: float | None = None,
        false_alarm: float | None = None, histogram: str | None = None) -> Result:
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
               "model_dir": str(Path(MODELS_DIR) / tag), "provenance": provenance.record(seed=settings.seed)}
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
    return Result(scores_path, flagged, trained, threshold, lines, time.perf_counter() - start)


def _is_series(path: Path) -> bool:
    import pyarrow.parquet as pq

    from codesign.dqm import table as tbl

    if not path.is_file() or path.is_symlink():
        return False
    try:
        meta = (pq.read_schema(path).metadata or {}).get(tbl.META_KEY)
        return meta is not None and "series" in json.loads(meta)
    except Exception:  # noqa: BLE001 - any unreadable file is simply not ours
        return False


def generate(out, n_ls: int = 6000, seed: int = 1, anomaly_fraction: float = 0.03, run: int = 1,
             force: bool = False) -> tuple[Path, lg.Series]:
    """A generated series (`lumi_generator.generate`) as a series file; an existing file needs `force`."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not force:
            raise ConfigError(f"--out {out}: already exists; pass --force to replace it or choose another file")
        if not _is_series(out):
            raise ConfigError(f"--out {out}: exists and is not a series written by codesign; --force replaces only "
                              "an earlier `codesign dqm lumisections generate` file")
    if not 0.0 <= anomaly_fraction < 1.0 or math.isnan(anomaly_fraction):
        raise ConfigError(f"--anomaly_fraction {anomaly_fraction}: expected a fraction in [0, 1)")
    series = lg.generate(n_ls=n_ls, seed=seed, anomaly_fraction=anomaly_fraction)
    return write_series(out, series, run=run), series
