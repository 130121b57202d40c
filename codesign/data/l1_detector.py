"""The L1-like detector response of the synthetic events, and the >= 1 lepton filter of the real files.

Acceptance, thresholds, efficiencies, pT-dependent resolutions, calorimeter jets that contain
electrons, MET from the measured deposits with an unclustered response and pile-up noise; the
filter keeps events with an e or mu of pT > 23 GeV. Every random number is drawn for every
candidate event in a fixed order; the expensive parts are computed only where they are read
(the events the filter keeps, the objects present).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.data import kinematics as kin
from codesign.data.adc2021 import EGAMMA_CLASS, JET_CLASS, MET_CLASS, MUON_CLASS, N_FEATURES, N_OBJECTS, SLOTS
from codesign.data.l1_physics import Truth


@dataclass(frozen=True)
class Detector:
    """An L1-like detector: acceptances, thresholds and resolutions (sigma/pT terms)."""

    egamma_pt_min: float = 3.0
    egamma_eta_max: float = 3.0
    muon_pt_min: float = 3.0
    muon_eta_max: float = 2.1
    jet_pt_min: float = 15.0
    jet_eta_max: float = 4.0
    calo_eta_max: float = 5.0
    lepton_filter_pt: float = 23.0
    egamma_efficiency: float = 0.92
    muon_efficiency: float = 0.95
    egamma_resolution: tuple[float, float] = (0.15, 0.03)  # stochastic/sqrt(pT), constant
    muon_resolution: tuple[float, float] = (0.03, 2e-4)  # constant, per-GeV (curvature) term
    jet_resolution: tuple[float, float, float] = (1.0, 0.08, 3.0)  # stochastic, constant, noise/pT
    lepton_angle_resolution: float = 0.005
    jet_angle_resolution: float = 0.04
    unclustered_response: float = 0.6
    met_noise: tuple[float, float] = (2.0, 0.5)  # GeV constant, stochastic*sqrt(sum ET) per component
    pileup_jets_mean: float = 0.7


DEFAULT_DETECTOR = Detector()


def _top_rows(out, first, pt, eta, phi, keep, count, class_id):
    """Write the pT-ordered first `count` kept objects into out[:, first:first+count], zero-padded."""
    rows = out[:, first:first + count]
    if pt.shape[1] == 0:
        rows[...] = 0.0
        return
    key = np.where(keep, pt, -1.0)
    if key.shape[1] < count:  # fewer candidates than slots: pad with never-kept ones
        key = np.pad(key, ((0, 0), (0, count - key.shape[1])), constant_values=-1.0)
    order = np.argsort(-key, axis=1, kind="stable")[:, :count]
    kept = np.take_along_axis(key, order, axis=1) >= 0.0
    column = np.minimum(order, pt.shape[1] - 1)  # a padding column is never kept: any real column stands in
    for j, v in enumerate((pt, eta, phi)):
        rows[..., j] = np.where(kept, np.take_along_axis(v, column, axis=1), 0.0)
    rows[..., 3] = np.where(kept, float(class_id), 0.0)


def _present(parts, rows=None):
    """The present objects of a list of (p (n, 4), present (n,)), of all events or of `rows`:
    (event, slot, p (m, 4)), events counted within `rows`, slot-major."""
    events = [np.flatnonzero(m if rows is None else m[rows]) for _, m in parts]
    slots = np.repeat(np.arange(len(parts)), [len(e) for e in events])
    if not parts:
        return np.zeros(0, np.int64), slots, np.zeros((0, 4))
    return np.concatenate(events), slots, np.concatenate([p[e if rows is None else rows[e]]
                                                          for (p, _), e in zip(parts, events)])


def _dense(shape, ev, slot, values, dtype=np.float64):
    out = np.zeros(shape, dtype)
    out[ev, slot] = values
    return out


@dataclass
class _Measured:
    """Measured objects of one kind, present ones only: event, slot, pt, eta, phi, kept (accepted)."""

    n_slots: int
    event: np.ndarray
    slot: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    kept: np.ndarray

    def fire(self, threshold: float) -> np.ndarray:
        """Events with a kept object above `threshold`."""
        return self.event[self.kept & (self.pt > threshold)]

    def dense(self, row_of: np.ndarray, n_rows: int):
        """(pt, eta, phi, kept) as (n_rows, n_slots) arrays of the events `row_of` maps to a row (-1: dropped)."""
        rows = row_of[self.event]
        sel = rows >= 0
        at = (rows[sel], self.slot[sel])
        shape = (n_rows, self.n_slots)
        return (*(_dense(shape, *at, v[sel]) for v in (self.pt, self.eta, self.phi)),
                _dense(shape, *at, self.kept[sel], bool))


def _leptons(rng, parts, n, resolution, efficiency, pt_min, eta_max, angle_sigma) -> _Measured:
    """Measured e/gamma or muons; `resolution(pt)` is sigma/pT.

    The random numbers are drawn for every (event, slot); the kinematics is computed only for the
    objects present (most slots of most events are empty), whose values are all that is ever read.
    """
    k = len(parts)
    ev, slot, p = _present(parts)
    pt_true = kin.pt(p)
    z_pt = rng.standard_normal((n, k))[ev, slot]
    z_eta = rng.normal(0.0, angle_sigma, (n, k))[ev, slot]
    z_phi = rng.normal(0.0, angle_sigma, (n, k))[ev, slot]
    u = rng.uniform(0.0, 1.0, (n, k))[ev, slot]
    pt = np.clip(pt_true * (1.0 + resolution(pt_true) * z_pt), 0.0, None)
    eta = kin.eta(p) + z_eta
    phi = kin.wrap_phi(kin.phi(p) + z_phi)
    ok = (pt > pt_min) & (np.abs(eta) < eta_max) & (u < efficiency)
    return _Measured(k, ev, slot, pt, eta, phi, ok)


def reconstruct(rng, truth: Truth, det: Detector = DEFAULT_DETECTOR):
    """Detector response of the events that pass the lepton filter: (particles (n_pass, 19, 4) float32, mask).

    Every random number is drawn for every event, in a fixed order, so an event's reconstruction does not
    depend on which others pass; the jets, MET and output rows, most of the work, are then built only for
    the events the filter keeps (e or mu with pT > 23 GeV; typically 5-55 % of the candidates).
    """
    n = truth.n
    # Pile-up jets, balanced by soft unclustered energy of the same interactions.
    n_pu = np.minimum(rng.poisson(det.pileup_jets_mean, n), 3)
    pileup = [(kin.lomax(rng, 5.0, 3.0, n, minimum=10.0), rng.uniform(-4.9, 4.9, n), rng.uniform(-np.pi, np.pi, n))
              for _ in range(3)]
    n_jets = len(truth.jets) + len(pileup)
    jet_noise = (rng.standard_normal((n, n_jets)), rng.normal(0.0, det.jet_angle_resolution, (n, n_jets)),
                 rng.normal(0.0, det.jet_angle_resolution, (n, n_jets)))

    sa, sc = det.egamma_resolution
    egamma = _leptons(rng, truth.egamma, n, lambda pt: np.sqrt(sa**2 / np.maximum(pt, 1e-3) + sc**2),
                      det.egamma_efficiency, det.egamma_pt_min, det.egamma_eta_max, det.lepton_angle_resolution)
    mc, mb = det.muon_resolution
    muons = _leptons(rng, truth.muons, n, lambda pt: np.sqrt(mc**2 + (mb * pt) ** 2),
                     det.muon_efficiency, det.muon_pt_min, det.muon_eta_max, det.lepton_angle_resolution)
    met_noise = rng.standard_normal((n, 2))
    passed = np.zeros(n, bool)
    passed[egamma.fire(det.lepton_filter_pt)] = True
    passed[muons.fire(det.lepton_filter_pt)] = True
    rows = np.flatnonzero(passed)
    k = len(rows)
    row_of = np.full(n, -1)
    row_of[rows] = np.arange(k)

    # Jets (calorimeter deposits) of the passing events, pile-up included; kinematics of the present ones only.
    unclustered_true = truth.unclustered[rows].copy()
    pu_jets = []
    for i, (pu_pt, pu_eta, pu_phi) in enumerate(pileup):
        p = kin.from_pt_eta_phi_m(pu_pt[rows], pu_eta[rows], pu_phi[rows], 0.0)
        present = n_pu[rows] > i
        pu_jets.append((p, present))
        unclustered_true -= np.where(present[:, None], p[:, 1:3], 0.0)
    ev, slot, jp = _present(truth.jets, rows)
    pu_ev, pu_slot, pu_p = _present(pu_jets)
    ev, slot, jp = np.concatenate([ev, pu_ev]), np.concatenate([slot, pu_slot + len(truth.jets)]), \
        np.concatenate([jp, pu_p])
    shape = (k, n_jets)
    z_pt, z_eta, z_phi = (z[rows[ev], slot] for z in jet_noise)
    jpt_true = kin.pt(jp)
    a, c, noise = det.jet_resolution
    rel = np.sqrt(a**2 / np.maximum(jpt_true, 1e-3) + c**2 + (noise / np.maximum(jpt_true, 1e-3)) ** 2)
    jpt = np.clip(jpt_true * (1.0 + rel * z_pt), 0.0, None)
    jeta_true = kin.eta(jp)
    jeta, jphi = jeta_true + z_eta, kin.wrap_phi(kin.phi(jp) + z_phi)
    jet_ok = (jpt > det.jet_pt_min) & (np.abs(jeta) < det.jet_eta_max)
    in_calo = ~jet_ok & (np.abs(jeta_true) < det.calo_eta_max)
    # Sums over the (event, slot) grid with zeros where nothing counts: the same additions in the same order.
    visible = np.zeros((k, n_jets, 2))
    visible[ev, slot] = np.where(jet_ok[:, None], jpt[:, None] * np.stack([np.cos(jphi), np.sin(jphi)], axis=-1), 0.0)
    measured = np.sum(visible, axis=1)
    lost = np.zeros((k, n_jets, 2))
    lost[ev, slot] = np.where(in_calo[:, None], jp[:, 1:3], 0.0)
    unclustered = unclustered_true + np.sum(lost, axis=1)
    measured += det.unclustered_response * unclustered
    sum_et = np.sum(_dense(shape, ev, slot, jpt_true), axis=1) + np.hypot(*unclustered_true.T)
    jpt, jeta, jphi = (_dense(shape, ev, slot, v) for v in (jpt, jeta, jphi))
    jet_ok = _dense(shape, ev, slot, jet_ok, bool)

    # Muons are measured by the tracker/muon system, invisible to the calorimeter.
    mpt, meta, mphi, m_ok = muons.dense(row_of, k)
    measured += np.sum(np.where(m_ok[..., None], mpt[..., None] * np.stack([np.cos(mphi), np.sin(mphi)], -1), 0.0),
                       axis=1)

    # MET: everything not measured, plus pile-up/electronics noise.
    sigma = np.sqrt(det.met_noise[0] ** 2 + det.met_noise[1] ** 2 * sum_et)
    met_xy = -measured + sigma[:, None] * met_noise[rows]
    particles = np.empty((k, N_OBJECTS, N_FEATURES), np.float32)
    particles[:, 0, 0] = np.hypot(met_xy[:, 0], met_xy[:, 1])
    particles[:, 0, 1] = 0.0
    particles[:, 0, 2] = np.arctan2(met_xy[:, 1], met_xy[:, 0])
    particles[:, 0, 3] = MET_CLASS
    for (first, count), (pt, eta, phi, ok), class_id in (
            (SLOTS["egamma"][1:], egamma.dense(row_of, k), EGAMMA_CLASS),
            (SLOTS["muon"][1:], (mpt, meta, mphi, m_ok), MUON_CLASS),
            (SLOTS["jet"][1:], (jpt, jeta, jphi, jet_ok), JET_CLASS)):
        _top_rows(particles, first, pt, eta, phi, ok, count, class_id)
    return particles, passed
