"""Splits and windows of a lumisection series: contiguous train / val / test blocks in LS order, and the
windows of consecutive LS an LSTM autoencoder sees, never straddling a run or a split.
"""

from __future__ import annotations

import numpy as np

from codesign.data import lumi_generator as lg
from codesign.errors import DataError

SPLITS = ("train", "val", "test")


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

