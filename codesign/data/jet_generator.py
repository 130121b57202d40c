"""Jet four-vectors for the jet-compression task (seed 002: compress (pT, eta, phi, m) of trigger jets 4 -> 3).

The seed's ATLAS jet files (pandas pickles) are not reachable here, and pickles are never
loaded, so this generates what they hold: jets of a QCD multijet sample as a trigger sees them.
pT follows a steeply falling spectrum (~ pT^-4.5 above a 20 GeV threshold, with a turn-on),
eta is wider for soft jets and spans the calorimeter acceptance |eta| < 4.5, phi is uniform,
and the mass grows with pT (m/pT log-normal around 0.09, wider for soft jets), so the four
variables are correlated as in data. E follows from them. Files: parquet or HDF5 tables
with columns pt [GeV], eta, phi, m [GeV] (E optional), read with one-line errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.errors import DataError

VARIABLES = ("pt", "eta", "phi", "m")
PT_MIN = 20.0  # GeV, the trigger threshold the sample starts at
ETA_MAX = 4.5


def generate(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`n` jets: {'pt', 'eta', 'phi', 'm', 'E'} as float64 arrays (GeV)."""
    if n < 1:
        raise DataError(f"number of jets must be positive, got {n}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2002]))
    # Falling spectrum above the threshold (Pareto, index 3.5 -> dN/dpT ~ pT^-4.5), softened below
    # ~30 GeV by the trigger turn-on: jets are kept with an efficiency rising from 0.5 at threshold.
    pt = np.empty(0)
    while len(pt) < n:
        cand = PT_MIN * (1.0 + rng.pareto(3.5, 2 * n))
        keep = rng.uniform(size=cand.size) < 0.5 + 0.5 * np.tanh((cand - PT_MIN) / 8.0)
        pt = np.concatenate([pt, cand[keep & (cand < 3000.0)]])
    pt = pt[:n]
    # Soft jets spread over the whole acceptance, hard ones are more central.
    width = 1.2 + 1.6 * np.exp(-(pt - PT_MIN) / 60.0)
    eta = rng.normal(0.0, width)
    out = np.abs(eta) > ETA_MAX
    while out.any():
        eta[out] = rng.normal(0.0, width[out])
        out = np.abs(eta) > ETA_MAX
    phi = rng.uniform(-np.pi, np.pi, n)
    m_over_pt = np.exp(rng.normal(np.log(0.09), 0.35 + 0.25 * np.exp(-(pt - PT_MIN) / 40.0)))
    m = np.clip(m_over_pt, 0.005, 0.5) * pt
    energy = np.sqrt(m**2 + (pt * np.cosh(eta)) ** 2)
    return {"pt": pt, "eta": eta, "phi": phi, "m": m, "E": energy}


def check(jets: dict[str, np.ndarray], source: str = "jets") -> dict[str, np.ndarray]:
    """The four variables as float64 arrays, or a one-line DataError naming what is wrong."""
    missing = [v for v in VARIABLES if v not in jets]
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}; expected {', '.join(VARIABLES)}")
    for v in VARIABLES:
        kind = np.asarray(jets[v]).dtype
        if kind.kind not in "fiu":  # complex would lose its imaginary part silently, strings fail later
            raise DataError(f"{source}: column {v!r} holds {kind} values; expected real numbers")
    out = {v: np.asarray(jets[v], dtype=np.float64).reshape(-1) for v in VARIABLES}
    lengths = {len(a) for a in out.values()}
    if len(lengths) > 1:
        raise DataError(f"{source}: columns have different lengths {sorted(lengths)}")
    for v, a in out.items():
        bad = ~np.isfinite(a)
        if bad.any():
            raise DataError(f"{source}: {int(bad.sum())} non-finite value(s) in column {v!r}, first at row "
                            f"{int(np.flatnonzero(bad)[0])}")
    if (out["pt"] <= 0).any() or (out["m"] < 0).any():
        raise DataError(f"{source}: pt must be > 0 and m >= 0 (GeV); found pt min {out['pt'].min():g}, "
                        f"m min {out['m'].min():g}")
    if (np.abs(out["phi"]) > np.pi + 1e-6).any():
        raise DataError(f"{source}: phi must lie in [-pi, pi]; found {np.abs(out['phi']).max():g}")
    return out


def write(path: str | Path, jets: dict[str, np.ndarray]) -> Path:
    """A parquet (.parquet) or HDF5 (.h5) table of the jets; never a pickle."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {k: np.asarray(v, dtype=np.float64) for k, v in jets.items()}
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), path)
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "w") as f:
            for k, v in columns.items():
                f.create_dataset(k, data=v, compression="lzf")
    else:
        raise DataError(f"{path}: unknown jet file type {path.suffix!r}; expected .parquet or .h5")
    return path


def read(path: str | Path) -> dict[str, np.ndarray]:
    """Jets from a parquet or HDF5 table (columns pt, eta, phi, m), checked; one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such jet file")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            jets = {name: table.column(name).to_numpy() for name in table.column_names}
        elif path.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                jets = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
        else:
            raise DataError(f"{path}: unknown jet file type {path.suffix!r}; expected .parquet or .h5 "
                            "(pickles are not read: they can execute code)")
    except DataError:
        raise
    except Exception as exc:  # corrupt or foreign files
        raise DataError(f"{path}: cannot read jets ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    return check(jets, str(path))
