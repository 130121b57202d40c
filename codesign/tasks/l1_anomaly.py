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
from codesign.data.store import EventStore, file_digest
from codesign.errors import ConfigError, DataError
from codesign.tasks.anomaly import AnomalyTask
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


def load_data(config: Config, train_limit: int | None = None, store: Path | None = None) -> Dataset:
    """Synthetic events by default; the real-layout files named in config.data otherwise.

    `train_limit` caps the training sample (e.g. to a calibration sample when only the test
    set is needed); the test set and signals are the run's own either way. With a `store`
    directory every array is produced there once, chunk by chunk, and returned as a memory map
    (`codesign.data.store`): ten million test events cost disk, not memory.
    """
    d = config.data
    if d.background_file is None:
        if d.signal_files:
            raise ConfigError("data.signal_files needs data.background_file (or --data) as well")
        return synthetic(d, config.seed, train_limit, store)
    dataset = from_files(d, config.seed, store)
    if train_limit is not None:
        dataset.x_train = dataset.x_train[:train_limit]
    return dataset


def _array(store: Path | None, spec: dict, n: int, chunks) -> np.ndarray:
    """Rows from `chunks()` (flattened events), written to / read from the event store when there is one."""
    if store is not None:
        return EventStore(store).get(spec, (n, adc2021.N_INPUTS), chunks)
    parts = list(chunks())
    return np.concatenate(parts) if parts else np.zeros((0, adc2021.N_INPUTS), np.float32)


def synthetic(d: Data, seed: int, train_limit: int | None = None, store: Path | None = None) -> Dataset:
    n_train = d.n_train if train_limit is None else min(d.n_train, train_limit)
    n_val = d.n_val if train_limit is None else 0
    log.info("generating %d background and %d x %d signal events (seed %d)", n_train + n_val + d.n_test,
             len(d.signals), d.n_signal, seed)
    source = {"source": "codesign.data.l1_generator", "version": gen.VERSION, "detector": gen.DEFAULT_DETECTOR}

    def background(role: str, n: int, stream_seed: int) -> np.ndarray:
        chunks = lambda: (adc2021.flatten(c.particles) for c in gen.background_chunks(n, stream_seed))
        return _array(store, {**source, "role": role, "seed": stream_seed, "n": n, "chunk_size": 250_000}, n, chunks)

    # Independent streams: training, validation and test never share events.
    x_train, x_val, x_test = (background(role, n, seed * 1000 + k) for k, (role, n) in
                              enumerate((("train", n_train), ("validation", n_val), ("test", d.n_test))))
    signals = {name: _array(store, {**source, "role": f"signal {name}", "seed": seed * 1000 + 3, "n": d.n_signal},
                            d.n_signal, lambda name=name: [adc2021.flatten(gen.signal(name, d.n_signal,
                                                                                      seed=seed * 1000 + 3).particles)])
               for name in d.signals}
    return Dataset(x_train, x_val, x_test, signals, adc2021.input_names(),
                   sources={"kind": "synthetic", "generator": "codesign.data.l1_generator", "seed": seed})


def from_files(d: Data, seed: int, store: Path | None = None) -> Dataset:
    """Split a real background file (a seeded random choice of events) into test, validation and training events.

    The file is read in chunks, so its size is bounded by disk, not memory: the test events are
    streamed out in file order (their order does not matter), validation and training events
    (kept in memory) in the seeded random order.
    """
    n_file = adc2021.count_events(d.background_file)
    need = d.n_train + d.n_val + d.n_test
    if n_file < need:
        raise DataError(f"{d.background_file}: holds {n_file} events, but data.n_train + n_val + n_test = {need}; "
                        "lower them (n_test >= 1,000,000 keeps FPR 1e-5 resolvable)")
    if not d.signal_files:
        raise ConfigError("no signal files given: pass --signal NAME=path.h5 (or data.signal_files)")
    order = np.random.default_rng(seed).permutation(n_file)[:need]
    rank = np.full(n_file, -1, np.int64)
    rank[order] = np.arange(need)  # 0 .. n_test-1: test; then validation; then training
    source = {"source": "adc2021 file", "sha256": file_digest(d.background_file), "seed": seed,
              "split": [d.n_test, d.n_val, d.n_train]}

    def test_chunks():
        for start, particles in adc2021.read_chunks(d.background_file):
            r = rank[start:start + len(particles)]
            yield adc2021.flatten(particles[(r >= 0) & (r < d.n_test)])

    x_test = _array(store, {**source, "role": "test"}, d.n_test, test_chunks)
    rest = np.zeros((d.n_val + d.n_train, adc2021.N_INPUTS), np.float32)

    def rest_chunks():
        for start, particles in adc2021.read_chunks(d.background_file):
            r = rank[start:start + len(particles)]
            keep = r >= d.n_test
            rest[r[keep] - d.n_test] = adc2021.flatten(particles[keep])
        yield rest

    rest = _array(store, {**source, "role": "validation and training"}, len(rest), rest_chunks)
    x_val, x_train = rest[:d.n_val], rest[d.n_val:]
    signals = {name: _array(store, {"source": "adc2021 file", "sha256": file_digest(path), "n": d.n_signal,
                                    "role": f"signal {name}"},
                            min(d.n_signal, adc2021.count_events(path)),
                            lambda path=path: [adc2021.flatten(adc2021.read_events(path, max_events=d.n_signal)
                                                               .particles)])
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


class L1Anomaly(AnomalyTask):
    name = NAME
    Config = Config
    load_data = staticmethod(load_data)
    input_groups = staticmethod(input_groups)

    def signal_names(self, config):
        return tuple(config.data.signal_files or config.data.signals)
