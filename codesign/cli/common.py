"""What every command shares: the output-flag help, default run directories, presets, repeated option forms."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from codesign.errors import ConfigError

TARGET_HELP = "FPGA target: a shipped part name (`codesign targets`) or a YAML file (default xcvu13p)"
FORCE_HELP = "replace an earlier output of this same command in --out (never a directory holding anything else)"


def signal_arg(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. Ato4l=Ato4l_lepFilter_13TeV.h5), got {text!r}")
    return name, path


def default_run_dir(kind: str, seed: int | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / kind / (stamp if seed is None else f"{stamp}-seed{seed}")


def resolve_config(name: str) -> Path:
    """A YAML path as given, or the name of a preset shipped with codesign (`codesign.config.resolve`)."""
    from codesign.config import resolve

    return resolve(name)


def both(p, name: str, **kwargs):
    """An option under AutoDQM_ML's spelling (--input_file) and the usual one (--input-file); the output
    directory is also --out, as in every other command."""
    dashed = name.replace("_", "-")
    flags = [f"--{name}"] + ([f"--{dashed}"] if dashed != name else []) + (["--out"] if name == "output_dir" else [])
    p.add_argument(*flags, dest=name, **kwargs)


def csv_list(text: str | None, kind=str, flag: str = "") -> list | None:
    if text is None:
        return None
    try:
        return [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{flag}: expected a comma-separated list of {kind.__name__}, got {text!r}") from None
