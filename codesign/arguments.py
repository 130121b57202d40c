"""Command-line values checked where they enter: argparse types and a parser whose errors are one line.

argparse names the flag ("argument --trials: ..."); each type says what was wrong and what is expected.
Impossible values (zero or negative counts, non-finite numbers, fractions outside [0, 1]) never reach a
command.
"""

from __future__ import annotations

import argparse
import math

SEED_MAX = 2**32 - 1  # numpy seeds and Optuna samplers take 32-bit seeds everywhere a seed goes


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit 2), like codesign's own errors."""

    def error(self, message: str):
        command = self.prog.removeprefix("codesign").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"codesign: error: {where}{message} (see {self.prog} --help)\n")


def _number(text: str, kind):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def count(text: str) -> int:
    """An integer >= 1 (events, trials, runs, epochs, resamplings)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def natural(text: str) -> int:
    """An integer >= 0."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def seed(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected a seed between 0 and {SEED_MAX}, got {text!r}")
    return value


def positive(text: str) -> float:
    """A finite number > 0 (clock periods, learning rates)."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A finite number in [0, 1]."""
    value = _number(text, float)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def open_fraction(text: str) -> float:
    """A finite number strictly between 0 and 1 (rates, percentiles as fractions)."""
    value = _number(text, float)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text!r}")
    return value


def percentile(text: str) -> float:
    value = _number(text, float)
    if not 0.0 < value < 100.0:
        raise argparse.ArgumentTypeError(f"expected a percentile strictly between 0 and 100, got {text!r}")
    return value
