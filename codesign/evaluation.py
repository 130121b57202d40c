"""Scoring firmware: exact (emulated) anomaly scores on full test sets, cross-checked against C-simulation."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from codesign import metrics


@dataclass(frozen=True)
class BitExactCheck:
    n_events: int
    n_exact: int
    n_edge: int  # of which constructed edge cases (zeros, extremes, saturating values)
    csim_seconds: float
    emulator_seconds: float

    @property
    def fraction(self) -> float:
        return self.n_exact / self.n_events if self.n_events else 1.0

    def to_dict(self) -> dict:
        return {"n_events": self.n_events, "n_exact": self.n_exact, "n_edge": self.n_edge,
                "fraction": self.fraction, "csim_seconds": self.csim_seconds,
                "emulator_seconds": self.emulator_seconds}


def edge_vectors(x_reference: np.ndarray) -> np.ndarray:
    """Inputs at and beyond the edges: zeros, +-peak, +-10 x peak, +-1e6, tiny values, alternating signs."""
    peak = np.max(np.abs(x_reference), axis=0)
    n = x_reference.shape[1]
    alternating = np.where(np.arange(n) % 2, 1.0, -1.0)
    rows = [np.zeros(n), peak, -peak, 10 * peak, -10 * peak, np.full(n, 1e6), np.full(n, -1e6),
            np.full(n, 1e-9), np.full(n, -1e-9), alternating * peak, alternating * 1e6]
    rng = np.random.default_rng(0)
    rows += list(rng.choice([-1.0, 0.0, 1.0], (50, n)) * peak * rng.choice([1.0, 2.0, 100.0], (50, 1)))
    return np.array(rows)


def check_bit_exact(firmware, x: np.ndarray, n_events: int, seed: int = 0) -> BitExactCheck:
    """Compare C-simulation and emulator on every output bit for `n_events` events (plus the edge vectors)."""
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), size=min(n_events, len(x)), replace=False)]
    edges = edge_vectors(x)
    vectors = np.concatenate([edges, sample])
    start = time.perf_counter()
    emulated = firmware.emulate(vectors)
    t_emu = time.perf_counter() - start
    start = time.perf_counter()
    simulated = firmware.csim(vectors)
    t_csim = time.perf_counter() - start
    exact = np.ones(len(vectors), dtype=bool)
    for e, c in zip(emulated, simulated):
        exact &= np.all(np.asarray(e).reshape(len(vectors), -1) == np.asarray(c).reshape(len(vectors), -1), axis=1)
    return BitExactCheck(len(vectors), int(exact.sum()), len(edges), t_csim, t_emu)


def score_dataset(firmware, x_test: np.ndarray, signals: dict[str, np.ndarray], fpr: float, n_bootstrap: int,
                  seed: int, min_background_above: int = metrics.MIN_BACKGROUND_ABOVE):
    """Firmware scores (emulator) of the background test set and each signal, and their metrics."""
    background = firmware.score(x_test)
    signal_scores = {name: firmware.score(x) for name, x in signals.items()}
    scores = {name: metrics.score_signal(name, background, s, fpr, n_bootstrap, seed, min_background_above)
              for name, s in signal_scores.items()}
    return scores, background, signal_scores
