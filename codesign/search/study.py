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

import numpy as np
from pydantic import Field

from codesign import provenance
from codesign.config import Frozen
from codesign.errors import CodesignError, ConfigError
from codesign.hardware.targets import Budget
from codesign.search.pareto import front_mask, to_minimise
from codesign.search.space import Space

log = logging.getLogger("codesign")
TRIALS_DIR = "trials"
SETTINGS_FILE = "search.json"


class Settings(Frozen):
    task: str
    target: str
    budget: Budget = Budget()
    n_trials: int = Field(20, ge=1)
    jobs: int = Field(1, ge=1)
    scheduler: str | None = None
    storage: str | None = None
    seed: int = 0
    tpr: str = "average"
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
        from codesign.merit import of_task

        return of_task(self.task)

    @property
    def directions(self) -> list[str]:
        d = [self.merit.direction, "minimize"]
        return d + ["minimize"] if self.latency == "objective" else d

    def objective_values(self, record: dict) -> list[float]:
        est = record["estimate"]
        values = [self.merit.value(record), float(est[self.resource])]
        if self.latency == "objective":
            values.append(float(est["latency_ns"]))
        return values

    def violations(self, record: dict) -> dict[str, float]:
        """Budget constraint values, normalised: <= 0 is within the limit (Optuna's convention)."""
        est = record["estimate"]
        values = {"lut": est["lut"], "ff": est["ff"], "dsp": est["dsp"], "bram18": est["bram18"],
                  "latency_ns": est["latency_ns"], "ii": est["ii"]}
        return {k: (values[k] - limit) / max(limit, 1e-9) for k, limit in self.budget.limits().items()}


# ---------------------------------------------------------------- run directory


def _records(run_dir: Path) -> dict[int, dict]:
    out = {}
    for path in sorted((run_dir / TRIALS_DIR).glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError:
            log.warning("%s: corrupt trial record, ignored (the trial will be evaluated again)", path)
            continue
        out[int(rec["number"])] = rec
    return out


def _save_record(run_dir: Path, record: dict) -> None:
    d = run_dir / TRIALS_DIR
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{record['number']:05d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    tmp.replace(path)


def _check_settings(run_dir: Path, settings: Settings, space: Space) -> None:
    """A resumed study must be the same study: same space, task, target, budget and base config."""
    path = run_dir / SETTINGS_FILE
    current = {"space": space.model_dump(mode="json", by_alias=True),
               "settings": settings.model_dump(mode="json", exclude={"n_trials", "jobs", "scheduler", "tf_threads"})}
    if path.is_file():
        saved = json.loads(path.read_text())
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
    from codesign.search import objective

    run_dir = Path(run_dir)
    _check_settings(run_dir, settings, space)
    task = tasks.get(settings.task)
    base = cfg.parse(task.Config, settings.base_config, "search base config")
    if not (run_dir / objective.DATA_DIR / "manifest.json").is_file():
        log.info("preparing the study's data in %s", run_dir / objective.DATA_DIR)
        objective.write_data(run_dir, task.load_data(base))

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

    records = _records(run_dir)
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
    _save_record(run_dir, record)  # on disk before the study knows: a kill in between re-evaluates, loses nothing
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


# ---------------------------------------------------------------- results


def front(records: list[dict], settings: Settings, feasible_only: bool = True) -> list[dict]:
    """The non-dominated records (by the study's objectives), best figure of merit first."""
    done = [r for r in records if r["status"] == "complete" and (r.get("feasible") or not feasible_only)
            and "reused_from" not in r]
    if not done:
        return []
    values = to_minimise(np.array([settings.objective_values(r) for r in done]), settings.directions)
    mask = front_mask(values)
    return sorted((r for r, m in zip(done, mask) if m), key=lambda r: -settings.merit.goodness(r))


def closest(records: list[dict], n: int = 3) -> list[dict]:
    """When nothing fits: the candidates that miss the budget by the least (sum of relative excesses)."""
    done = [r for r in records if r["status"] == "complete"]
    return sorted(done, key=lambda r: sum(max(v, 0.0) for v in r.get("violations", {}).values()))[:n]


def table(records: list[dict]) -> "pandas.DataFrame":  # noqa: F821
    import pandas as pd

    rows = []
    for r in records:
        est = r.get("estimate") or {}
        row = {"number": r["number"], "status": r["status"], "feasible": r.get("feasible", False),
               "reason": r.get("reason", ""), "key": r.get("key"), "reused_from": r.get("reused_from"),
               **{f"param_{k}": v for k, v in r["params"].items()},
               **_merit_columns(r),
               **{k: est.get(k) for k in ("lut", "ff", "dsp", "bram18", "latency_cycles", "latency_ns", "ii")},
               "method": est.get("method"), **{f"seconds_{k}": v for k, v in (r.get("seconds") or {}).items()}}
        rows.append(row)
    return pd.DataFrame(rows)


def _merit_columns(r: dict) -> dict:
    """The figure of merit and its per-signal (AUC, TPR) or per-variable (residual RMS) parts, flat."""
    if "rms" in r:
        return {"rms": r.get("rms"), "rms_error": r.get("rms_error"),
                **{f"rms_{k}": v.get("rms") for k, v in (r.get("residuals") or {}).items()}}
    return {"tpr": r.get("tpr"), "tpr_error": r.get("tpr_error"), "auc": r.get("auc"),
            **{f"tpr_{k}": v["tpr"] for k, v in (r.get("scores") or {}).items()},
            **{f"auc_{k}": v["auc"] for k, v in (r.get("scores") or {}).items()}}


def format_front(rows: list[dict], settings: Settings) -> str:
    if not rows:
        return "(empty)"
    merit = settings.merit
    names = sorted({k for r in rows for k in r["params"]}, key=lambda k: (not k.startswith("depth"), k))
    head = " ".join(f"{n[:12]:>12s}" for n in names)
    third = "AUC" if merit.key == "tpr" else ""
    lines = [f"{'#':>4s} {head} {merit.name[:12]:>12s} {'±':>8s} {third:>6s} {'LUT':>8s} {'FF':>8s} {'DSP':>6s} "
             f"{'BRAM18':>6s} {'ns':>7s}"]
    for r in rows:
        est = r["estimate"]
        vals = " ".join(f"{str(r['params'].get(n, '-'))[:12]:>12s}" for n in names)
        auc = f"{r['auc']:6.3f}" if merit.key == "tpr" else " " * 6
        lines.append(f"{r['number']:>4d} {vals} {merit.value(r):12.3e} {merit.error(r):8.1e} {auc} "
                     f"{est['lut']:8.0f} {est['ff']:8.0f} {est['dsp']:6.0f} {est['bram18']:6.0f} "
                     f"{est['latency_ns']:7.1f}")
    return "\n".join(lines)


def write_results(run_dir: Path, records: list[dict], settings: Settings) -> dict[str, Path]:
    df = table(records)
    paths = {"csv": run_dir / "trials.csv", "parquet": run_dir / "trials.parquet", "front": run_dir / "front.csv"}
    df.to_csv(paths["csv"], index=False)
    df.to_parquet(paths["parquet"], index=False)
    numbers = {r["number"] for r in front(records, settings)}
    df[df["number"].isin(numbers)].to_csv(paths["front"], index=False)
    return paths


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
            value = str(math.floor(frac * resources[name]))
        items.append(f"{key.strip()}={value.strip()}")
    return ",".join(items)
