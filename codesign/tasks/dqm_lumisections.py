"""DQM lumisections in hardware: an LSTM autoencoder over windows of lumisections, searched against resources.

Each lumisection (LS) is scored by the window of W LS that starts at it, once the W - 1 that
follow have arrived (W x 23 s later: DQM has the time): the window (one histogram per LS,
min-max scaled per bin with ranges fitted on the training series) goes through the
autoencoder, and the LS's score is the mean absolute reconstruction error of the window's
oldest step (`core.scoring`, the firmware's `score`; seed 000 scored the same position). So
each LS is one event: good LS of a test series are the background, anomalous LS of each kind
(empty, noisy, shifted, burst) the signals, and the figure of merit is the efficiency at a
false-alarm rate on good LS (default 1e-2). (The offline path, `codesign dqm lumisections`,
instead averages every window covering an LS.)

Windows are stored once at `data.max_window` LS; a candidate with a shorter `data.window` sees
the first `window` steps of the same windows (`view`), so every candidate is scored on the
same lumisections. A dense autoencoder sees the scored LS alone: the comparison of the seed.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from codesign.config import Frozen
from codesign.core.spec import LSTMAE, DenseAE, ModelSpec
from codesign.core.trainer import Training
from codesign.data import lumi_generator as lumi
from codesign.tasks.anomaly import AnomalyTask
from codesign.tasks.base import Dataset, Metrics, TaskConfig, check_test_size

log = logging.getLogger("codesign")
NAME = "dqm-lumisections"


class Data(Frozen):
    n_train: int = Field(6000, ge=10, description="LS in the training series (unlabelled: anomalies included)")
    n_val: int = Field(2000, ge=10, description="LS in the validation series")
    n_test: int = Field(6000, ge=10, description="LS in the test series; its good LS are the background")
    n_signal: int = Field(6000, ge=10, description="LS in the signal series (anomalous LS are the signals)")
    anomaly_fraction: float = Field(0.03, ge=0.0, lt=1.0, description="of the training, validation and test series")
    signal_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="anomalous fraction of the signal series")
    window: int = Field(50, ge=1, description="LS the LSTM sees (the first of the stored windows)")
    max_window: int = Field(50, ge=1, description="LS stored per window; every candidate's window <= this")

    @model_validator(mode="after")
    def _fits(self):
        if self.window > self.max_window:
            raise ValueError(f"data.window ({self.window}) must not exceed data.max_window ({self.max_window})")
        return self


class Config(TaskConfig):
    task: Literal["dqm-lumisections"] = NAME
    data: Data = Data()
    model: ModelSpec = LSTMAE(variant="sparse", units=(16,))
    training: Training = Training(loss="mae", epochs=20, batch_size=64, early_stopping_patience=4)
    metrics: Metrics = Metrics(fpr=1e-2)

    @model_validator(mode="after")
    def _scaled(self):
        if self.preprocessing != "none":
            raise ValueError("preprocessing must be 'none' for lumisections: the bins are min-max scaled to [0, 1] "
                             "with ranges fitted on the training series")
        if not isinstance(self.model, (LSTMAE, DenseAE)):
            raise ValueError("model must be an LSTM autoencoder (kind: lstm_ae) or a dense autoencoder on the "
                             "scored lumisection alone (kind: dense_ae)")
        # about (1 - anomaly_fraction) of the test LS are good: they must resolve the false-alarm rate
        check_test_size(int(self.data.n_test * (1 - self.data.anomaly_fraction) * 0.9), self.metrics)
        return self


def input_groups(input_names: list[str]) -> list[str]:
    """Every bin of every LS shares one firmware unit (all are min-max scaled to [0, 1])."""
    return ["bin"] * len(input_names)


def _windows_starting_at(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(windows, index of the LS each starts at, the one it scores): one window per LS but the last width - 1."""
    windows = lumi.windows(x, width, 1)
    return windows, np.arange(len(windows))


def load_data(config: Config, train_limit: int | None = None, store=None) -> Dataset:
    d, seed = config.data, config.seed
    log.info("generating lumisection series: %d train, %d val, %d test, %d signal LS (seed %d)", d.n_train, d.n_val,
             d.n_test, d.n_signal, seed)
    train = lumi.generate(d.n_train, seed * 10 + 1, d.anomaly_fraction)
    val = lumi.generate(d.n_val, seed * 10 + 2, d.anomaly_fraction)
    test = lumi.generate(d.n_test, seed * 10 + 3, d.anomaly_fraction)
    signal = lumi.generate(d.n_signal, seed * 10 + 4, d.signal_fraction)
    scale = lumi.MinMax.fit(train.counts)
    w = d.max_window
    x_train = _windows_starting_at(scale.transform(train.counts), w)[0]
    if train_limit is not None:
        x_train = x_train[:train_limit]
    x_val = _windows_starting_at(scale.transform(val.counts), w)[0]
    x_test, scored = _windows_starting_at(scale.transform(test.counts), w)
    x_test = x_test[test.labels[scored] == 0]
    x_sig, scored = _windows_starting_at(scale.transform(signal.counts), w)
    kinds = signal.kinds[scored]
    signals = {kind: x_sig[kinds == kind] for kind in lumi.KINDS if np.any(kinds == kind)}
    n_bins = train.counts.shape[1]
    names = [f"ls{k:02d}_bin{b:02d}" for k in range(w) for b in range(n_bins)]  # ls00: the scored LS
    return Dataset(x_train, x_val, x_test, signals, names,
                   sources={"kind": "synthetic", "generator": "codesign.data.lumi_generator", "seed": seed,
                            "max_window": w, "minmax": scale.to_dict(),
                            "n_ls": {"train": d.n_train, "val": d.n_val, "test": d.n_test, "signal": d.n_signal}})


def view(config: Config, data: Dataset) -> Dataset:
    """What one candidate sees: the first `window` LS of each stored window (a dense AE: the scored LS)."""
    keep = 1 if isinstance(config.model, DenseAE) else config.data.window

    def cut(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return x[:, 0, :] if isinstance(config.model, DenseAE) else x[:, :keep, :]

    n_bins = np.asarray(data.x_train).shape[-1]
    return dataclasses.replace(data, x_train=cut(data.x_train), x_val=cut(data.x_val), x_test=cut(data.x_test),
                               signals={k: cut(v) for k, v in data.signals.items()},
                               input_names=data.input_names[:keep * n_bins])


class DQMLumisections(AnomalyTask):
    name = NAME
    Config = Config
    data_file_field = ""  # generated series only
    load_data = staticmethod(load_data)
    input_groups = staticmethod(input_groups)
    view = staticmethod(view)
