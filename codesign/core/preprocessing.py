"""Input preprocessing fitted on training data only and saved with the model.

An autoencoder's anomaly score is its reconstruction error summed over the inputs, so the
preprocessing decides what the score can see: an input that lies far outside the range the
network reconstructs contributes its own square to the score whatever the network does.

- `none` leaves the inputs as they are (the seed-004 baseline normalises them with an input
  BatchNormalization layer instead).
- `standard` subtracts the training mean and divides by the training standard deviation per
  input (inputs constant in training keep scale 1). Right for dense, always-filled inputs (the
  jet task's four variables); wrong for zero-padded object slots: a slot filled in 1 % of events
  has a tiny sigma, a filled value lies hundreds of sigma out, and the score counts such objects
  whatever the network (measured in docs/search.md).
- `bounded` divides each physical quantity (all pT inputs, all eta, all phi: `groups`) by one
  range, the power of two above 99.9 % of its non-zero training values, and saturates there:
  every input lies in [-1, 1], an absent object stays 0, and an extreme value (a 2 TeV jet) counts
  no more than a value at the range.
- `bounded_slot` does the same per input (each slot its own range, from its own non-zero values;
  slots filled too rarely to measure take their quantity's): a filled rare slot is O(1), like a
  common one.

The bounded kinds are exactly what the firmware computes: its input type saturates at the range
(a power of two, so the input units are chosen to end there) and the division is a constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

# The preprocessing schemes a config names (`preprocessing:`): raw, standardised, or bounded to [-1, 1].
Scheme = Literal["none", "standard", "bounded", "bounded_slot"]
BOUNDED = ("bounded", "bounded_slot")
COVERAGE = 0.999  # the range holds this fraction of the non-zero training values
MIN_VALUES = 100  # a slot with fewer non-zero training values takes its quantity's range


def _power_of_two_above(value: float) -> float:
    return float(2.0 ** np.ceil(np.log2(value))) if value > 0 else 1.0


def _nonzero(values: np.ndarray) -> np.ndarray:
    v = np.abs(values.ravel())
    return v[v != 0]


def bounded_ranges(x: np.ndarray, groups=None, per_slot: bool = False) -> np.ndarray:
    """Per input: the power of two above the 99.9 % quantile of its group's (or its own) non-zero |values|."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, np.shape(x)[-1])
    labels = np.asarray(list(groups) if groups is not None else range(x.shape[1]), dtype=object)
    if len(labels) != x.shape[1]:
        raise ValueError(f"{len(labels)} input groups for {x.shape[1]} inputs")
    ranges = np.ones(x.shape[1])
    for label in dict.fromkeys(labels.tolist()):
        members = np.flatnonzero(labels == label)
        values = _nonzero(x[:, members])
        group_range = _power_of_two_above(float(np.quantile(values, COVERAGE))) if values.size else 1.0
        for i in members:
            own = _nonzero(x[:, i])
            ranges[i] = (_power_of_two_above(float(np.quantile(own, COVERAGE)))
                         if per_slot and own.size >= MIN_VALUES else group_range)
    return ranges


@dataclass(frozen=True)
class Preprocessor:
    kind: Scheme
    offset: np.ndarray
    scale: np.ndarray
    range: np.ndarray | None = None  # per input: values saturate at +-range (physical units) before scaling

    @classmethod
    def fit(cls, kind: Scheme, x: np.ndarray, groups=None) -> "Preprocessor":
        """Fit on training inputs; `groups` names each input's physical quantity (for `bounded`)."""
        x = np.asarray(x, dtype=np.float64)
        axes = tuple(range(x.ndim - 1))
        n = x.shape[-1]
        if kind == "none":
            return cls(kind, np.zeros(n), np.ones(n))
        if kind == "standard":
            std = x.std(axis=axes)
            return cls(kind, x.mean(axis=axes), np.where(std > 1e-12, std, 1.0))
        if kind in BOUNDED:
            ranges = bounded_ranges(x, groups, per_slot=kind == "bounded_slot")
            return cls(kind, np.zeros(n), ranges, ranges)
        raise ValueError(f"unknown preprocessing {kind!r}; known: none, standard, {', '.join(BOUNDED)}")

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return np.asarray(x, dtype=np.float32)
        x = np.asarray(x, dtype=np.float64)
        if self.range is not None:
            x = np.clip(x, -self.range, self.range)
        return ((x - self.offset) / self.scale).astype(np.float32)

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}
        if self.range is not None:
            out["range"] = self.range.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessor":
        ranges = data.get("range")
        return cls(data["kind"], np.asarray(data["offset"], dtype=np.float64),
                   np.asarray(data["scale"], dtype=np.float64),
                   None if ranges is None else np.asarray(ranges, dtype=np.float64))
