"""A study's settings: task, target, budget, objectives, parallelism; what Optuna is told of a record."""

from __future__ import annotations

from pydantic import Field

from codesign import tasks
from codesign.config import Frozen
from codesign.hardware.targets import Budget
from codesign.merit import PER_SIGNAL


class Settings(Frozen):
    task: str
    target: str
    budget: Budget = Budget()
    n_trials: int = Field(20, ge=1)
    jobs: int = Field(1, ge=1)
    scheduler: str | None = None
    storage: str | None = None
    seed: int = 0
    tpr: str = Field("geomean", description="how the per-signal TPRs make the objective: geomean | min | mean | "
                                             "a signal's name | per-signal (each its own objective)")
    signals: tuple[str, ...] = ()  # the task's signals, in order (the per-signal objectives)
    resource: str = "lut"
    latency: str = "constraint"
    csim_check: int = Field(1000, ge=0)
    fidelity: float = Field(0.25, ge=0.0, lt=1.0, description="first-pass fraction of epochs and data; 0 = off")
    prune_margin: float = Field(2.0, ge=1.0, description="front TPR this many times better ends a candidate")
    tf_threads: int = Field(1, ge=1)
    base_config: dict = Field(default_factory=dict, description="the task config the candidates override")

    @property
    def merit(self):
        """The task's figure of merit (signal efficiency, or residual RMS for compression)."""
        return tasks.get(self.task).merit

    @property
    def per_signal(self) -> bool:
        return self.tpr == PER_SIGNAL

    @property
    def directions(self) -> list[str]:
        merit = [self.merit.direction] * (len(self.signals) if self.per_signal else 1)
        d = merit + ["minimize"]
        return d + ["minimize"] if self.latency == "objective" else d

    def objective_values(self, record) -> list[float]:
        """What Optuna is told of a `TrialRecord`: the figure of merit (or every signal's TPR), the resource,
        [the latency]."""
        merit = ([float(self.merit.components(record)[s]["tpr"]) for s in self.signals] if self.per_signal
                 else [self.merit.value(record)])
        values = merit + [record.resource(self.resource)]
        if self.latency == "objective":
            values.append(record.resource("latency_ns"))
        return values

    def violations(self, record) -> dict[str, float]:
        """Budget constraint values, normalised: <= 0 is within the limit (Optuna's convention)."""
        est = record.estimate
        values = {"lut": est["lut"], "ff": est["ff"], "dsp": est["dsp"], "bram18": est["bram18"],
                  "latency_ns": est["latency_ns"], "ii": est["ii"]}
        return {k: (values[k] - limit) / max(limit, 1e-9) for k, limit in self.budget.limits().items()}
