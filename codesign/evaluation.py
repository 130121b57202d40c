"""Scoring firmware: exact (emulated) anomaly scores on full test sets, cross-checked against C-simulation."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from codesign import metrics
from codesign.hardware import analytic


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

    @classmethod
    def from_dict(cls, d: dict) -> BitExactCheck:
        return cls(int(d["n_events"]), int(d["n_exact"]), int(d["n_edge"]), float(d["csim_seconds"]),
                   float(d["emulator_seconds"]))


def edge_vectors(x_reference: np.ndarray) -> np.ndarray:
    """Inputs at and beyond the edges: zeros, +-peak, +-10 x peak, +-1e6, tiny values, alternating signs."""
    x_reference = np.asarray(x_reference).reshape(len(x_reference), -1)  # sequences: flat
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
    x = np.asarray(x).reshape(len(x), -1)  # sequences: flat, as the firmware reads them
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
    ranked = metrics.SortedScores(background)
    scores = {name: metrics.score_signal(name, ranked, s, fpr, n_bootstrap, seed, min_background_above)
              for name, s in signal_scores.items()}
    return scores, background, signal_scores


def tail(background: np.ndarray, k: int = 100) -> dict[str, list]:
    """The `k` highest-scoring background events (test-set index and score, highest first): what sets the
    threshold. Two models that rank the same events on top measure the data, not themselves."""
    b = np.asarray(background)
    k = min(k, len(b))
    top = np.argpartition(-b, k - 1)[:k] if k < len(b) else np.arange(len(b))
    top = top[np.lexsort((top, -b[top]))]
    return {"index": top.tolist(), "score": b[top].tolist()}


def tail_overlap(a: dict, b: dict, k: int | None = None) -> float:
    """Fraction of the top-k background events two tails share (1: the same events set both thresholds)."""
    k = k or min(len(a["index"]), len(b["index"]))
    return len(set(a["index"][:k]) & set(b["index"][:k])) / k if k else 0.0


def curves(background: np.ndarray, signal_scores: dict[str, np.ndarray], n_points: int = 120,
           n_bins: int = 60) -> dict:
    """ROC points and score histograms of firmware scores: what a report draws, a few kB per candidate."""
    ranked = metrics.SortedScores(background)
    edges = metrics.histogram_edges(ranked, n_bins)
    return {"roc": {name: metrics.roc_points(ranked, s, n_points) for name, s in signal_scores.items()},
            "histogram": {"edges": edges.tolist(), "background": metrics.histogram(background, edges),
                          **{name: metrics.histogram(s, edges) for name, s in signal_scores.items()}}}


def layer_table(firmware, graph, estimate) -> list[dict]:
    """Per layer: the types hls4ml built, the weights' sparsity in firmware, and the estimated cost; for a dense
    layer its EBOPs and histograms of its weights' and input elements' bits (index = bits)."""
    built = {row["layer"]: row for row in firmware.info.get("precisions", [])}
    costs = {c.name: c for c in estimate.layers}
    rows = []
    for layer in graph.layers:
        row = {"name": layer.name, "kind": layer.kind, "n_in": layer.n_in, "n_out": layer.n_out,
               "result": str(layer.out_type), "weight": str(layer.weight_type) if layer.weight_type else None,
               "accum": str(layer.accum) if layer.accum else None, "reuse_factor": layer.reuse,
               "strategy": layer.strategy if layer.kind == "dense" else None,
               "sparsity": float(np.mean(layer.weight == 0)) if layer.weight is not None else None,
               "class": built.get(layer.name, {}).get("class", layer.kind)}
        if layer.kind == "dense":  # the widths HGQ learns per weight and per input element, as histograms
            row.update(ebops=round(analytic.ebops(layer)),
                       weight_bits=np.bincount(analytic.weight_bits(layer.weight).ravel()).tolist(),
                       input_bits=np.bincount(layer.in_bits).tolist())
        cost = costs.get(layer.name)
        if cost is not None:
            row.update(lut=round(cost.lut), ff=round(cost.ff), dsp=round(cost.dsp), bram18=round(cost.bram18),
                       cycles=cost.cycles)
        rows.append(row)
    return rows
