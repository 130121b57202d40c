"""`--engine keras-tuner`: the same space and objective, single-objective, for AutoQKeras-style users.

Keras Tuner's Bayesian-optimisation (or random-search) oracle proposes candidates; each is
evaluated in process by the same `objective.evaluate` and scored as
    TPR at the FPR - sum of relative budget excesses,
so a candidate over budget scores below every feasible one (TPRs are at most 1). The
tuner's own state (under `keras_tuner/` in the run directory) makes the search resumable;
the trial records and results tables are the same as the Optuna engine's.
"""

from __future__ import annotations

from pathlib import Path

from codesign import tasks
from codesign.merit import EFFICIENCY
from codesign.search import candidate as cand
from codesign.search import objective, studydata
from codesign.search.records import feasibility
from codesign.search.rundir import RunDir
from codesign.search.space import Space
from codesign.search.trial import TrialRecord

ALGORITHMS = ("bayesian", "random")


def hyperparameters(space: Space, max_depth: int):
    """The space as keras_tuner HyperParameters (width_i declared up to the largest depth)."""
    import keras_tuner as kt

    hp = kt.HyperParameters()

    def declare(name, dim):
        if dim.choice is not None:
            hp.Choice(name, dim.choice)
        elif dim.int_range is not None:
            hp.Int(name, *dim.int_range, step=int(dim.step or 1), sampling="log" if dim.log else "linear")
        else:
            hp.Float(name, *dim.float_range, step=dim.step, sampling="log" if dim.log else "linear")

    for name, dim in space.dimensions.items():
        if name != "width":
            declare(name, dim)
    if "width" in space.dimensions:
        for i in range(1, max_depth + 1):
            declare(f"width_{i}", space.dimensions["width"])
    return hp


def params_of(space: Space, values: dict) -> dict:
    params = {k: v for k, v in values.items() if not k.startswith("width_")}
    if "width" in space.dimensions:
        params.update({f"width_{i}": values[f"width_{i}"] for i in range(1, int(params["depth"]) + 1)})
    return params


def score(record: TrialRecord, merit=None) -> float:
    """What keras-tuner maximises: the figure of merit (sign-adjusted) less the relative budget excess."""
    merit = merit or EFFICIENCY
    return merit.goodness(record) - sum(max(v, 0.0) for v in record.violations.values())


def run(space: Space, settings, run_dir: Path, algorithm: str = "bayesian") -> list[TrialRecord]:
    import keras_tuner as kt

    run_dir = Path(run_dir)
    rd = RunDir(run_dir)
    rd.start(settings, space)
    if not rd.has_data():
        studydata.write_data(run_dir, tasks.get(settings.task), cand.study_config(settings))
    max_depth = space.dimensions["depth"].values()[-1] if "depth" in space.dimensions else 0
    hp = hyperparameters(space, max_depth)
    cls = kt.oracles.BayesianOptimizationOracle if algorithm == "bayesian" else kt.oracles.RandomSearchOracle
    oracle = cls(objective=kt.Objective("score", "max"), max_trials=settings.n_trials, hyperparameters=hp,
                 seed=settings.seed, tune_new_entries=False)
    settings_dict = {**settings.model_dump(mode="json"), "fidelity": 0.0}
    records: dict[int, TrialRecord] = rd.read_trials()

    class _Tuner(kt.Tuner):
        def run_trial(self, trial, *args, **kwargs):
            params = params_of(space, trial.hyperparameters.values)
            number = len(records)
            record = TrialRecord.from_json(objective.evaluate(params, str(run_dir), settings_dict))
            record = feasibility(record.with_(number=number, run={**record.run, "engine": f"keras-tuner/{algorithm}",
                                                                  "tuner_trial": trial.trial_id}), settings)
            rd.save(record)
            records[number] = record
            if not record.complete:
                raise kt.errors.FailedTrialError(record.reason[:300])
            return {"score": score(record, settings.merit)}

    tuner = _Tuner(oracle=oracle, directory=str(run_dir), project_name="keras_tuner", overwrite=False)
    tuner.search()
    return [records[n] for n in sorted(records)]
