"""Synthetic ADC2021-like Level-1 trigger events, generated without any download.

Each process is built at parton level with real kinematics (codesign.data.l1_physics), passed
through an L1-like detector and the same >= 1 lepton filter as the real files
(codesign.data.l1_detector). The physics choices and the calibration of a
trained baseline against the published results are documented in docs/data.md.

Generation is deterministic given (seed, chunk size): chunk i draws from the seed
sequence (seed, i), so a chunk can be regenerated alone and millions of events stream
through bounded memory.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from codesign.data.adc2021 import N_FEATURES, N_OBJECTS
from codesign.data.l1_detector import DEFAULT_DETECTOR, Detector, reconstruct
from codesign.data.l1_physics import PROCESSES, Truth
from codesign.runtime import check_interrupt

BACKGROUND_FRACTIONS = {"W_lnu": 0.592, "Z_ll": 0.067, "ttbar": 0.003, "QCD": 0.338}
SIGNALS = ("Ato4l", "leptoquark", "hToTauTau", "hChToTauNu")
# File names of the real ADC2021 samples, so a synthetic directory looks like a real one.
FILE_NAMES = {
    "background": "background_for_training.h5",
    "Ato4l": "Ato4l_lepFilter_13TeV.h5",
    "leptoquark": "leptoquark_LOWMASS_lepFilter_13TeV.h5",
    "hToTauTau": "hToTauTau_13TeV_PU20.h5",
    "hChToTauNu": "hChToTauNu_13TeV_PU20.h5",
}
PROCESS_IDS = {name: i for i, name in enumerate([*BACKGROUND_FRACTIONS, *SIGNALS])}
BLOCK = 65536  # candidate events generated per step before the lepton filter
# Bump when the events a seed produces change: stored event arrays are named by it (codesign.data.store).
VERSION = 1


def _block(name: str, seed_seq: np.random.SeedSequence, det: Detector) -> np.ndarray:
    """The filtered events of one block of a process: a pure function of its seed sequence."""
    rng = np.random.default_rng(seed_seq)
    truth = Truth(BLOCK)
    PROCESSES[name](rng, truth)
    return reconstruct(rng, truth, det)[0]


class ProcessStream:
    """Filtered events of one process, drawn block by block from its own seed sequence.

    Blocks have a fixed size, so the n-th event of a stream does not depend on how the
    caller slices it; a background chunk takes just the events its mixture needs. With a
    process pool the blocks a request will need are generated ahead, in parallel, and
    consumed in order: the events are the same with any number of workers.
    """

    def __init__(self, name: str, seed_seq: np.random.SeedSequence, det: Detector = DEFAULT_DETECTOR, pool=None):
        if name not in PROCESSES:
            raise KeyError(name)
        self.name, self.det, self._pool = name, det, pool
        self._blocks = (np.random.SeedSequence(entropy=seed_seq.entropy, spawn_key=(*seed_seq.spawn_key, i))
                        for i in itertools.count())
        self._buffer = np.zeros((0, N_OBJECTS, N_FEATURES), np.float32)
        self._pending: collections.deque = collections.deque()
        self._yield: list[int] = []  # events each finished block gave

    def reserve(self, n: int) -> None:
        """Start the blocks that `n` more events are expected to need (no-op without a pool)."""
        if self._pool is None:
            return
        per_block = max(float(np.mean(self._yield)) if self._yield else float(BLOCK), 1.0)
        missing = n - len(self._buffer) - per_block * len(self._pending)
        extra = min(math.ceil(max(missing, 0.0) / per_block), 2 * self._pool.workers - len(self._pending))
        for _ in range(extra):
            self._pending.append(self._pool.submit(_block, self.name, next(self._blocks), self.det))

    def _next_block(self) -> np.ndarray:
        if self._pending:
            particles = self._pending.popleft().result()
        else:
            particles = _block(self.name, next(self._blocks), self.det)
        self._yield.append(len(particles))
        return particles

    def take(self, n: int, into: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """The next `n` events; with `into` and `rows`, scattered to into[rows] (one copy, no intermediate arrays)."""
        if into is None:
            into = np.empty((n, N_OBJECTS, N_FEATURES), np.float32)
        have = 0
        while True:
            m = min(n - have, len(self._buffer))
            into[slice(have, have + m) if rows is None else rows[have:have + m]] = self._buffer[:m]
            self._buffer, have = self._buffer[m:], have + m
            if have == n:
                return into
            self.reserve(n - have)
            self._buffer = self._next_block()


def _keep_heap() -> None:
    """Keep a block worker's freed memory for its next block (glibc only; elsewhere a no-op).

    A block allocates and frees the same few hundred MB of arrays each time; with glibc's defaults they are
    mmapped and returned to the kernel, and page faults took a fifth of a worker's time. The worker's heap
    stays at its largest block's size (about 250 MB).
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: the largest glibc accepts; a block's arrays are smaller
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep freed memory in the worker's heap
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def block_pool(n_events: int, workers: int | None = None):
    """A process pool for block generation, or None where it would not pay (small requests) or is not allowed."""
    import multiprocessing

    workers = workers or os.cpu_count() or 1
    if workers <= 1 or n_events < 2 * BLOCK or multiprocessing.current_process().daemon:
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor

    # fork: the workers need only numpy and this module, and start in milliseconds
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_keep_heap)
    pool.workers = workers
    try:
        yield pool
    finally:  # blocks generated ahead and not needed are dropped, not waited for
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Sample:
    particles: np.ndarray  # (n, 19, 4) float32
    process: np.ndarray  # (n,) process id (see PROCESS_IDS)
    process_names: tuple[str, ...] = field(default=tuple(PROCESS_IDS))


def background_chunks(n: int, seed: int, chunk_size: int = 250_000, det: Detector = DEFAULT_DETECTOR,
                      workers: int | None = None) -> Iterator[Sample]:
    """Stream `n` background events as the ADC2021 mixture, one shuffled chunk at a time.

    `workers` processes generate blocks in parallel (default: one per core); the events do not depend on it.
    """
    names = list(BACKGROUND_FRACTIONS)
    fractions = np.array([BACKGROUND_FRACTIONS[k] for k in names])
    fractions = fractions / fractions.sum()
    rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(0, len(names))))
    with block_pool(n, workers) as pool:
        streams = [ProcessStream(name, np.random.SeedSequence(entropy=seed, spawn_key=(0, k)), det, pool)
                   for k, name in enumerate(names)]
        for start in range(0, n, chunk_size):
            check_interrupt()  # a Ctrl-C swallowed by a finaliser (h5py) ends the stream within a chunk
            size = min(chunk_size, n - start)
            counts = rng.multinomial(size, fractions)
            ahead = fractions * min(chunk_size, n - start - size)  # and the next chunk's, so the pool never idles
            for s, c, a in zip(streams, counts, ahead):  # every stream's blocks in flight before waiting on any
                s.reserve(int(c + a))
            order = rng.permutation(size)
            row_of = np.empty(size, np.intp)  # the shuffled row of each event of the streams' concatenation
            row_of[order] = np.arange(size)
            particles = np.empty((size, N_OBJECTS, N_FEATURES), np.float32)
            ends = np.cumsum(counts)
            for s, end, c in zip(streams, ends, counts):
                s.take(int(c), particles, row_of[end - c:end])
            labels = np.repeat(np.array([PROCESS_IDS[s.name] for s in streams], np.int8), counts)
            yield Sample(particles, labels[order])


def background(n: int, seed: int, chunk_size: int = 250_000, det: Detector = DEFAULT_DETECTOR,
               workers: int | None = None) -> Sample:
    chunks = list(background_chunks(n, seed, chunk_size, det, workers))
    if not chunks:
        return Sample(np.zeros((0, N_OBJECTS, N_FEATURES), np.float32), np.zeros(0, np.int8))
    return Sample(np.concatenate([c.particles for c in chunks]), np.concatenate([c.process for c in chunks]))


def signal(name: str, n: int, seed: int, det: Detector = DEFAULT_DETECTOR, workers: int | None = None) -> Sample:
    if name not in SIGNALS:
        raise KeyError(name)
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(1, SIGNALS.index(name)))
    # a signal's filter keeps 5-30 % of its candidates: size the pool by candidates, not events
    with block_pool(n * 4, workers) as pool:
        particles = ProcessStream(name, seq, det, pool).take(n)
    return Sample(particles, np.full(len(particles), PROCESS_IDS[name], np.int8))
