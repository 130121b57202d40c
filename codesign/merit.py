"""What a study optimises: a task's figure of merit, which way is better, and where trial records keep it.

Anomaly-detection tasks maximise the signal efficiency at a background false-positive rate
(record field `tpr`, per signal under `scores`); the jet-compression task minimises the
residual RMS of its reconstruction (record field `rms`, per variable under `residuals`).
The search, the report and the export read a record through its task's `Merit` (`Task.merit`),
so they never assume which one it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codesign.metrics import zero_upper_limit


@dataclass(frozen=True)
class Merit:
    key: str  # record field of the objective value; f"{key}_error" is its uncertainty
    direction: Literal["maximize", "minimize"]
    name: str  # short, for tables and logs: "TPR", "residual RMS"
    label: str  # axis label (the report appends its context, e.g. the FPR)
    per: str  # record field of the per-component dicts: per signal ("scores") or per variable ("residuals")

    @property
    def is_efficiency(self) -> bool:
        """A signal efficiency (components are signals, with AUCs, ROC curves and thresholds), or else a
        fidelity (components are reconstructed variables): the one question readers ask of a study's kind."""
        return self.per == "scores"

    @property
    def sign(self) -> float:
        """+1 when larger is better: `sign * value` is always to be maximised."""
        return 1.0 if self.direction == "maximize" else -1.0

    def value(self, record) -> float:
        """The figure of merit of a trial record (`search.trial.TrialRecord`)."""
        return float(record.scored[self.key])

    def error(self, record) -> float:
        return float(record.scored.get(f"{self.key}_error", 0.0))

    def goodness(self, record) -> float:
        return self.sign * self.value(record)

    def component(self, entry: dict) -> tuple[float, float, float]:
        """(value, error down, error up) of one signal's / variable's entry, from its 68 % interval."""
        v = float(entry[self.key])
        lo, hi = entry.get(f"{self.key}_interval", (v, v))
        return v, max(v - float(lo), 0.0), max(float(hi) - v, 0.0)

    def components(self, record) -> dict[str, dict]:
        """Per signal (efficiency) or per variable (fidelity): each component's entry of the record."""
        return record.scored.get(self.per) or {}


EFFICIENCY = Merit("tpr", "maximize", "TPR", "signal efficiency", "scores")
RESIDUAL_RMS = Merit("rms", "minimize", "residual RMS", "residual RMS", "residuals")

# How an anomaly search turns the per-signal efficiencies into its objective (`--objective`).
PER_SIGNAL = "per-signal"  # every signal's TPR its own Optuna objective (the record's `tpr` is their geomean)
COMBINATIONS = ("geomean", "min", "mean")
DEFAULT_COMBINATION = "geomean"


def combine(scores: dict, how: str) -> tuple[float, float]:
    """(objective, its error) from per-signal `metrics.SignalScores`, combined `how`.

    - `geomean` (the default): the geometric mean, each zero efficiency taken at its 68 % upper limit
      (~1.15 / n_signal): a candidate that gives up a signal loses as much as that signal's whole range,
      so the objective cannot be won by trading a signal away for another's gain.
    - `min`: the worst signal's efficiency (its error).
    - `mean`: the arithmetic mean (the old "average": dominated by the easiest signal).
    - a signal's name: that signal alone.
    The error is propagated from the bootstrap half-intervals.
    """
    import numpy as np


    values = list(scores.values())
    if how in ("mean", "average"):
        return (float(np.mean([s.tpr for s in values])),
                float(np.sqrt(np.sum([s.tpr_error ** 2 for s in values])) / len(values)))
    if how == "min":
        worst = min(values, key=lambda s: s.tpr)
        return worst.tpr, worst.tpr_error
    if how in ("geomean", PER_SIGNAL):
        tprs = np.array([s.tpr if s.tpr > 0 else zero_upper_limit(s.n_signal) for s in values])
        errors = np.array([s.tpr_error if s.tpr > 0 else t for s, t in zip(values, tprs)])
        g = float(np.exp(np.mean(np.log(tprs))))
        return g, float(g * np.sqrt(np.sum((errors / tprs) ** 2)) / len(values))
    if how in scores:
        return scores[how].tpr, scores[how].tpr_error
    raise ValueError(f"unknown objective {how!r}; expected {', '.join(COMBINATIONS)}, {PER_SIGNAL} or a signal "
                     f"({', '.join(scores)})")

