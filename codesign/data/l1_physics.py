"""Generator-level physics of the synthetic ADC2021-like processes: what each event's truth objects are.

Each process is built at parton level with real kinematics (Breit-Wigner resonances, isotropic
decays boosted to the lab, falling pT spectra, initial-state radiation that balances the hard system,
tau and heavy-flavour decays with their neutrinos). Every function draws its random numbers for
every candidate event of a block, in a fixed order: a block's events are a function of its seed.
The detector response is codesign.data.l1_detector; sampling and mixtures codesign.data.l1_generator.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from codesign.data import kinematics as kin

M_W, G_W = 80.38, 2.09
M_Z, G_Z = 91.19, 2.50
M_TOP, M_B, M_TAU = 172.5, 4.8, 1.777


class Truth:
    """Generator-level objects of a batch: calorimeter deposits (jets), e/gamma, muons, invisibles.

    Electrons and photons are views of calorimeter energy: each is also added as a jet
    deposit, so MET (built from jets, muons and unclustered energy) counts it once.
    """

    def __init__(self, n: int):
        self.n = n
        self.jets: list[tuple[np.ndarray, np.ndarray]] = []
        self.egamma: list[tuple[np.ndarray, np.ndarray]] = []
        self.muons: list[tuple[np.ndarray, np.ndarray]] = []
        self.invisible = np.zeros((n, 2))
        self.unclustered = np.zeros((n, 2))

    def _mask(self, present):
        return np.ones(self.n, dtype=bool) if present is None else present

    def jet(self, p, present=None):
        self.jets.append((p, self._mask(present)))

    def electron(self, p, present=None, in_jet=False):
        """An electron/photon; `in_jet` when its energy is already inside a jet deposit."""
        present = self._mask(present)
        self.egamma.append((p, present))
        if not in_jet:
            self.jets.append((p, present))

    def muon(self, p, present=None):
        self.muons.append((p, self._mask(present)))

    def neutrino(self, p, present=None):
        self.invisible += np.where(self._mask(present)[:, None], p[:, 1:3], 0.0)

    def merge(self, other: "Truth", where: np.ndarray) -> None:
        """Take `other`'s objects for the events selected by `where` (to mix production modes)."""
        for mine, theirs in ((self.jets, other.jets), (self.egamma, other.egamma), (self.muons, other.muons)):
            mine.extend((p, m & where) for p, m in theirs)
        self.invisible += np.where(where[:, None], other.invisible, 0.0)
        self.unclustered += np.where(where[:, None], other.unclustered, 0.0)


# ---------------------------------------------------------------- building blocks


def breit_wigner(rng, mass, width, n, low=None):
    m = mass + 0.5 * width * np.tan(np.pi * rng.uniform(-0.5, 0.5, n))
    low = 0.5 * mass if low is None else low
    return np.clip(m, low, 2.0 * mass)


def isr(rng, truth: Truth, mean: float, scale: float, shape: float, max_jets: int = 4):
    """Initial-state radiation and soft recoil; returns the transverse momentum the hard system must carry."""
    n = truth.n
    count = np.minimum(rng.poisson(mean, n), max_jets)
    total = rng.normal(0.0, 5.0, (n, 2))  # soft unclustered recoil
    truth.unclustered += total
    for k in range(max_jets):
        present = count > k
        p = kin.from_pt_eta_phi_m_where(present, kin.lomax(rng, scale, shape, n, minimum=8.0),
                                        kin.truncated_normal(rng, 2.2, 4.9, n), rng.uniform(-np.pi, np.pi, n), 0.0)
        truth.jet(p, present)
        total = total + np.where(present[:, None], p[:, 1:3], 0.0)
    return -total


def resonance(rng, pt_xy, m, y_sigma):
    n = len(pt_xy)
    return kin.from_pt_y_phi_m(np.hypot(pt_xy[:, 0], pt_xy[:, 1]), kin.truncated_normal(rng, y_sigma, 4.5, n),
                               np.arctan2(pt_xy[:, 1], pt_xy[:, 0]), m)


def michel_fraction(rng, n):
    """Momentum fraction of the charged lepton in a leptonic tau decay (unpolarised Michel spectrum)."""
    out = np.empty(n)
    todo = np.arange(n)
    while len(todo):
        x = rng.uniform(0.0, 1.0, len(todo))
        keep = rng.uniform(0.0, 5.0 / 3.0, len(todo)) < 5.0 / 3.0 - 3.0 * x**2 + 4.0 / 3.0 * x**3
        out[todo[keep]] = x[keep]
        todo = todo[~keep]
    return out


def tau_decay(rng, truth: Truth, tau, present=None):
    """Collinear tau decay: 17.8 % e, 17.4 % mu (with the Michel spectrum), the rest hadronic jets."""
    n = truth.n
    present = truth._mask(present)
    u = rng.uniform(0.0, 1.0, n)
    to_e, to_mu = u < 0.178, (u >= 0.178) & (u < 0.352)
    hadronic = ~(to_e | to_mu)
    x = np.where(hadronic, rng.uniform(0.25, 1.0, n), michel_fraction(rng, n))
    visible, invisible = tau * x[:, None], tau * (1.0 - x[:, None])
    truth.electron(visible, present & to_e)
    truth.muon(visible, present & to_mu)
    truth.jet(visible, present & hadronic)
    # pi0 photons of hadronic taus often fire an L1 e/gamma candidate.
    photon = present & hadronic & (rng.uniform(0.0, 1.0, n) < 0.35)
    truth.electron(visible * rng.beta(4.0, 3.0, n)[:, None], photon, in_jet=True)
    truth.neutrino(invisible, present)


def lepton_decay(rng, truth: Truth, lepton, flavour, present=None):
    """A charged lepton by flavour code 0 = e, 1 = mu, 2 = tau."""
    present = truth._mask(present)
    truth.electron(lepton, present & (flavour == 0))
    truth.muon(lepton, present & (flavour == 1))
    tau_decay(rng, truth, lepton, present & (flavour == 2))


def quark_jet(rng, truth: Truth, p, flavour, present=None, lepton_source=None):
    """A quark jet; b (5) and c (4) decay semileptonically, light jets (0) may fake an e/gamma.

    `lepton_source` forces the jet to carry its lepton-producing decay or fake, so that
    filtered QCD can be generated without discarding 99 % of the events.
    """
    n = truth.n
    present = truth._mask(present)
    u = rng.uniform(0.0, 1.0, n)
    semilep_br = np.where(flavour == 5, 0.21, np.where(flavour == 4, 0.19, 0.0))
    fake_prob = np.where(flavour == 0, 0.03, 0.0)
    if lepton_source is not None:
        u = np.where(lepton_source, u * (semilep_br + fake_prob), u)
    semilep = u < semilep_br
    fake = (~semilep) & (u < semilep_br + fake_prob)
    is_mu = rng.uniform(0.0, 1.0, n) < 0.5
    z = np.where(flavour == 5, rng.beta(2.0, 3.5, n), rng.beta(1.6, 4.0, n))
    w = 0.6 * z * rng.uniform(0.3, 1.0, n)
    lep = p * z[:, None]
    truth.muon(lep, present & semilep & is_mu)
    truth.electron(lep, present & semilep & ~is_mu, in_jet=True)
    truth.invisible += np.where((present & semilep)[:, None], p[:, 1:3] * w[:, None], 0.0)  # the neutrino
    # what stays in the calorimeter: p (1 - z - w) with a muon, p (1 - w) with an electron, p otherwise (p * 1.0 = p)
    calo = p * np.where(semilep & is_mu, 1.0 - z - w, np.where(semilep, 1.0 - w, 1.0))[:, None]
    truth.jet(calo, present)
    truth.electron(p * rng.beta(6.0, 2.0, n)[:, None], present & fake, in_jet=True)


def flavour_code(rng, n):
    """Lepton flavour with equal branching ratios into e, mu and tau."""
    return rng.integers(0, 3, n)


def top_decay(rng, truth: Truth, top, charged_higgs=None):
    """t -> b W (or b H+ where `charged_higgs` is set); W -> l nu (3 x 10.8 %) or q q'."""
    n = truth.n
    boson_mass = breit_wigner(rng, M_W, G_W, n, low=60.0)
    if charged_higgs is not None:
        boson_mass = np.where(charged_higgs, 60.0, boson_mass)
    b, boson = kin.two_body_decay(rng, top, M_B, boson_mass)
    quark_jet(rng, truth, b, np.full(n, 5))
    leptonic = rng.uniform(0.0, 1.0, n) < 0.324
    if charged_higgs is not None:
        leptonic = leptonic & ~charged_higgs
    lep, nu = kin.two_body_decay(rng, boson, 0.0, 0.0)
    lepton_decay(rng, truth, lep, flavour_code(rng, n), leptonic)
    truth.neutrino(nu, leptonic)
    q1, q2 = kin.two_body_decay(rng, boson, 0.0, 0.0)
    hadronic = ~leptonic if charged_higgs is None else ~leptonic & ~charged_higgs
    light = np.where(rng.uniform(0.0, 1.0, n) < 0.5, 4, 0)
    quark_jet(rng, truth, q1, light, hadronic)
    quark_jet(rng, truth, q2, np.zeros(n, int), hadronic)
    if charged_higgs is not None:
        tau, nu_h = kin.two_body_decay(rng, boson, M_TAU, 0.0)
        tau_decay(rng, truth, tau, charged_higgs)
        truth.neutrino(nu_h, charged_higgs)


def top_pair(rng, truth: Truth, charged_higgs=False):
    n = truth.n
    recoil = isr(rng, truth, mean=1.6, scale=30.0, shape=2.5)
    m_tt = 2.0 * M_TOP + 10.0 + kin.lomax(rng, 90.0, 3.0, n)
    t1, t2 = kin.two_body_decay(rng, resonance(rng, recoil, m_tt, 1.2), M_TOP, M_TOP)
    top_decay(rng, truth, t1, np.ones(n, bool) if charged_higgs else None)
    top_decay(rng, truth, t2)


# ---------------------------------------------------------------- processes


def w_lnu(rng, truth: Truth):
    n = truth.n
    recoil = isr(rng, truth, mean=0.9, scale=15.0, shape=2.8)
    w = resonance(rng, recoil, breit_wigner(rng, M_W, G_W, n), 2.0)
    lep, nu = kin.two_body_decay(rng, w, 0.0, 0.0)
    lepton_decay(rng, truth, lep, flavour_code(rng, n))
    truth.neutrino(nu)


def z_ll(rng, truth: Truth):
    n = truth.n
    recoil = isr(rng, truth, mean=0.9, scale=15.0, shape=2.8)
    z = resonance(rng, recoil, breit_wigner(rng, M_Z, G_Z, n), 2.0)
    l1, l2 = kin.two_body_decay(rng, z, 0.0, 0.0)
    flavour = flavour_code(rng, n)
    lepton_decay(rng, truth, l1, flavour)
    lepton_decay(rng, truth, l2, flavour)


def ttbar(rng, truth: Truth):
    top_pair(rng, truth)


def qcd(rng, truth: Truth):
    """Multijet events; one jet carries the heavy-flavour lepton or fake that fires the filter."""
    n = truth.n
    soft = rng.normal(0.0, 5.0, (n, 2))
    truth.unclustered += soft
    pt_hat = kin.lomax(rng, 25.0, 3.6, n, minimum=30.0)
    j1 = kin.from_pt_eta_phi_m(pt_hat, kin.truncated_normal(rng, 1.8, 4.7, n), rng.uniform(-np.pi, np.pi, n), 0.0)
    total = j1[:, 1:3] + soft
    extra = []
    n_rad = np.minimum(rng.poisson(1.3, n), 4)
    for k in range(4):
        present = n_rad > k
        p = kin.from_pt_eta_phi_m_where(present, pt_hat * rng.beta(1.2, 3.5, n),
                                        kin.truncated_normal(rng, 2.2, 4.9, n), rng.uniform(-np.pi, np.pi, n), 0.0)
        extra.append((p, present))
        total = total + np.where(present[:, None], p[:, 1:3], 0.0)
    j2 = kin.from_pt_eta_phi_m(np.hypot(total[:, 0], total[:, 1]), kin.truncated_normal(rng, 1.8, 4.7, n),
                               np.arctan2(-total[:, 1], -total[:, 0]), 0.0)
    jets = [(j1, np.ones(n, bool)), (j2, np.ones(n, bool)), *extra]
    flavours = [rng.choice([0, 4, 5], n, p=[0.86, 0.09, 0.05]) for _ in jets]
    # The lepton source is one of the two leading partons, with rates proportional to b, c and fake production.
    source_is_j1 = rng.uniform(0.0, 1.0, n) < 0.5
    source_kind = rng.choice([0, 4, 5], n, p=[0.45, 0.30, 0.25])
    for i, (p, present) in enumerate(jets):
        source = (source_is_j1 if i == 0 else ~source_is_j1) if i < 2 else np.zeros(n, bool)
        flavour = np.where(source, source_kind, flavours[i])
        quark_jet(rng, truth, p, flavour, present, lepton_source=source)


def a_to_4l(rng, truth: Truth):
    """A (50 GeV) -> Z* Z* -> 4 leptons (e or mu), gluon-fusion-like production."""
    n = truth.n
    recoil = isr(rng, truth, mean=1.2, scale=20.0, shape=2.5)
    a = resonance(rng, recoil, np.full(n, 50.0), 1.5)
    m1 = 50.0 * np.sqrt(rng.uniform(0.02, 0.8, n))  # the heavier pair tends towards the kinematic limit
    m2 = (50.0 - m1) * rng.uniform(0.15, 0.95, n)
    z1, z2 = kin.two_body_decay(rng, a, m1, m2)
    for z in (z1, z2):
        flavour = rng.integers(0, 2, n)
        l1, l2 = kin.two_body_decay(rng, z, 0.0, 0.0)
        lepton_decay(rng, truth, l1, flavour)
        lepton_decay(rng, truth, l2, flavour)


def leptoquark(rng, truth: Truth):
    """LQ (80 GeV) -> b tau."""
    n = truth.n
    recoil = isr(rng, truth, mean=1.1, scale=20.0, shape=2.5)
    lq = resonance(rng, recoil, np.full(n, 80.0), 1.8)
    b, tau = kin.two_body_decay(rng, lq, M_B, M_TAU)
    quark_jet(rng, truth, b, np.full(n, 5))
    tau_decay(rng, truth, tau)


def h_to_tautau(rng, truth: Truth):
    """Neutral scalar h0 (60 GeV) -> tau tau."""
    n = truth.n
    recoil = isr(rng, truth, mean=1.1, scale=20.0, shape=2.5)
    h = resonance(rng, recoil, np.full(n, 60.0), 1.8)
    t1, t2 = kin.two_body_decay(rng, h, M_TAU, M_TAU)
    tau_decay(rng, truth, t1)
    tau_decay(rng, truth, t2)


def hch_to_taunu(rng, truth: Truth):
    """Charged scalar h+ (60 GeV) -> tau nu; half from top decays (t -> h+ b), half singly produced (c s -> h+)."""
    n = truth.n
    from_top = rng.uniform(0.0, 1.0, n) < 0.5
    top = Truth(n)
    top_pair(rng, top, charged_higgs=True)
    single = Truth(n)
    recoil = isr(rng, single, mean=1.1, scale=20.0, shape=2.5)
    h = resonance(rng, recoil, np.full(n, 60.0), 2.0)
    tau, nu = kin.two_body_decay(rng, h, M_TAU, 0.0)
    tau_decay(rng, single, tau)
    single.neutrino(nu)
    truth.merge(top, from_top)
    truth.merge(single, ~from_top)


PROCESSES: dict[str, Callable[[np.random.Generator, Truth], None]] = {
    "W_lnu": w_lnu, "Z_ll": z_ll, "ttbar": ttbar, "QCD": qcd,
    "Ato4l": a_to_4l, "leptoquark": leptoquark, "hToTauTau": h_to_tautau, "hChToTauNu": hch_to_taunu,
}
