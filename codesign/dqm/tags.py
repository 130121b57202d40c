"""Algorithm tags, shared by the two DQM stacks (`dqm train`/`assess` per run, `dqm lumisections` per LS).

A tag names a trained model: its directory `<output_dir>/models/<tag>/` and the columns of its
scores, so it is restricted to characters safe in both.
"""

from __future__ import annotations

import re
from pathlib import Path

from codesign.errors import DataError

MODELS_DIR = "models"
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RULE = "a tag names files and columns: letters, digits, '_', '.', '-' only, not starting with '.'"


def check(value: str) -> str:
    """The tag itself; ValueError (for a pydantic validator) if it is not safe as a file and column name."""
    if not TAG.match(value):
        raise ValueError(RULE)
    return value


def model_dir(output_dir, tag: str) -> Path:
    return Path(output_dir) / MODELS_DIR / tag


def select(known: list[str], wanted, unknown_what: str, holder: str) -> list[str]:
    """The `wanted` tags (all `known` ones if none), in the order given; DataError naming the known ones."""
    if not wanted:
        return known
    wanted = list(dict.fromkeys(str(t) for t in wanted))
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise DataError(f"unknown {unknown_what} {', '.join(map(repr, unknown))}; {holder} has: {', '.join(known)}")
    return wanted
