"""The study driver: Optuna ask-and-tell in the driver, stateless evaluations on Dask workers.

The driver alone talks to the Optuna storage (an SQLite file in the run directory by
default, or `--storage URL`), so the embedded default stays consistent however the
candidates are spread: `-j N` starts a local Dask cluster of N worker processes,
`--scheduler tcp://host:8786` uses an existing cluster; the code path is the same.

Everything finished is on disk: one JSON record per trial under `trials/` beside the
study database. Running the same command again resumes: trials a killed driver left
RUNNING are closed as failed ('interrupted') and their parameters queued again; a
candidate already evaluated (same model, training and firmware) reuses its record.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from pathlib import Path

from codesign import tasks
from codesign.errors import CodesignError, ConfigError
from codesign.hardware.targets import Budget
from codesign.runtime import quiet_libraries
from codesign.search import candidate as cand
from codesign.search import objective, references, studydata
from codesign.search.records import feasibility, front
from codesign.search.rundir import RunDir
from codesign.search.settings import Settings
from codesign.search.space import ReferenceDesign, Space
from codesign.search.trial import Status, TrialRecord

log = logging.getLogger("codesign")


@contextlib.contextmanager
def executor(jobs: int, scheduler: str | None):
    """A Dask client: an existing cluster, or a local one of `jobs` single-threaded worker processes."""
    from distributed import Client, LocalCluster

    quiet_libraries()
    if scheduler:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as exc:
            raise CodesignError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=0) as cluster, Client(cluster) as client:
        yield client


# ---------------------------------------------------------------- the loop


def run(space: Space, settings: Settings, run_dir: Path, progress: bool = True,
        enqueue: list[dict] | None = None) -> list[TrialRecord]:
    """Run (or resume) a study until `n_trials` trials have finished; returns every trial's record.

    `enqueue`: parameter sets evaluated first (after the space's baseline), e.g. to re-run known candidates.
    """
    import optuna
    from distributed import as_completed

    run_dir = Path(run_dir)
    rd = RunDir(run_dir)
    rd.start(settings, space)
    if not rd.has_data():
        log.info("preparing the study's data in %s", rd.data)
        studydata.write_data(run_dir, tasks.get(settings.task), cand.study_config(settings))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # TPE's `group`
    storage = settings.storage or f"sqlite:///{rd.database.resolve()}"
    sampler = optuna.samplers.TPESampler(seed=settings.seed, multivariate=True, group=True, constant_liar=True,
                                         n_startup_trials=min(10, max(2, settings.n_trials // 3)))
    try:
        study = optuna.create_study(study_name=run_dir.resolve().name, storage=storage, load_if_exists=True,
                                    directions=settings.directions, sampler=sampler)
    except Exception as exc:  # unreachable database, bad URL
        raise CodesignError(f"--storage {storage}: {type(exc).__name__}: {exc}") from None

    records = rd.read_trials()
    by_key = {r.key: r for r in records.values() if r.key and r.status is not Status.FAILED}
    _recover(study, records)
    if not study.trials:
        if space.baseline:
            study.enqueue_trial(space.baseline, user_attrs={"baseline": True})
        for params in enqueue or []:
            study.enqueue_trial(params)
    settings_dict = settings.model_dump(mode="json")

    def finished() -> int:  # trials with a result on disk (an interrupted one has none)
        return len(records)

    bar = _progress(settings.n_trials, finished(), progress)
    with executor(settings.jobs, settings.scheduler) as client:
        pending: dict = {}
        futures = as_completed()
        # reference designs first (each once per study: a resumed run keeps their records), then the trials
        for ref in space.references:
            if not rd.reference_path(ref.label).is_file():
                future = client.submit(references.evaluate_reference, ref.model_dump(mode="json"), str(run_dir),
                                       settings_dict, pure=False, key=f"reference-{time.time_ns()}")
                pending[future] = ref
                futures.add(future)
        while True:
            while len(pending) < settings.jobs and finished() + len(pending) < settings.n_trials:
                trial = study.ask()
                params = space.suggest(trial)
                try:
                    key = cand.of_study(params, settings).key
                except cand.InvalidCandidate:
                    key = None
                if key in by_key:  # the same candidate again: reuse its record
                    reused = by_key[key].with_(number=trial.number, params=params, reused_from=by_key[key].number)
                    _tell(study, trial, reused, settings, run_dir, records, by_key)
                    bar.update(1)
                    continue
                current = [[settings.merit.value(r), r.resource(settings.resource)] for r in front(
                    list(records.values()), settings)]
                future = client.submit(objective.evaluate, params, str(run_dir), settings_dict, current, pure=False,
                                       key=f"trial-{trial.number}-{time.time_ns()}")
                pending[future] = trial
                futures.add(future)
            if not pending:
                break
            future = next(futures)
            trial = pending.pop(future)
            if isinstance(trial, ReferenceDesign):
                try:
                    record = TrialRecord.from_json(future.result())
                except Exception as exc:  # the worker died
                    record = TrialRecord(Status.FAILED, trial.params, reference=trial.label,
                                         reason=f"worker lost: {exc}")
                rd.save(record)
                log.info("reference %s: %s", trial.label, record.status)
                continue
            try:
                record = TrialRecord.from_json(future.result())
            except Exception as exc:  # the worker died (out of memory, killed)
                record = TrialRecord(Status.FAILED, trial.params, reason=f"worker lost: {exc}")
            _tell(study, trial, record.with_(number=trial.number), settings, run_dir, records, by_key)
            bar.update(1)
            bar.set_postfix_str(_best_text(records, settings))
    bar.close()
    return [records[n] for n in sorted(records)]


def _recover(study, records: dict[int, TrialRecord]) -> None:
    """Close trials a killed driver left RUNNING and queue their parameters again; tell finished records."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        if t.state == TrialState.WAITING:
            continue
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
        log.info("trial %d was interrupted: closed, and its parameters queued again", t.number)


def _tell(study, trial, record: TrialRecord, settings: Settings, run_dir: Path, records: dict[int, TrialRecord],
          by_key: dict[str, TrialRecord]) -> None:
    from optuna.trial import TrialState

    record = feasibility(record, settings)
    for k, v in record.violations.items():
        trial.set_constraint(k, v)
    RunDir(run_dir).save(record)  # on disk before the study knows: a kill in between re-evaluates, loses nothing
    records[record.number] = record
    trial.set_user_attr("key", record.key)
    if record.complete:
        if record.key:
            by_key.setdefault(record.key, record)
        study.tell(trial, settings.objective_values(record))
    else:
        trial.set_user_attr("reason", record.reason[:500])
        study.tell(trial, state=TrialState.PRUNED if record.status is Status.PRUNED else TrialState.FAIL)


class _NoBar:
    def update(self, n):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass


def _progress(total: int, done: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="trials", unit="trial", dynamic_ncols=True)


def _best_text(records: dict[int, TrialRecord], settings: Settings) -> str:
    ok = [r for r in records.values() if r.complete and r.feasible]
    if not ok:
        return "no feasible candidate yet"
    merit = settings.merit
    best = max(ok, key=lambda r: (merit.goodness(r), -r.resource(settings.resource)))
    return (f"best feasible {merit.name} {merit.value(best):.2e} at {best.resource(settings.resource):.0f} "
            f"{settings.resource}")


def budget_fraction(text: str, resources: dict[str, int]) -> str:
    """'lut=5%' -> 'lut=<5 % of the part>'; other items unchanged."""
    items = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if sep and value.strip().endswith("%"):
            name = Budget.ALIASES.get(key.strip().lower(), key.strip().lower())
            if name not in resources:
                raise ConfigError(f"--budget: a percentage needs a resource of the part (lut, ff, dsp, bram18), "
                                  f"got {key.strip()!r}")
            try:
                frac = float(value.strip()[:-1]) / 100.0
            except ValueError:
                raise ConfigError(f"--budget: {key.strip()} must be a number or a percentage, got "
                                  f"{value.strip()!r}") from None
            if not 0.0 < frac <= 1.0:
                raise ConfigError(f"--budget: {key.strip()}={value.strip()}: a percentage of the part must be "
                                  "above 0% and at most 100%")
            value = str(math.floor(frac * resources[name]))
        items.append(f"{key.strip()}={value.strip()}")
    return ",".join(items)
