"""An exclusive advisory lock on a file, for writers that share a directory (workers, drivers)."""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: str | Path):
    """Hold an exclusive lock on `path` (created if missing) for the duration of the block."""
    with Path(path).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
