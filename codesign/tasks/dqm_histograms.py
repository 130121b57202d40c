"""DQM histograms in hardware: an autoencoder over one monitoring histogram, searched against FPGA resources.

For teams who want DQM-style checks in firmware (per lumisection or per run, next to the readout),
the same search that designs trigger autoencoders designs a histogram autoencoder: its inputs are
one histogram's bins normalised to unit sum and scaled by the number of bins (mean 1; the
normalisation is done before the network, where the entries are counted), its score is the
reconstruction error, and its figure of merit is the efficiency for bad runs at a fixed
false-alarm rate on good runs (default 1e-3: one false alarm per thousand good runs).

Data: by default runs generated in memory by the DQM generator (`codesign.data.dqm_generator`),
good runs for training and for the false-alarm rate, and one sample per kind of incident that
changes the histogram (dead sector, hot cell, ...) as the "signals". Or a table from
`codesign dqm fetch` (`data.table_file`): good runs (label 0) for training/testing, bad runs
(label 1) as one signal — with a few hundred runs, only false-alarm rates of a few per cent resolve.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from codesign import metrics
from codesign.config import Frozen
from codesign.data import dqm_generator as gen
from codesign.data import dqm_table as tbl
from codesign.errors import DataError
from codesign.tasks.anomaly import AnomalyTask
from codesign.tasks.base import Dataset, Metrics, TaskConfig, check_test_size

log = logging.getLogger("codesign")
NAME = "dqm-histograms"


class Data(Frozen):
    histogram: str = "L1T//Run summary/L1TStage2EMTF/emtfTrackEta"
    n_train: int = Field(4000, ge=10)
    n_val: int = Field(1000, ge=1)
    n_test: int = Field(20_000, ge=10, description="good test runs (FPR 1e-3 rests on 20 of them)")
    n_signal: int = Field(1000, ge=1, description="runs per kind of incident")
    kinds: tuple[str, ...] | None = Field(None, description="incident kinds (default: all that change the histogram)")
    min_entries: int = Field(10_000, ge=0, description="runs with fewer entries are not used (AutoDQM's cut)")
    table_file: str | None = Field(None, description="a `codesign dqm fetch` parquet instead of generated runs")


class Config(TaskConfig):
    task: Literal["dqm-histograms"] = NAME
    data: Data = Data()
    metrics: Metrics = Metrics(fpr=1e-3)

    @model_validator(mode="after")
    def _unscaled(self):
        if self.preprocessing != "none":
            raise ValueError("preprocessing must be 'none' for histograms: their features are already of order "
                             "one, and standardising divides near-empty bins by spreads of 1e-5, so the "
                             "firmware's input rounding becomes the score (measured: AUC 0.85 in Keras, 0.49 "
                             "in firmware)")
        return self

    @model_validator(mode="after")
    def _resolvable(self):
        if self.data.table_file is None:
            check_test_size(self.data.n_test, self.metrics)
        return self


def input_groups(input_names: list[str]) -> list[str]:
    """All bins share one firmware unit: a hot bin must not saturate where its neighbours fit."""
    return ["bin"] * len(input_names)


def features(counts: np.ndarray) -> np.ndarray:
    """Unit-sum histograms times their number of bins (an average bin is 1), float32."""
    flat = np.asarray(counts, dtype=np.float64).reshape(len(counts), -1)
    totals = flat.sum(axis=1, keepdims=True)
    return (flat / np.where(totals > 0, totals, 1.0) * flat.shape[1]).astype(np.float32)


def _enough(counts: np.ndarray, min_entries: int) -> np.ndarray:
    return counts.reshape(len(counts), -1).sum(axis=1) >= min_entries


def load_data(config: Config, train_limit: int | None = None, store=None) -> Dataset:
    d = config.data
    if d.table_file is not None:
        return from_table(d, config.seed, config.metrics, train_limit)
    kinds = list(d.kinds or gen.kinds_affecting(d.histogram))
    n_train = d.n_train if train_limit is None else min(d.n_train, train_limit)
    log.info("generating %d good and %d x %d bad runs of %s (seed %d)", n_train + d.n_val + d.n_test, len(kinds),
             d.n_signal, d.histogram, config.seed)

    def good(n: int, stream: int) -> np.ndarray:
        counts = gen.sample(d.histogram, int(n * 1.1) + 10, config.seed * 1000 + stream)  # room for the cut
        counts = counts[_enough(counts, d.min_entries)]
        if len(counts) < n:
            raise DataError(f"data.min_entries {d.min_entries} removes too many generated runs; lower it")
        return counts[:n]

    x_train, x_val, x_test = (features(good(n, k)) for k, n in enumerate((n_train, d.n_val, d.n_test)))
    signals = {}
    for kind in kinds:
        counts = gen.sample(d.histogram, d.n_signal, config.seed * 1000 + 3, kind)
        signals[kind] = features(counts[_enough(counts, d.min_entries)])
    names = [f"bin{i:04d}" for i in range(x_train.shape[1])]
    return Dataset(x_train, x_val, x_test, signals, names,
                   sources={"kind": "synthetic", "generator": "codesign.data.dqm_generator", "seed": config.seed,
                            "histogram": d.histogram, "min_entries": d.min_entries})


def from_table(d: Data, seed: int, m: Metrics, train_limit: int | None = None) -> Dataset:
    """Good runs of a fetched table split into train / val / test; bad runs are the one signal."""
    table = tbl.read(d.table_file)
    if table.labels is None:
        raise DataError(f"{d.table_file}: no label column; the datasets JSON given to fetch must name good_runs "
                        "and bad_runs")
    counts = table.values(d.histogram).reshape(len(table), -1)
    usable = ~np.isnan(counts).any(axis=1) & (np.nan_to_num(counts).sum(axis=1) >= d.min_entries)
    good = np.flatnonzero(usable & (table.labels == 0))
    bad = np.flatnonzero(usable & (table.labels == 1))
    if len(bad) == 0:
        raise DataError(f"{d.table_file}: no usable bad run (label 1 with >= {d.min_entries} entries) for "
                        f"{d.histogram}")
    order = np.random.default_rng(seed).permutation(good)
    n_test = len(order) // 2
    n_val = max(1, len(order) // 10)
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    if train_limit is not None:
        train = train[:train_limit]
    metrics.require_resolvable(len(test), m.fpr, m.min_background_above)
    x = features(np.nan_to_num(counts))  # rows of unusable runs are never indexed
    return Dataset(x[train], x[val], x[test], {"bad": x[bad]}, [f"bin{i:04d}" for i in range(x.shape[1])],
                   sources={"kind": "table", "file": str(Path(d.table_file)), "histogram": d.histogram,
                            "n_good": len(good), "n_bad": len(bad), "min_entries": d.min_entries})


class DQMHistograms(AnomalyTask):
    name = NAME
    Config = Config
    data_file_field = "table_file"
    load_data = staticmethod(load_data)
    input_groups = staticmethod(input_groups)
