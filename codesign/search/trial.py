"""`TrialRecord`: one finished trial (or reference design) as the search wrote it and every reader reads it.

The search's objective returns plain JSON (it crosses process and machine boundaries, and is
what `trials/NNNNN.json` holds); `TrialRecord.from_json` is the one place that reads it back, and
`to_json` writes it. The fields every record has are typed; what a task's scoring adds (per-signal
scores and ROC curves, or per-variable residuals and histograms) is in `scored`, read through the
study's `Merit` (`merit.value(record)`, `merit.components(record)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

from codesign.evaluation import BitExactCheck


class Status(str, Enum):
    """How a trial ended. A str, so records compare and serialise as the words they always were."""

    COMPLETE = "complete"  # trained, built, checked bit-exact, scored and estimated
    PRUNED = "pruned"  # ended on purpose: a cheap first pass, or not a model (its threshold is the inputs alone's)
    FAILED = "failed"  # its own failure (NaN loss, an invalid parameter combination, a compile error, a lost worker)

    def __str__(self) -> str:
        return self.value


# Fields of the record JSON that are neither typed fields nor the task's scoring.
_RUN = ("sparsity", "ebops", "epochs_run", "engine", "tuner_trial", "traceback", "config", "inputs")


@dataclass(frozen=True)
class TrialRecord:
    status: Status
    params: dict[str, Any]
    number: int | None = None  # None for a reference design
    reference: str | None = None  # a reference design's label
    reason: str = ""  # why it was pruned or failed
    key: str | None = None  # same model, training and firmware -> same key (`Candidate.key`)
    feasible: bool = False  # within the study's budget
    violations: dict[str, float] = field(default_factory=dict)  # per limit, normalised: <= 0 is within
    reused_from: int | None = None  # the earlier trial whose result this duplicate candidate reuses
    estimate: dict[str, Any] | None = None  # `Estimate.summary()`: lut, ff, dsp, bram18, latency, ii, method, ...
    bit_exact: BitExactCheck | None = None  # C-simulation vs emulator, in the search
    layers: list[dict] = field(default_factory=list)  # per layer: kind, precisions, sparsity, estimate
    firmware: str | None = None  # the firmware directory, relative to the run directory
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    scored: dict[str, Any] = field(default_factory=dict)  # the task's figures: the merit's key, its components, ...
    run: dict[str, Any] = field(default_factory=dict)  # sparsity, epochs_run, engine, config, traceback, ...

    @property
    def complete(self) -> bool:
        return self.status is Status.COMPLETE

    @property
    def label(self) -> str:
        """'12' for a trial, the label for a reference design."""
        return self.reference if self.reference is not None else str(self.number)

    def resource(self, name: str) -> float:
        """An estimated resource or latency ('lut', 'dsp', 'latency_ns', ...) as a float."""
        return float(self.estimate[name])

    def get(self, name: str, default=None):
        """A field the task's scoring wrote (e.g. 'auc', 'curves', 'tail'), or `default`."""
        if name in _TYPED or name in _RUN:  # a typed field read as a scored one would silently be `default`
            raise AttributeError(f"{name!r} is a typed field of TrialRecord (record.{name} or record.run), not a "
                                 "figure of its scoring")
        return self.scored.get(name, default)

    def with_(self, **changes) -> TrialRecord:
        """A copy with typed fields changed (numbering, feasibility, reuse)."""
        return replace(self, **changes)

    # ------------------------------------------------------------ JSON
    @classmethod
    def from_json(cls, data: dict) -> TrialRecord:
        """A record as written by `to_json` (or by the objective); KeyError/ValueError on a foreign file."""
        d = dict(data)
        values = {k: d.pop(k) for k in list(d) if k in _TYPED - {"scored", "run", "status", "params", "bit_exact"}}
        bit_exact = d.pop("bit_exact", None)
        status = Status(d.pop("status"))
        params = d.pop("params")
        if not isinstance(params, dict):
            raise TypeError("params is not a mapping")
        run = {k: d.pop(k) for k in _RUN if k in d}
        return cls(status=status, params=params, bit_exact=BitExactCheck.from_dict(bit_exact) if bit_exact else None,
                   scored=d, run=run, **values)

    def to_json(self) -> dict:
        """The record as JSON: identification and outcome first, then the task's figures, then the firmware."""
        out: dict[str, Any] = {}
        if self.reference is not None:
            out["reference"] = self.reference
        out.update({"params": self.params, "status": self.status.value, "reason": self.reason,
                    "seconds": self.seconds})
        if self.key is not None:
            out["key"] = self.key
        out.update(self.scored)
        for name in ("estimate", "bit_exact", "layers", "firmware"):
            value = getattr(self, name)
            if value:
                out[name] = value.to_dict() if isinstance(value, BitExactCheck) else value
        out.update(self.run)
        if self.number is not None:
            out["number"] = self.number
        if self.reused_from is not None:
            out["reused_from"] = self.reused_from
        if self.number is not None:  # a trial is judged against the budget; a reference design is not
            out["feasible"] = self.feasible
        if self.violations:
            out["violations"] = self.violations
        return out


_TYPED = frozenset(f.name for f in fields(TrialRecord))
