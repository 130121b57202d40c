"""L1 trigger anomaly detection on ADC2021-layout events (57 inputs, four benchmark signals).

Default data are generated on the fly (codesign.data.l1_generator); real ADC2021 files
are used instead when given (`--data background.h5 --signal Ato4l=file.h5 ...`).
The default test background is 2,000,000 events, so the threshold at FPR 1e-5 rests on
20 background events.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from codesign.config import Frozen
from codesign.data import adc2021
from codesign.data import l1_generator as gen
from codesign.errors import ConfigError, DataError
from codesign.tasks.base import Dataset, TaskConfig, check_test_size

log = logging.getLogger("codesign")
NAME = "l1-anomaly"


class Data(Frozen):
    n_train: int = Field(1_000_000, ge=1)
    n_val: int = Field(200_000, ge=1)
    n_test: int = Field(2_000_000, ge=1, description="background test events (>= 1e6 for FPR 1e-5)")
    n_signal: int = Field(100_000, ge=1, description="test events per signal")
    signals: tuple[str, ...] = gen.SIGNALS
    background_file: str | None = None
    signal_files: dict[str, str] = {}

    @model_validator(mode="after")
    def _known_signals(self):
        if self.background_file is None:
            unknown = [s for s in self.signals if s not in gen.SIGNALS]
            if unknown:
                raise ValueError(f"unknown synthetic signal(s) {unknown}; known: {list(gen.SIGNALS)}")
        return self


class Config(TaskConfig):
    task: Literal["l1-anomaly"] = NAME
    data: Data = Data()

    @model_validator(mode="after")
    def _test_set_resolves_the_fpr(self):
        check_test_size(self.data.n_test, self.metrics)
        return self


def input_groups(input_names: list[str]) -> list[str]:
    """Inputs sharing a firmware unit: all pT inputs, all eta, all phi (see firmware.InputUnits.derive)."""
    return [name.rsplit("_", 1)[1] for name in input_names]


def load_data(config: Config, train_limit: int | None = None) -> Dataset:
    """Synthetic events by default; the real-layout files named in config.data otherwise.

    `train_limit` caps the training sample (e.g. to a calibration sample when only the test
    set is needed); the test set and signals are the run's own either way.
    """
    d = config.data
    if d.background_file is None:
        if d.signal_files:
            raise ConfigError("data.signal_files needs data.background_file (or --data) as well")
        return synthetic(d, config.seed, train_limit)
    dataset = from_files(d, config.seed)
    if train_limit is not None:
        dataset.x_train = dataset.x_train[:train_limit]
    return dataset


def synthetic(d: Data, seed: int, train_limit: int | None = None) -> Dataset:
    n_train = d.n_train if train_limit is None else min(d.n_train, train_limit)
    n_val = d.n_val if train_limit is None else 0
    log.info("generating %d background and %d x %d signal events (seed %d)", n_train + n_val + d.n_test,
             len(d.signals), d.n_signal, seed)
    # Independent streams: training, validation and test never share events.
    parts = [gen.background(n, seed=seed * 1000 + k) for k, n in enumerate((n_train, n_val, d.n_test))]
    x_train, x_val, x_test = (adc2021.flatten(p.particles) for p in parts)
    signals = {name: adc2021.flatten(gen.signal(name, d.n_signal, seed=seed * 1000 + 3).particles)
               for name in d.signals}
    return Dataset(x_train, x_val, x_test, signals, adc2021.input_names(),
                   sources={"kind": "synthetic", "generator": "codesign.data.l1_generator", "seed": seed})


def from_files(d: Data, seed: int) -> Dataset:
    """Split a real background file (shuffled with the seed) into test, validation and training events."""
    bkg = adc2021.read_events(d.background_file).particles
    need = d.n_train + d.n_val + d.n_test
    if len(bkg) < need:
        raise DataError(f"{d.background_file}: holds {len(bkg)} events, but data.n_train + n_val + n_test = {need}; "
                        "lower them (n_test >= 1,000,000 keeps FPR 1e-5 resolvable)")
    order = np.random.default_rng(seed).permutation(len(bkg))[:need]
    x = adc2021.flatten(bkg[order])
    x_test, x_val, x_train = np.split(x, [d.n_test, d.n_test + d.n_val])
    if not d.signal_files:
        raise ConfigError("no signal files given: pass --signal NAME=path.h5 (or data.signal_files)")
    signals = {name: adc2021.flatten(adc2021.read_events(path, max_events=d.n_signal).particles)
               for name, path in d.signal_files.items()}
    return Dataset(x_train, x_val, x_test, signals, adc2021.input_names(),
                   sources={"kind": "files", "background": str(Path(d.background_file)),
                            "signals": {k: str(v) for k, v in d.signal_files.items()}})


def write_synthetic(out: Path, n_background: int, n_signal: int, seed: int, chunk_size: int = 250_000) -> list[Path]:
    """Write a directory that looks like the real ADC2021 release (one h5 file per sample)."""
    import h5py

    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / gen.FILE_NAMES["background"]
    tmp = path.with_suffix(".h5.partial")
    with h5py.File(tmp, "w") as f:
        particles = f.create_dataset("Particles", shape=(n_background, adc2021.N_OBJECTS, adc2021.N_FEATURES),
                                     dtype=np.float32, chunks=(min(chunk_size, n_background), adc2021.N_OBJECTS,
                                                               adc2021.N_FEATURES), compression="lzf")
        process = f.create_dataset("Process", shape=(n_background,), dtype=np.int8)
        start = 0
        for chunk in gen.background_chunks(n_background, seed, chunk_size):
            particles[start:start + len(chunk.particles)] = chunk.particles
            process[start:start + len(chunk.particles)] = chunk.process
            start += len(chunk.particles)
        f.create_dataset("Particles_Names", data=np.array(adc2021.PARTICLE_NAMES, dtype="S"))
        f.create_dataset("Particles_Classes", data=np.array(adc2021.PARTICLE_CLASSES, dtype="S"))
        f.attrs["process_names"] = np.array(list(gen.PROCESS_IDS), dtype="S")
        f.attrs["generator_seed"] = seed
    tmp.replace(path)
    written.append(path)
    for name in gen.SIGNALS:
        sample = gen.signal(name, n_signal, seed)
        path = out / gen.FILE_NAMES[name]
        adc2021.write_events(path, sample.particles, sample.process, tuple(gen.PROCESS_IDS),
                             attrs={"generator_seed": seed})
        written.append(path)
    return written
