"""Input preprocessing fitted on training data only and saved with the model.

`none` leaves the inputs as they are (the seed-004 baseline normalises with an input
BatchNormalization layer instead); `standard` subtracts the training mean and divides
by the training standard deviation per feature (features constant in training, such as
MET eta, keep scale 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Kind = Literal["none", "standard"]


@dataclass(frozen=True)
class Preprocessor:
    kind: Kind
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, kind: Kind, x: np.ndarray) -> "Preprocessor":
        x = np.asarray(x, dtype=np.float64)
        axes = tuple(range(x.ndim - 1))
        if kind == "none":
            return cls(kind, np.zeros(x.shape[-1]), np.ones(x.shape[-1]))
        if kind == "standard":
            std = x.std(axis=axes)
            return cls(kind, x.mean(axis=axes), np.where(std > 1e-12, std, 1.0))
        raise ValueError(f"unknown preprocessing {kind!r}")

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return np.asarray(x, dtype=np.float32)
        return ((np.asarray(x, dtype=np.float64) - self.offset) / self.scale).astype(np.float32)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessor":
        return cls(data["kind"], np.asarray(data["offset"], dtype=np.float64), np.asarray(data["scale"], dtype=np.float64))
