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
import json
import logging
import math
import time
import warnings
from pathlib import Path

from codesign import provenance
from codesign.errors import CodesignError, ConfigError
from codesign.hardware.targets import Budget
from codesign.search.records import front, read_trials, reference_path, save_record
from codesign.search.settings import Settings
from codesign.search.space import Space

log = logging.getLogger("codesign")
SETTINGS_FILE = "search.json"


# ---------------------------------------------------------------- run directory


def _check_settings(run_dir: Path, settings: Settings, space: Space) -> None:
    """A resumed study must be the same study: same space, task, target, budget and base config."""
    path = run_dir / SETTINGS_FILE
    current = {"space": space.model_dump(mode="json", by_alias=True),
               "settings": settings.model_dump(mode="json", exclude={"n_trials", "jobs", "scheduler", "tf_threads"})}
    if path.is_file():
        saved = json.loads(path.read_text())
        # reference designs are scored beside the study, not part of it: a resumed study may add some
        saved, current = ({**d, "space": {k: v for k, v in d.get("space", {}).items() if k != "references"}}
                          for d in (saved, current))
        for key in ("space", "settings"):
            if saved.get(key) != current[key]:
                changed = sorted(k for k in set(saved.get(key, {})) | set(current[key])
                                 if saved.get(key, {}).get(k) != current[key].get(k))
                raise ConfigError(f"{run_dir}: holds a study with different {key} ({', '.join(changed)}); "
                                  "use another --out to start a new study")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**current, "provenance": provenance.record(seed=settings.seed)}, indent=1,
                               default=str))


@contextlib.contextmanager
def executor(jobs: int, scheduler: str | None):
    """A Dask client: an existing cluster, or a local one of `jobs` single-threaded worker processes."""
    from distributed import Client, LocalCluster

    from codesign.runtime import quiet_libraries

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
        enqueue: list[dict] | None = None) -> list[dict]:
    """Run (or resume) a study until `n_trials` trials have finished; returns every trial's record.

    `enqueue`: parameter sets evaluated first (after the space's baseline), e.g. to re-run known candidates.
    """
    import optuna
    from distributed import as_completed

    from codesign import config as cfg
    from codesign import tasks
    from codesign.search import candidate as cand
    from codesign.search import objective, references, studydata

    run_dir = Path(run_dir)
    _check_settings(run_dir, settings, space)
    task = tasks.get(settings.task)
    base = cfg.parse(task.Config, settings.base_config, "search base config")
    if not (run_dir / studydata.DATA_DIR / "manifest.json").is_file():
        log.info("preparing the study's data in %s", run_dir / studydata.DATA_DIR)
        studydata.write_data(run_dir, task, base)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # TPE's `group`
    storage = settings.storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
    sampler = optuna.samplers.TPESampler(seed=settings.seed, multivariate=True, group=True, constant_liar=True,
                                         n_startup_trials=min(10, max(2, settings.n_trials // 3)))
    try:
        study = optuna.create_study(study_name=run_dir.resolve().name, storage=storage, load_if_exists=True,
                                    directions=settings.directions, sampler=sampler)
    except Exception as exc:  # unreachable database, bad URL
        raise CodesignError(f"--storage {storage}: {type(exc).__name__}: {exc}") from None

    records = read_trials(run_dir)
    by_key = {r["key"]: r for r in records.values() if r.get("key") and r["status"] != "failed"}
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
            if not reference_path(run_dir, ref.label).is_file():
                future = client.submit(references.evaluate_reference, ref.model_dump(mode="json"), str(run_dir),
                                       settings_dict, pure=False, key=f"reference-{time.time_ns()}")
                pending[future] = ref
                futures.add(future)
        while True:
            while len(pending) < settings.jobs and finished() + len(pending) < settings.n_trials:
                trial = study.ask()
                params = space.suggest(trial)
                try:
                    key = cand.make(params, base, task.Config).key
                except cand.InvalidCandidate:
                    key = None
                if key in by_key:  # the same candidate again: reuse its record
                    _tell(study, trial, {**by_key[key], "number": trial.number, "params": params,
                                         "reused_from": by_key[key]["number"]}, settings, run_dir, records, by_key)
                    bar.update(1)
                    continue
                current = [[settings.merit.value(r), float(r["estimate"][settings.resource])] for r in front(
                    list(records.values()), settings)]
                future = client.submit(objective.evaluate, params, str(run_dir), settings_dict, current, pure=False,
                                       key=f"trial-{trial.number}-{time.time_ns()}")
                pending[future] = trial
                futures.add(future)
            if not pending:
                break
            future = next(futures)
            trial = pending.pop(future)
            if not hasattr(trial, "number"):  # a reference design
                try:
                    record = future.result()
                except Exception as exc:  # the worker died
                    record = {"reference": trial.label, "params": trial.params, "status": "failed",
                              "reason": f"worker lost: {exc}", "seconds": {}}
                save_record(run_dir, record)
                log.info("reference %s: %s", trial.label, record["status"])
                continue
            try:
                record = future.result()
            except Exception as exc:  # the worker died (out of memory, killed)
                record = {"params": trial.params, "status": "failed", "reason": f"worker lost: {exc}",
                          "seconds": {}}
            _tell(study, trial, {**record, "number": trial.number}, settings, run_dir, records, by_key)
            bar.update(1)
            bar.set_postfix_str(_best_text(records, settings))
    bar.close()
    return [records[n] for n in sorted(records)]


def _recover(study, records: dict[int, dict]) -> None:
    """Close trials a killed driver left RUNNING and queue their parameters again; tell finished records."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        if t.state == TrialState.WAITING:
            continue
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
        log.info("trial %d was interrupted: closed, and its parameters queued again", t.number)


def _tell(study, trial, record: dict, settings: Settings, run_dir: Path, records: dict, by_key: dict) -> None:
    from optuna.trial import TrialState

    if record["status"] == "complete":
        violations = settings.violations(record)
        record["feasible"] = all(v <= 0 for v in violations.values())
        record["violations"] = violations
        for k, v in violations.items():
            trial.set_constraint(k, v)
    else:
        record["feasible"] = False
    save_record(run_dir, record)  # on disk before the study knows: a kill in between re-evaluates, loses nothing
    records[record["number"]] = record
    trial.set_user_attr("key", record.get("key"))
    if record["status"] == "complete":
        if record.get("key"):
            by_key.setdefault(record["key"], record)
        study.tell(trial, settings.objective_values(record))
    else:
        trial.set_user_attr("reason", record["reason"][:500])
        study.tell(trial, state=TrialState.PRUNED if record["status"] == "pruned" else TrialState.FAIL)


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


def _best_text(records: dict, settings: Settings) -> str:
    ok = [r for r in records.values() if r["status"] == "complete" and r.get("feasible")]
    if not ok:
        return "no feasible candidate yet"
    merit = settings.merit
    best = max(ok, key=lambda r: (merit.goodness(r), -r["estimate"][settings.resource]))
    return (f"best feasible {merit.name} {merit.value(best):.2e} at {best['estimate'][settings.resource]:.0f} "
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
