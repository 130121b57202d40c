"""The ADC2021 event layout and its h5 files.

The real challenge files hold a dataset ``Particles`` of shape (N, 19, 4): per event
19 objects (MET, 4 e/gamma, 4 muons, 10 jets, in that row order), each (pT, eta, phi,
class id), pT-ordered within a type and zero-padded. The 57 model inputs are those rows
flattened with the class column dropped. Reading and writing go through here so that
synthetic files and real ones are interchangeable.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import DataError

N_OBJECTS = 19
N_FEATURES = 4  # pT, eta, phi, class
N_INPUTS = N_OBJECTS * (N_FEATURES - 1)  # 57

MET_CLASS, EGAMMA_CLASS, MUON_CLASS, JET_CLASS = 1, 2, 3, 4
# (class id, first row, number of rows) in the files' order.
SLOTS = {
    "met": (MET_CLASS, 0, 1),
    "egamma": (EGAMMA_CLASS, 1, 4),
    "muon": (MUON_CLASS, 5, 4),
    "jet": (JET_CLASS, 9, 10),
}
PARTICLE_NAMES = ["Pt", "Eta", "Phi", "Class"]
# The challenge's signals as physicists write them: (plain text, matplotlib mathtext).
SIGNAL_LABELS = {
    "Ato4l": ("A→4ℓ", r"$A\rightarrow 4\ell$"),
    "leptoquark": ("LQ→bτ", r"$LQ\rightarrow b\tau$"),
    "hToTauTau": ("h⁰→ττ", r"$h^{0}\rightarrow \tau\tau$"),
    "hChToTauNu": ("h±→τν", r"$h^{\pm}\rightarrow \tau\nu$"),
}
PARTICLE_CLASSES = ["MET_class_1", "Four_Ele_class_2", "Four_Mu_class_3", "Ten_Jet_class_4"]


def input_names() -> list[str]:
    """Names of the 57 flattened inputs, in model order (e.g. 'egamma1_pt')."""
    names = []
    for kind, (_, _, count) in SLOTS.items():
        for i in range(count):
            label = kind if kind == "met" else f"{kind}{i + 1}"
            names += [f"{label}_pt", f"{label}_eta", f"{label}_phi"]
    return names


def input_quantities() -> list[str]:
    """The physical quantity of each of the 57 inputs ('pt', 'eta' or 'phi'): inputs of one share a format."""
    return [name.rsplit("_", 1)[1] for name in input_names()]


def flatten(particles: np.ndarray) -> np.ndarray:
    """(N, 19, 4) particles -> (N, 57) model inputs (class column dropped)."""
    return np.ascontiguousarray(particles[:, :, :3].reshape(len(particles), N_INPUTS), dtype=np.float32)


@dataclass(frozen=True)
class EventFile:
    """Contents of one ADC2021-layout h5 file."""

    particles: np.ndarray  # (N, 19, 4) float32
    process: np.ndarray | None = None  # per-event generator process id (synthetic files only)
    process_names: tuple[str, ...] = ()


def write_events(path: str | Path, particles: np.ndarray, process: np.ndarray | None = None,
                 process_names: tuple[str, ...] = (), attrs: dict | None = None) -> None:
    """Write events in the real ADC2021 layout (plus optional truth process labels)."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("Particles", data=particles.astype(np.float32), chunks=True, compression="lzf")
        f.create_dataset("Particles_Names", data=np.array(PARTICLE_NAMES, dtype="S"))
        f.create_dataset("Particles_Classes", data=np.array(PARTICLE_CLASSES, dtype="S"))
        if process is not None:
            f.create_dataset("Process", data=process.astype(np.int8), chunks=True, compression="lzf")
            f.attrs["process_names"] = np.array(process_names, dtype="S")
        for key, value in (attrs or {}).items():
            f.attrs[key] = value


@contextlib.contextmanager
def _particles(path: str | Path):
    """The file's validated 'Particles' dataset (h5py), and its 'Process' labels if any; one-line DataErrors."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected an ADC2021-layout h5 file with a 'Particles' dataset)")
    try:
        with h5py.File(path, "r") as f:
            if "Particles" not in f:
                raise DataError(f"{path}: no 'Particles' dataset (found: {', '.join(sorted(f.keys())) or 'nothing'}); "
                                "expected shape (N, 19, 4)")
            ds = f["Particles"]
            if ds.ndim != 3 or ds.shape[1:] != (N_OBJECTS, N_FEATURES):
                raise DataError(f"{path}: 'Particles' has shape {ds.shape}, expected (N, {N_OBJECTS}, {N_FEATURES})")
            if ds.dtype.kind not in "fiu":
                raise DataError(f"{path}: 'Particles' holds {ds.dtype} values, expected real numbers (float)")
            yield ds, f.get("Process"), f.attrs
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: cannot be read as h5 ({exc.__class__.__name__}: "
                        f"{str(exc).splitlines()[0]})") from None


def read_events(path: str | Path, max_events: int | None = None) -> EventFile:
    """Read and validate an ADC2021-layout file; any problem is a one-line DataError naming the file."""
    with _particles(path) as (ds, process_ds, attrs):
        stop = ds.shape[0] if max_events is None else min(max_events, ds.shape[0])
        particles = np.asarray(ds[:stop], dtype=np.float32)
        process = np.asarray(process_ds[:stop]) if process_ds is not None else None
        names = tuple(n.decode() for n in attrs.get("process_names", []))
    validate_particles(particles, str(path))
    return EventFile(particles, process, names)


def count_events(path: str | Path) -> int:
    """Number of events in an ADC2021-layout file (its layout checked, nothing read)."""
    with _particles(path) as (ds, _, _):
        return int(ds.shape[0])


def read_chunks(path: str | Path, chunk_size: int = 250_000):
    """(first event, particles) blocks of a file in order, each validated: memory bounded by the chunk."""
    with _particles(path) as (ds, _, _):
        for start in range(0, ds.shape[0], chunk_size):
            particles = np.asarray(ds[start:start + chunk_size], dtype=np.float32)
            validate_particles(particles, str(path), first=start)
            yield start, particles


def validate_particles(particles: np.ndarray, source: str, first: int = 0) -> None:
    """One-line DataError for an empty block, a non-finite value or a negative pT (events counted from `first`)."""
    if len(particles) == 0:
        raise DataError(f"{source}: 'Particles' holds no events")
    finite = np.isfinite(particles)
    if not finite.all():
        event, obj, feat = np.argwhere(~finite)[0]
        raise DataError(f"{source}: non-finite value (NaN/inf) in event {first + event}, object {obj}, feature "
                        f"{PARTICLE_NAMES[feat]}; expected finite pT, eta, phi")
    if (particles[:, :, 0] < 0).any():
        event = int(np.argwhere(particles[:, :, 0] < 0)[0][0])
        raise DataError(f"{source}: negative pT in event {first + event}; expected pT >= 0")
