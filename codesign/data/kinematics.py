"""Vectorised relativistic kinematics for the event generators.

Four-vectors are float64 arrays of shape (..., 4) ordered (E, px, py, pz); every
function works on whole batches of events so that generating millions of events
is a handful of numpy calls.
"""

from __future__ import annotations

import numpy as np

TWO_PI = 2.0 * np.pi


def from_pt_eta_phi_m(pt, eta, phi, m):
    pt, eta, phi, m = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (pt, eta, phi, m)))
    px = pt * np.cos(phi)
    py = pt * np.sin(phi)
    pz = pt * np.sinh(eta)
    e = np.sqrt(px * px + py * py + pz * pz + m * m)
    return np.stack([e, px, py, pz], axis=-1)


def from_pt_eta_phi_m_where(present, pt, eta, phi, m):
    """`from_pt_eta_phi_m` of the `present` entries (the same values), zeros elsewhere: for objects most events
    lack (extra radiation), whose absent values nothing reads."""
    present = np.asarray(present, dtype=bool)
    out = np.zeros(present.shape + (4,))
    sel = (np.asarray(a)[present] if np.ndim(a) else a for a in (pt, eta, phi, m))
    out[present] = from_pt_eta_phi_m(*sel)
    return out


def from_pt_y_phi_m(pt, y, phi, m):
    """Build a massive four-vector from its rapidity (the natural variable for a produced resonance)."""
    pt, y, phi, m = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (pt, y, phi, m)))
    mt = np.sqrt(pt * pt + m * m)
    return np.stack([mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)], axis=-1)


def pt(p):
    return np.hypot(p[..., 1], p[..., 2])


def phi(p):
    return np.arctan2(p[..., 2], p[..., 1])


def eta(p):
    """Pseudorapidity; a zero-pT vector gets eta = 0 (as zero-padded detector objects do)."""
    transverse = pt(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.arcsinh(np.where(transverse > 0, p[..., 3] / np.where(transverse > 0, transverse, 1.0), 0.0))
    return out


def mass(p):
    m2 = p[..., 0] ** 2 - p[..., 1] ** 2 - p[..., 2] ** 2 - p[..., 3] ** 2
    return np.sqrt(np.clip(m2, 0.0, None))


def wrap_phi(angle):
    return (np.asarray(angle) + np.pi) % TWO_PI - np.pi


def boost(p, parent):
    """Boost `p`, given in the rest frame of `parent`, into the frame where `parent` has its momentum."""
    m = mass(parent)[..., None]
    beta = parent[..., 1:] / parent[..., :1]
    b2 = np.sum(beta * beta, axis=-1, keepdims=True)
    gamma = parent[..., :1] / np.where(m > 0, m, 1.0)
    bp = np.sum(beta * p[..., 1:], axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(b2 > 0, (gamma - 1.0) * bp / b2, 0.0)
    space = p[..., 1:] + factor * beta + gamma * beta * p[..., :1]
    energy = gamma * (p[..., :1] + bp)
    return np.concatenate([energy, space], axis=-1)


def isotropic_directions(rng: np.random.Generator, n: int):
    cos_t = rng.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t * cos_t)
    ph = rng.uniform(-np.pi, np.pi, n)
    return np.stack([sin_t * np.cos(ph), sin_t * np.sin(ph), cos_t], axis=-1)


def two_body_decay(rng: np.random.Generator, parent, m1, m2):
    """Isotropic two-body decay of `parent` (N, 4) into daughters of masses m1, m2 (scalars or (N,))."""
    n = parent.shape[0]
    big_m = mass(parent)
    m1 = np.broadcast_to(np.asarray(m1, dtype=np.float64), (n,))
    m2 = np.broadcast_to(np.asarray(m2, dtype=np.float64), (n,))
    # Kallen function; clipped so that an off-shell parent lighter than m1 + m2 decays at rest.
    lam = (big_m**2 - (m1 + m2) ** 2) * (big_m**2 - (m1 - m2) ** 2)
    q = np.sqrt(np.clip(lam, 0.0, None)) / (2.0 * np.where(big_m > 0, big_m, 1.0))
    direction = isotropic_directions(rng, n) * q[:, None]
    d1 = np.concatenate([np.sqrt(q**2 + m1**2)[:, None], direction], axis=-1)
    d2 = np.concatenate([np.sqrt(q**2 + m2**2)[:, None], -direction], axis=-1)
    return boost(d1, parent), boost(d2, parent)


def lomax(rng: np.random.Generator, scale: float, shape: float, size, minimum: float = 0.0):
    """Falling power-law spectrum P(x > t) = (1 + (t - minimum)/scale)^-shape, the shape of pT spectra."""
    u = rng.uniform(0.0, 1.0, size)
    return minimum + scale * (np.power(1.0 - u, -1.0 / shape) - 1.0)


def truncated_normal(rng: np.random.Generator, sigma: float, limit: float, size):
    x = rng.normal(0.0, sigma, size)
    bad = np.abs(x) > limit
    while np.any(bad):
        x[bad] = rng.normal(0.0, sigma, int(bad.sum()))
        bad = np.abs(x) > limit
    return x
