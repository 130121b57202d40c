"""What produced a result: package versions, platform, command, seed — recorded next to every output."""

from __future__ import annotations

import datetime as _dt
import platform
import sys
from importlib import metadata

STACK = ("codesign", "tensorflow", "keras", "qkeras", "tensorflow-model-optimization", "hls4ml", "numpy", "h5py",
         "scikit-learn", "pandas", "optuna", "onnx", "qonnx", "pydantic")


def versions(packages=STACK) -> dict[str, str | None]:
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def record(seed: int | None = None, **extra) -> dict:
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions(),
        "seed": seed,
        **extra,
    }
