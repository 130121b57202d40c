"""Event arrays on disk, named by what produced them, written once in chunks and read as memory maps.

A study scores every candidate on millions of background events (FPR 1e-5 needs them). They are
produced once — generated, or read from a user's files — and every candidate, every worker and
every resumed run reads the same file: `<sha256 of the producing spec>.npy`, with the spec beside
it as JSON. Writing streams chunk by chunk into a staged file that is renamed into place when
complete, so memory stays bounded, an interrupted write leaves nothing that looks finished, and
a concurrent writer of the same array waits for the first (a lock) instead of writing it twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from codesign.errors import DataError
from codesign.locks import exclusive

log = logging.getLogger("codesign")


def key(spec: dict) -> str:
    """Content address of an array: a hash of everything that determines its values."""
    text = json.dumps(spec, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def file_digest(path: str | Path, block: int = 1 << 24) -> str:
    """sha256 of a file's bytes (a user's input is named by its content, not by its path)."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            h.update(chunk)
    return h.hexdigest()


class EventStore:
    """A directory of content-addressed float32 arrays."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, spec: dict) -> Path:
        return self.root / f"{key(spec)}.npy"

    def has(self, spec: dict) -> bool:
        return self.path(spec).is_file()

    def open(self, spec: dict) -> np.ndarray:
        return np.load(self.path(spec), mmap_mode="r")

    def get(self, spec: dict, shape: tuple[int, int], chunks: Callable[[], Iterable[np.ndarray]]) -> np.ndarray:
        """The array `spec` names, written from `chunks()` (arrays of rows, in order) if not yet on disk."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.path(spec)
        with exclusive(final.with_suffix(".lock")):
            if not final.is_file():
                self._write(spec, final, shape, chunks)
        array = np.load(final, mmap_mode="r")
        if array.shape != tuple(shape):
            raise DataError(f"{final}: holds an array of shape {array.shape}, expected {tuple(shape)} for "
                            f"{spec.get('role', 'these events')}; remove the file to have it produced again")
        return array

    def _write(self, spec: dict, final: Path, shape: tuple[int, int], chunks) -> None:
        staged = final.with_suffix(".partial.npy")
        out = np.lib.format.open_memmap(staged, mode="w+", dtype=np.float32, shape=tuple(shape))
        start = 0
        try:
            for chunk in chunks():
                chunk = np.asarray(chunk, dtype=np.float32).reshape(len(chunk), *shape[1:])
                if start + len(chunk) > shape[0]:
                    raise DataError(f"{spec.get('role', 'events')}: the source gave more than the {shape[0]} rows "
                                    "expected")
                out[start:start + len(chunk)] = chunk
                start += len(chunk)
            if start != shape[0]:
                raise DataError(f"{spec.get('role', 'events')}: the source gave {start} rows, expected {shape[0]}")
            out.flush()
            del out
            final.with_suffix(".json").write_text(json.dumps(spec, indent=1, sort_keys=True, default=str) + "\n")
            staged.replace(final)
            log.info("wrote %s (%d x %s)", final.name, shape[0], shape[1:])
        finally:
            staged.unlink(missing_ok=True)


def in_chunks(x: np.ndarray, size: int = 1 << 18):
    """Row blocks of `x` (a memory map stays on disk until a block is touched)."""
    for start in range(0, len(x), size):
        yield x[start:start + size]
