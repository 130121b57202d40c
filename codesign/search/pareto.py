"""Pareto ranking as pure numpy functions."""

from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """a dominates b (all objectives as 'smaller is better'): no worse anywhere, better somewhere."""
    return bool(np.all(a <= b) and np.any(a < b))


def front_mask(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows of an (n, k) array of minimised objectives."""
    points = np.asarray(points, dtype=float)
    n = len(points)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        worse_or_equal = np.all(points[i] <= points, axis=1) & np.any(points[i] < points, axis=1)
        mask &= ~worse_or_equal
    return mask


def to_minimise(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Flip maximised objectives so every column is minimised."""
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(values, dtype=float) * sign
