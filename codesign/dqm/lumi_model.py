"""The per-lumisection autoencoders of seed 000 on the shared core: settings, training, saving and
reloading a tag (``OUTPUT_DIR/models/<tag>/``: ``model.h5`` loaded without executing code,
``minmax.json``, ``settings.json`` with settings, versions, seed, LS per split and training history),
and the score of each LS (its mean absolute error over the bins).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from codesign import outdir, provenance
from codesign.config import Frozen, parse
from codesign.core import models, persistence, trainer
from codesign.core.spec import LSTMAE, DenseAE, FixedPoint, Quantization
from codesign.data import lumi_generator as lg
from codesign.dqm import tags
from codesign.dqm.lumi_windows import SPLITS, blocks, segments_of, split_of, window_indices, window_mae
from codesign.errors import ConfigError, DataError, ModelFileError

log = logging.getLogger("codesign")

MODEL_FILE, MINMAX_FILE, SETTINGS_FILE = "model.h5", "minmax.json", "settings.json"
MODELS = ("dense", "sparse_lstm", "undercomplete_lstm")
# Widths down to the bottleneck. dense: encoder (32, 16), latent 8 (50 bins -> 8: enough to follow the
# luminosity-driven shape changes, too few to copy an anomaly); LSTMs: seed 000's 64 and 64 -> 32.
DEFAULT_UNITS = {"dense": (32, 16, 8), "sparse_lstm": (64,), "undercomplete_lstm": (64, 32)}


class LumiSettings(Frozen):
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
        return tags.check(value)

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


def settings_from(values: dict, source: str = "command line") -> LumiSettings:
    """LumiSettings from a mapping (command-line values; None = default); a one-line ConfigError if invalid."""
    return parse(LumiSettings, {k: v for k, v in values.items() if v is not None}, source)


def spec(settings: LumiSettings):
    """The core's model spec for these settings (`codesign.core.spec`)."""
    q = None
    if settings.bits is not None:
        q = Quantization(weight=FixedPoint(bits=settings.bits, integer=0),
                         activation=FixedPoint(bits=max(settings.bits, 8), integer=2))
    if settings.model == "dense":
        return DenseAE(encoder=settings.units[:-1], latent=settings.units[-1], activation="relu", batchnorm=False,
                       input_batchnorm=False, quantization=q)
    return LSTMAE(variant="sparse" if settings.model == "sparse_lstm" else "undercomplete", units=settings.units,
                  dropout=settings.dropout, quantization=q)


@dataclass
class Trained:
    """A trained (or reloaded) tag: the Keras model, its input scaling and settings."""

    model: object
    minmax: lg.MinMax
    settings: LumiSettings
    directory: Path | None = None
    loaded: bool = False
    info: dict = field(default_factory=dict)  # what settings.json holds besides the settings



def load(directory) -> Trained:
    """A tag's directory written by `train`; the model file is checked for Lambda layers before loading."""
    directory = Path(directory)
    try:
        saved = json.loads((directory / SETTINGS_FILE).read_text())
        minmax = lg.MinMax.from_dict(json.loads((directory / MINMAX_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{directory}: not a complete lumisection model directory ({type(exc).__name__}: "
                             f"{exc}); expected {MODEL_FILE}, {MINMAX_FILE} and {SETTINGS_FILE}") from None
    settings = parse(LumiSettings, saved.get("settings"), str(directory / SETTINGS_FILE))
    model = persistence.load_keras(directory / MODEL_FILE)
    return Trained(model, minmax, settings, directory, True, {k: v for k, v in saved.items() if k != "settings"})


def _differences(saved: dict, wanted: dict) -> list[str]:
    return [f"{k}={saved.get(k)!r} (now {wanted.get(k)!r})" for k in sorted(set(saved) | set(wanted))
            if saved.get(k) != wanted.get(k)]


def _good(series: lg.Series, settings: LumiSettings) -> np.ndarray:
    return np.ones(len(series), bool) if settings.train_on_bad else np.asarray(series.labels) != 1


def _training_inputs(x: np.ndarray, mask: np.ndarray, segments: np.ndarray, good: np.ndarray,
                     settings: LumiSettings) -> tuple[np.ndarray, int]:
    """(network inputs of the LS in `mask`, number set aside because they hold a known-bad LS)."""
    if not settings.is_lstm:
        return x[mask & good], int(np.sum(mask & ~good))
    idx = window_indices(np.where(mask, segments, -1), settings.window, settings.stride)
    idx = idx[mask[idx[:, 0]]] if len(idx) else idx
    keep = good[idx].all(axis=1) if len(idx) else np.zeros(0, bool)
    return x[idx[keep]], int(np.sum(~keep))


def train(settings: LumiSettings, series: lg.Series, output_dir, segments=None, source: str = "series") -> Trained:
    """Fit the tag's model on the training LS (min-max fitted there too) and save it under models/<tag>/.

    LSTM models see windows of `window` consecutive scaled LS (stride `stride`) from the training block,
    validated (early stopping) on windows of the validation block; the dense AE sees single LS. Loss: MAE,
    the score. An existing tag with the same settings is loaded instead of retrained; other settings under
    it are refused (trained models are never overwritten). `segments`: ids (e.g. runs) windows stay inside.
    """
    directory = tags.model_dir(output_dir, settings.tag)
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
    with outdir.fresh(directory) as tmp:
        persistence.save_model(tmp / MODEL_FILE, fitted.model)
        (tmp / MINMAX_FILE).write_text(json.dumps(minmax.to_dict()) + "\n")
        (tmp / SETTINGS_FILE).write_text(json.dumps({"settings": wanted, **info}, indent=1, default=str) + "\n")
    return Trained(fitted.model, minmax, settings, directory, False, info)


def check_windows(split: np.ndarray, segments: np.ndarray, settings: LumiSettings, source: str) -> None:
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

