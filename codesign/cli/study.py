"""Design-space studies: `codesign search`, and what is made of one, `report` and `export`."""

from __future__ import annotations

import sys
from pathlib import Path

from codesign import arguments as arg
from codesign import outdir
from codesign.cli.common import FORCE_HELP, TARGET_HELP, default_run_dir, resolve_config
from codesign.errors import ConfigError


def cmd_search(args) -> int:
    """Search a design space: train, build, C-simulate, score and estimate candidates; keep the Pareto front."""
    from codesign import config as cfg
    from codesign import tasks
    from codesign.hardware import targets
    from codesign.merit import COMBINATIONS, PER_SIGNAL
    from codesign.search import records as records_mod
    from codesign.search import rundir, study
    from codesign.search import space as space_mod
    from codesign.search.settings import Settings

    space_name = args.space or (args.task or "l1-anomaly").replace("-", "_")
    space = space_mod.load(space_name)
    if args.task and space.task != args.task:
        raise ConfigError(f"{space_name}: a space for task {space.task!r}, but --task says {args.task!r}")
    target = targets.load(args.target)
    budget_text = study.budget_fraction(args.budget, target.resources_dict) if args.budget else ""
    budget = targets.Budget.parse(budget_text) if budget_text else target.budget
    budget.check_part(target)
    base_name = args.config or space.base
    if base_name is None:
        raise ConfigError(f"{space_name}: no base training config; give --config FILE|PRESET")
    task = tasks.get(space.task)
    base = cfg.load(task.Config, resolve_config(base_name))
    if args.seed is not None:
        base = base.model_copy(update={"seed": args.seed})
    if args.jobs < 1:
        raise ConfigError(f"-j must be >= 1, got {args.jobs}")
    if not 0 <= args.fidelity < 1 or args.prune_margin < 1:
        raise ConfigError("--fidelity must be in [0, 1) and --prune-margin >= 1")
    signals = task.signal_names(base)
    objective = args.objective or space.objectives.tpr
    if objective not in (*COMBINATIONS, PER_SIGNAL, *signals):
        raise ConfigError(f"--objective {objective!r}: expected {', '.join(COMBINATIONS)}, {PER_SIGNAL} or a signal of "
                          f"this task ({', '.join(signals) or 'none'})")
    if objective == PER_SIGNAL and args.engine == "keras-tuner":
        raise ConfigError(f"--objective {PER_SIGNAL} makes a multi-objective study; the keras-tuner engine has one "
                          "objective (use geomean, min, mean or a signal)")
    settings = Settings(task=space.task, target=target.name, budget=budget, n_trials=args.trials,
                              jobs=args.jobs, scheduler=args.scheduler, storage=args.storage, seed=base.seed,
                              tpr=objective, signals=signals, resource=space.objectives.resource,
                              latency=space.objectives.latency, base_config=base.model_dump(mode="json"),
                              fidelity=args.fidelity, prune_margin=args.prune_margin)
    out = Path(args.out) if args.out else default_run_dir("search")
    limits = ", ".join(f"{k} <= {v:g}" for k, v in budget.limits().items()) or "none"
    if args.engine == "keras-tuner" and (args.jobs > 1 or args.scheduler or args.storage):
        raise ConfigError("--engine keras-tuner runs candidates one at a time in this process: "
                          "drop -j/--scheduler/--storage (they belong to the Optuna engine)")
    with outdir.continued(out, "search", legacy=rundir.SETTINGS_FILE):
        print(f"search {space_name} on {target.name}: {args.trials} trials, -j {args.jobs}; budget: {limits}; "
              f"study in {out}", flush=True)
        if args.engine == "keras-tuner":
            from codesign.search import tuner

            records = tuner.run(space, settings, out, args.algorithm)
        else:
            records = study.run(space, settings, out, progress=not args.quiet)
        paths = records_mod.write_results(out, records, settings)
    summary, best = records_mod.summary(records, rundir.RunDir(out).read_references(), settings)
    print(summary)
    print(f"trials: {paths['csv']} / {paths['parquet']}; front: {paths['front']}")
    print(f"plots and pages: codesign report {out}; a firmware bundle: codesign export {out} --trial N --out DIR")
    return 0 if best else 1


def cmd_report(args) -> int:
    """Pareto plots, ROC curves, search insight and paper-ready tables of a search run, as a static report."""
    from codesign.report import build
    from codesign.search.results import Reference

    formats = build.parse_formats(args.format)
    references = [Reference.parse(text) for text in args.reference]
    out = Path(args.out) if args.out else Path("reports") / Path(args.run_dir).resolve().name
    result = build.write(args.run_dir, out, formats, references, force=args.force, compare=args.compare,
                         compare_trials=args.compare_trials)
    for line in result.skipped:
        print(f"codesign: warning: {line}", file=sys.stderr)
    where = result.index or result.out
    print(f"report: {where} ({result.n_figures} figures, {result.n_candidates} candidate pages, "
          f"{result.seconds:.1f} s)")
    return 0


def cmd_export(args) -> int:
    """A firmware IP bundle of one candidate: hls4ml project, test vectors + g++ check, model, manifest, README."""
    from codesign.export import bundle

    result = bundle.write(args.run_dir, args.out, trial=args.trial, best=args.best, force=args.force, tar=args.tar,
                          synth=args.synth)
    print(f"exported trial {result.trial} to {result.out}: {result.n_exact}/{result.n_vectors} test vectors "
          f"bit-exact with g++ ({result.seconds:.0f} s)")
    if result.tarball:
        print(f"archive: {result.tarball}")
    return 0


def add(sub) -> None:
    p = sub.add_parser("search", help="search a design space for the Pareto front of TPR at FPR 1e-5 vs resources")
    p.add_argument("--task", help="task name (default l1-anomaly)")
    p.add_argument("--space", help="search space: a YAML file or a shipped space name (codesign/search/spaces/; "
                   "default: the task's)")
    p.add_argument("--config", help="base training config or preset (default: the space's `base`)")
    p.add_argument("--target", default="xcvu13p", help=TARGET_HELP)
    p.add_argument("--budget", help="limits, e.g. luts=20000,dsps=100,latency_ns=100 or luts=5%% "
                   "(default: the target's budget)")
    p.add_argument("--trials", type=arg.count, default=20, help="number of finished trials to reach (default 20)")
    p.add_argument("-j", "--jobs", type=arg.count, default=1, help="candidates evaluated at once (local Dask workers)")
    p.add_argument("--scheduler", help="an existing Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--storage", help="Optuna storage URL (default: SQLite in the run directory)")
    p.add_argument("--objective", help="how the per-signal TPRs at the FPR make the objective: geomean (default: a "
                   "zero counts at its 68 %% upper limit), min, mean, a signal's name, or per-signal (every signal "
                   "its own objective beside the resource)")
    p.add_argument("--engine", choices=["optuna", "keras-tuner"], default="optuna",
                   help="optuna: multi-objective Pareto search (default); keras-tuner: single objective, "
                   "budget as a penalty")
    p.add_argument("--algorithm", choices=["bayesian", "random"], default="bayesian",
                   help="keras-tuner oracle (default bayesian)")
    p.add_argument("--fidelity", type=arg.fraction, default=0.25,
                   help="first pass on this fraction of epochs and data; candidates the front beats by "
                   "--prune-margin end there (0 = off; default 0.25)")
    p.add_argument("--prune-margin", type=arg.positive, default=2.0, help="default 2: a front point 2x better in TPR "
                   "at no more resources ends a candidate after its first pass")
    p.add_argument("--seed", type=arg.seed, help="override the base config's seed")
    p.add_argument("--out", help="run directory (default runs/search/<time>); an existing study there resumes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("report", help="Pareto plots, ROC curves and a browsable static report of a search run")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of `codesign search` (finished or running)")
    p.add_argument("--out", help="report directory (default reports/<RUN_DIR name>); must be new or empty, or an "
                   "earlier report with --force")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--format", default="html,png,pdf", help="comma-separated: html, png, pdf (default all three)")
    p.add_argument("--reference", action="append", default=[], metavar="SPEC",
                   help="mark a trial ('12') or an external design ('AXOL1TL: lut=60000, tpr=0.02'; for a "
                        "compression 'LABEL: lut=5000, rms=0.05'); repeatable")
    p.add_argument("--compare", action="append", default=[], metavar="RUN_DIR",
                   help="draw another study's feasible front on the Pareto plots (same task and objective; e.g. "
                        "the same space without HGQ); repeatable")
    p.add_argument("--compare-trials", type=arg.count, metavar="N",
                   help="the compared fronts of the first N trials of each study (the same number of trials)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="firmware IP bundle of one candidate for a trigger team (verified with g++)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the --out directory of `codesign search`")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--trial", type=arg.natural, help="the trial number to export")
    which.add_argument("--best", metavar="FILTER", help="the highest-TPR complete trial meeting e.g. 'luts<=20000'")
    p.add_argument("--out", required=True, help="bundle directory")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--tar", action="store_true", help="also write OUT.tar.gz (byte-reproducible)")
    p.add_argument("--synth", action="store_true", help="run vitis_hls/vivado_hls (+vivado) on the project and "
                   "record the real resource report; skipped, with a note, where they are not installed")
    p.set_defaults(func=cmd_export)
