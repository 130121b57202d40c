"""The `codesign` command.

Sub-commands import what they need when they run, so `codesign --help` stays instant.
User mistakes surface as one line on stderr and exit status 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from codesign import __version__, outdir, runtime
from codesign import arguments as arg
from codesign.errors import CodesignError, ConfigError, ToolError

log = logging.getLogger("codesign")
FORCE_HELP = "replace an earlier output of this same command in --out (never a directory holding anything else)"


def _signal_arg(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. Ato4l=Ato4l_lepFilter_13TeV.h5), got {text!r}")
    return name, path


def _default_run_dir(kind: str, seed: int | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / kind / (stamp if seed is None else f"{stamp}-seed{seed}")


def resolve_config(name: str) -> Path:
    """A YAML path as given, or the name of a preset shipped with codesign (`codesign.config.resolve`)."""
    from codesign.config import resolve

    return resolve(name)


def _task_config(args):
    """The task's config from --config (or defaults), with command-line overrides applied and re-validated."""
    from codesign import config as cfg
    from codesign import tasks

    if args.config:
        args.config = str(resolve_config(args.config))
    data = cfg.read_mapping(args.config) if args.config else {}
    name = args.task or data.get("task") or "l1-anomaly"
    if args.task and data.get("task") and data["task"] != args.task:
        raise ConfigError(f"{args.config}: task is {data['task']!r} but --task says {args.task!r}")
    task = tasks.get(name)
    data = {**data, "task": name}
    if args.seed is not None:
        data["seed"] = args.seed
    if args.data or args.signal:
        section = dict(data.get("data") or {})
        if args.data:  # the background events of an anomaly task, the jets of a compression
            section["background_file" if "background_file" in task.Data.model_fields else "file"] = args.data
        if args.signal:
            section["signal_files"] = dict(args.signal)
            section["signals"] = [n for n, _ in args.signal]
        data["data"] = section
    return task, cfg.parse(task.Config, data, args.config or "command line")


def _input_files(config) -> list[str]:
    """The files a task config reads (data files), which no output may replace."""
    found = []
    for value in config.data.model_dump().values():
        for item in (value.values() if isinstance(value, dict) else [value]):
            if isinstance(item, (str, Path)) and str(item) and Path(item).exists():
                found.append(str(item))
    return found


def cmd_train(args) -> int:
    from codesign.merit import EFFICIENCY
    from codesign.tasks.base import format_scores, save_run, train_and_score

    task, config = _task_config(args)
    out = Path(args.out) if args.out else _default_run_dir(config.task, config.seed)
    where = {"force": args.force, "inputs": [args.config, *_input_files(config)]}
    outdir.check(out, "train", **where)
    dataset = task.load_data(config)
    verbose = 2 if args.verbose else 0
    label = _describe(config)
    with outdir.staged(out, "train", **where) as stage:
        if getattr(task, "MERIT", EFFICIENCY) is not EFFICIENCY:  # a compression: residuals, no signals to score
            result = task.train(config, dataset, verbose=verbose, tensorboard=args.tensorboard)
            task.save_run(stage, config, result)
            summary = task.format_residuals({label: result.metadata})
        else:
            result = train_and_score(config, dataset, verbose=verbose, tensorboard=args.tensorboard)
            save_run(stage, config, result)
            summary = format_scores({label: result.scores})
    print(summary)
    print(f"sparsity {result.metadata['sparsity']['overall']:.1%}, {result.metadata['parameters']} parameters, "
          f"{result.metadata['training']['epochs_run']} epochs in {result.metadata['training']['seconds']:.0f} s")
    print(f"run written to {out}")
    return 0


def _describe(config) -> str:
    spec = config.model
    q = spec.quantization
    name = "float" if q is None else f"{q.weight.bits}-bit"
    if spec.pruning is not None:
        name += f", pruned {spec.pruning.sparsity:.0%}"
    return f"{spec.kind} {name}"


def cmd_demo(args) -> int:
    """Small end-to-end run on generated data: float baseline vs quantized+pruned, side by side."""
    from codesign import config as cfg
    from codesign.tasks import l1_anomaly
    from codesign.tasks.base import format_scores, save_run, train_and_score

    out = Path(args.out) if args.out else _default_run_dir("demo")
    configs = {}
    for preset in ("demo_float", "demo_q8_pruned"):
        config = cfg.load(l1_anomaly.Config, cfg.PRESETS / f"{preset}.yaml")
        if args.seed is not None:
            config = cfg.parse(l1_anomaly.Config, {**config.model_dump(mode="json"), "seed": args.seed}, preset)
        configs[preset] = config
    runs = {}
    with outdir.staged(out, "demo", force=args.force) as stage:
        first = configs["demo_float"]
        print(f"generating {first.data.n_train + first.data.n_val + first.data.n_test:,} background and "
              f"{len(first.data.signals)} x {first.data.n_signal:,} signal events ...", flush=True)
        dataset = l1_anomaly.load_data(first)
        for preset, config in configs.items():
            print(f"training {_describe(config)} ...", flush=True)
            result = train_and_score(config, dataset)
            save_run(stage / preset, config, result)
            runs[_describe(config)] = result.scores
    print(format_scores(runs))
    print(f"runs written to {out}")
    return 0


def cmd_emulate(args) -> int:
    """Score with the bit-exact emulator, cross-check N events against C-simulation, print the metrics.

    Everything it writes, the firmware project included, goes to --out (default: RUN/emulation).
    """
    import json

    import numpy as np

    from codesign import config as cfg
    from codesign import evaluation, firmware
    from codesign.core import persistence
    from codesign.core.preprocessing import Preprocessor
    from codesign.data import adc2021
    from codesign.firmware.options import FirmwareOptions
    from codesign.hardware import targets
    from codesign.tasks import base, get

    path = Path(args.model)
    target = targets.load(args.target)
    options = cfg.load(FirmwareOptions, args.firmware_config) if args.firmware_config else FirmwareOptions()
    updates = {k: v for k, v in (("reuse_factor", args.reuse_factor), ("strategy", args.strategy)) if v is not None}
    if updates:
        options = cfg.parse(FirmwareOptions, {**options.model_dump(mode="json"), **updates}, "command line")
    inputs = [path if path.is_file() else path / "model", args.data, args.firmware_config,
              *(p for _, p in args.signal or [])]
    if path.is_dir():
        out = Path(args.out) if args.out else path / "emulation"
    elif not args.data or not args.signal:
        raise CodesignError(f"{path}: a model file needs --data BACKGROUND.h5 and --signal NAME=PATH "
                            "(a run directory brings its own data)")
    else:
        out = Path(args.out) if args.out else _default_run_dir("emulate")
    where = {"force": args.force, "inputs": inputs}
    outdir.check(out, "emulate", **where)
    reference = {}
    if path.is_dir():
        model, meta = persistence.load(path / "model")
        task = get(meta.get("task") or "l1-anomaly")
        data = dict(meta["config"])
        if args.data or args.signal:
            data["data"] = {**data["data"], "background_file": args.data,
                            "signal_files": dict(args.signal or []), "signals": [n for n, _ in args.signal or []]}
        config = cfg.parse(task.Config, data, str(path / "model" / "metadata.json"))
        spec, pre = config.model, Preprocessor.from_dict(meta["preprocessing"])
        dataset = task.load_data(config, train_limit=100_000)
        if hasattr(task, "emulate"):  # a compression: encoder and autoencoder firmware, residuals
            with outdir.staged(out, "emulate", **where) as stage:
                status = task.emulate(model, config, pre, dataset, options, target, stage / "firmware", stage,
                                      args.csim_check)
            print(f"results in {out}")
            return status
        x_calib, x_test, signals = dataset.x_train, dataset.x_test, dataset.signals
        fpr, n_boot, seed = config.metrics.fpr, config.metrics.n_bootstrap, config.seed
        if not (args.data or args.signal) and (path / "scores.json").is_file():
            from codesign.metrics import SignalScores

            raw = json.loads((path / "scores.json").read_text())
            reference = {k: SignalScores.from_dict(v) for k, v in raw.items()}
    else:
        model, spec, pre = persistence.load_keras(path), None, None
        x_test = adc2021.flatten(adc2021.read_events(args.data).particles)
        x_calib = x_test[:100_000]
        signals = {n: adc2021.flatten(adc2021.read_events(p).particles) for n, p in args.signal}
        fpr, n_boot, seed = 1e-5, 200, 0
    print(f"building firmware for {target.name} ({target.part}, {target.clock_mhz:g} MHz) ...", flush=True)
    with outdir.staged(out, "emulate", **where) as stage:
        fw = firmware.build(model, spec, pre, x_calib, options, target.part, target.clock_period_ns,
                            cache_dir=stage / "firmware", input_groups=adc2021.input_quantities())
        check = evaluation.check_bit_exact(fw, np.concatenate([x_test, *signals.values()]), args.csim_check, seed)
        scores, background, signal_scores = evaluation.score_dataset(fw, x_test, signals, fpr, n_boot, seed)
        base.write_scores(stage, scores, background, signal_scores)
        firmware_dir = fw.directory.relative_to(stage)
        (stage / "bit_exact.json").write_text(json.dumps({**check.to_dict(), "firmware": str(firmware_dir)},
                                                         indent=2))
    columns = {"firmware (emulator)": scores}
    if reference:
        columns["Keras (training run)"] = reference
    print(base.format_scores(columns))
    print(f"bit-exact: {check.n_exact}/{check.n_events} events ({check.fraction:.3%}) C-sim vs emulator, "
          f"{check.n_edge} of them edge cases; emulator {check.n_events / check.emulator_seconds:,.0f} events/s, "
          f"C-sim {check.n_events / check.csim_seconds:,.0f} events/s")
    print(f"score: {fw.output_types[0]} per event; firmware in {out / firmware_dir}; results in {out}")
    return 0 if check.n_exact == check.n_events else 1


def cmd_targets(args) -> int:
    """List the FPGA targets in targets/ with their resources, clock and default budget."""
    import json

    from codesign.hardware import targets

    rows = [targets.load(name) for name in targets.available()]
    if args.json:
        print(json.dumps([t.model_dump(mode="json") for t in rows], indent=2))
        return 0
    print(f"{'name':9s} {'part':24s} {'family':12s} {'MHz':>5s} {'LUT':>9s} {'FF':>9s} {'DSP':>6s} {'BRAM18':>7s}  "
          "default budget")
    for t in rows:
        r = t.resources
        budget = ", ".join(f"{k}={v:g}" for k, v in t.budget.limits().items()) or "-"
        print(f"{t.name:9s} {t.part:24s} {t.family:12s} {t.clock_mhz:5g} {r.lut:9d} {r.ff:9d} {r.dsp:6d} "
              f"{r.bram18:7d}  {budget}")
    return 0


def _estimate_target(args):
    """(Target, learned-records file) from --target or --part/--clock-ns."""
    from codesign.hardware import synth, targets

    if args.part:
        if args.target:
            raise ConfigError("give either --target or --part, not both")
        family = targets.family_of(targets.checked_part(args.part))
        clock = args.clock_ns or 5.0
        known = [t for t in map(targets.load, targets.available()) if t.part.split("-")[0] == args.part.split("-")[0]]
        resources = known[0].resources if known else targets.Resources(lut=0, ff=0, dsp=0, bram18=0)
        return targets.Target(name=args.part, part=args.part, family=family, clock_mhz=1000.0 / clock,
                              resources=resources), Path(args.calibration) if args.calibration else None
    target = targets.load(args.target or "xcvu13p")
    if args.clock_ns:
        target = target.model_copy(update={"clock_mhz": 1000.0 / args.clock_ns})
    return target, Path(args.calibration) if args.calibration else synth.calibration_file(args.target or "xcvu13p")


def cmd_estimate(args) -> int:
    """Resources and latency of a model on a target, without vendor tools."""
    import json

    from codesign.hardware import estimate as est_mod
    from codesign.hardware import load, reports, synth, targets

    if args.strategy == "da" and args.reuse_factor not in (None, 1):
        raise ConfigError("--strategy da builds every multiplication as adders: it needs --reuse-factor 1")
    if args.precision:
        load.check_precision(args.precision, "--precision")
    if args.reuse_factor is not None and args.reuse_factor < 1:
        raise ConfigError(f"--reuse-factor must be >= 1, got {args.reuse_factor}")
    budget = targets.Budget.parse(args.budget) if args.budget else None
    target, learned_file = _estimate_target(args)
    if budget is not None:
        budget.check_part(target)
    file_config = load.read_hls_config(args.hls_config) if args.hls_config else None
    kind, model = load.load_model(args.model, args.weights)
    cfg = load.hls_config(kind, model, args.backend, file_config, args.precision, args.reuse_factor, args.strategy)
    graph = load.convert(kind, model, cfg, target.part, target.clock_period_ns, args.backend)
    method = "da" if args.strategy == "da" else "analytic"
    learned = synth.read_records(learned_file) if learned_file is not None else []
    result = est_mod.estimate(graph, method, target, learned=learned)
    real_hls = real_synth = None
    if args.synth:
        import hls4ml  # noqa: F401  (the project is written by hls4ml itself)

        project = Path(args.synth_dir or _default_run_dir("synth"))
        hls_model = _hls_model(kind, model, cfg, target, args.backend, project)
        real_hls, real_synth = synth.run_synthesis(hls_model, project)
    elif args.report:
        real_hls, real_synth = reports.find_reports(args.report)
        if real_hls is None and real_synth is None:
            raise CodesignError(f"{args.report}: no HLS (*_prj/solution1/syn/report/*_csynth.rpt|xml) or "
                                "Vivado (vivado_synth.rpt) report found")
    if (real_hls is not None or real_synth is not None) and learned_file is not None:
        odd = synth.implausible(result, real_hls, real_synth)
        if odd and not args.trust_report:
            raise ToolError(f"{args.report or args.synth_dir}: {'; '.join(odd)} — outside a factor "
                            f"{synth.PLAUSIBLE:g} of the estimate, so not recorded (it would rescale every later "
                            f"estimate for {target.name}); pass --trust-report if the report is right")
        synth.record(learned_file, result, real_hls, real_synth, str(args.report or args.synth_dir))
    if args.json:
        out = result.summary()
        if budget is not None:
            out["over_budget"] = est_mod.over_budget(result, budget)
        if real_hls is not None or real_synth is not None:
            out["real"] = {"hls": real_hls.model_dump() if real_hls else None,
                           "synth": real_synth.model_dump() if real_synth else None}
        print(json.dumps(out, indent=2))
    else:
        print(f"{args.model} on {target.name} ({target.part}, {target.clock_period_ns:g} ns clock):")
        print(est_mod.format_table(result, target.resources if target.resources.lut else None))
        if real_hls is not None or real_synth is not None:
            print(synth.compare(result, real_hls, real_synth))
            if learned_file is not None:
                print(f"recorded in {learned_file}: later estimates for {target.name} use it")
        if budget is not None:
            over = est_mod.over_budget(result, budget)
            print("budget: fits" if not over else "budget: OVER — " + "; ".join(over))
    if budget is not None and est_mod.over_budget(result, budget):
        return 1
    return 0


def cmd_calibration(args) -> int:
    """The learned (estimate, real report) records: list them, or remove some by number."""
    from codesign.hardware import synth

    if args.calibration and args.target:
        raise ConfigError("give either --target or --calibration, not both")
    named = Path(args.calibration) if args.calibration else synth.calibration_file(args.target) if args.target \
        else None
    if args.action == "remove":
        if named is None or not args.numbers:
            raise ConfigError("codesign calibration remove N [N ...] needs --target or --calibration and the "
                              "numbers `codesign calibration list` shows")
        if not named.is_file():
            raise ConfigError(f"{named}: no learned records there")
        for r in synth.remove_records(named, args.numbers):
            print(f"removed: {r.get('time')} {r.get('source')}")
        return 0
    if args.numbers:
        raise ConfigError("codesign calibration list takes no numbers")
    files = [named] if named is not None else sorted((synth.data_dir() / "calibration").glob("*.jsonl"))
    if not files or (named is not None and not named.is_file()):
        print(f"no learned records ({named or synth.data_dir() / 'calibration'})")
        return 0
    for path in files:
        records = synth.read_records(path)
        print(f"{path}: {len(records)} record(s)")
        for i, r in enumerate(records, 1):
            real = r.get("synth") or r.get("hls") or {}
            est = r.get("estimate_synth" if r.get("synth") else "estimate_hls") or {}
            print(f"  {i:3d}  {r.get('time', '?')}  {r.get('method', '?'):8s} LUT {real.get('lut', 0):,.0f} real vs "
                  f"{est.get('lut', 0):,.0f} est, DSP {real.get('dsp', 0):,.0f} vs {est.get('dsp', 0):,.0f}  "
                  f"{r.get('source', '')}")
    return 0


def _hls_model(kind, model, cfg, target, backend, project: Path):
    import hls4ml

    if project.exists() and any(project.iterdir()):
        raise CodesignError(f"{project}: already exists and is not empty; choose another --synth-dir")
    convert = hls4ml.converters.convert_from_onnx_model if kind == "onnx" else \
        hls4ml.converters.convert_from_keras_model
    return convert(model, hls_config=cfg, output_dir=str(project), backend=backend, io_type="io_parallel",
                   part=target.part, clock_period=target.clock_period_ns)


def cmd_search(args) -> int:
    """Search a design space: train, build, C-simulate, score and estimate candidates; keep the Pareto front."""
    from codesign import config as cfg
    from codesign import tasks
    from codesign.hardware import targets
    from codesign.search import records as records_mod
    from codesign.search import space as space_mod
    from codesign.search import study

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
    from codesign.merit import COMBINATIONS, PER_SIGNAL

    signals = tuple(getattr(base.data, "signal_files", None) or getattr(base.data, "signals", None) or ())
    objective = args.objective or space.objectives.tpr
    if objective not in (*COMBINATIONS, PER_SIGNAL, *signals):
        raise ConfigError(f"--objective {objective!r}: expected {', '.join(COMBINATIONS)}, {PER_SIGNAL} or a signal of "
                          f"this task ({', '.join(signals) or 'none'})")
    if objective == PER_SIGNAL and args.engine == "keras-tuner":
        raise ConfigError(f"--objective {PER_SIGNAL} makes a multi-objective study; the keras-tuner engine has one "
                          "objective (use geomean, min, mean or a signal)")
    settings = study.Settings(task=space.task, target=target.name, budget=budget, n_trials=args.trials,
                              jobs=args.jobs, scheduler=args.scheduler, storage=args.storage, seed=base.seed,
                              tpr=objective, signals=signals, resource=space.objectives.resource,
                              latency=space.objectives.latency, base_config=base.model_dump(mode="json"),
                              fidelity=args.fidelity, prune_margin=args.prune_margin)
    out = Path(args.out) if args.out else _default_run_dir("search")
    limits = ", ".join(f"{k} <= {v:g}" for k, v in budget.limits().items()) or "none"
    if args.engine == "keras-tuner" and (args.jobs > 1 or args.scheduler or args.storage):
        raise ConfigError("--engine keras-tuner runs candidates one at a time in this process: "
                          "drop -j/--scheduler/--storage (they belong to the Optuna engine)")
    with outdir.continued(out, "search", legacy=study.SETTINGS_FILE):
        print(f"search {space_name} on {target.name}: {args.trials} trials, -j {args.jobs}; budget: {limits}; "
              f"study in {out}", flush=True)
        if args.engine == "keras-tuner":
            from codesign.search import tuner

            records = tuner.run(space, settings, out, args.algorithm)
        else:
            records = study.run(space, settings, out, progress=not args.quiet)
        paths = records_mod.write_results(out, records, settings)
    best = records_mod.front(records, settings)
    complete = sum(r["status"] == "complete" for r in records)
    failed = [r for r in records if r["status"] == "failed"]
    print(f"{len(records)} trials: {complete} complete, {len(failed)} failed, "
          f"{sum(r.get('feasible', False) for r in records)} within budget")
    for r in failed[:5]:
        print(f"  trial {r['number']} failed: {r['reason'][:160]}")
    references = [r for r in records_mod.read_references(out) if r["status"] == "complete"]
    tails = records_mod.inputs_tails(references)
    if best:
        print("Pareto front (feasible):")
        print(records_mod.format_front(best, settings, tails, resolve=True))
        same = records_mod.within_errors(best, settings)
        if same:
            print(f"within=≈N: {len(same)} of {len(best)} front points do not beat cheaper point N beyond both "
                  "errors; the test statistics do not separate them")
    else:
        print("no candidate meets the budget; the closest:")
        print(records_mod.format_front(records_mod.closest(records), settings, tails))
    if references:
        print("reference designs, on the same events:")
        print(records_mod.format_front(references, settings, tails))
    if tails:
        print("tail=in: share of the 100 highest-scoring background events that the inputs alone (no network, "
              "same preprocessing) also put on top; 100 % = the network decides nothing of the threshold")
    for r in records_mod.read_references(out):
        if r["status"] != "complete":
            print(f"  reference {r['reference']} failed: {r['reason'][:160]}")
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
    result = build.write(args.run_dir, out, formats, references, force=args.force)
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


def cmd_generate(args) -> int:
    from codesign.tasks import l1_anomaly

    out = Path(args.out)
    with outdir.staged(out, "generate", force=args.force) as stage:
        names = [p.name for p in l1_anomaly.write_synthetic(stage, args.n_background, args.n_signal, args.seed)]
    for name in names:
        print(out / name)
    return 0


def cmd_dqm_generate(args) -> int:
    """Synthetic per-run DQM ROOT files in the DQM GUI store's layout, with contents/datasets/truth JSON."""
    from codesign.data import dqm_generator

    g = dqm_generator.generate(Path(args.out), n_runs=args.runs, seed=args.seed, primary_dataset=args.pd,
                               bad_fraction=args.bad_fraction, unlabelled_fraction=args.unlabelled_fraction,
                               force=args.force)
    print(f"{g.n_runs} runs ({g.n_bad} with an incident, {g.n_labelled_bad} of them labelled bad; "
          f"{g.n_unlabelled} unlabelled) in {len(g.files)} ROOT files under {g.root}")
    print(f"contents: {g.contents}\ndatasets: {g.datasets}\ntruth:    {g.truth}")
    return 0


def cmd_dqm_fetch(args) -> int:
    """AutoDQM_ML's fetch_data.py: DQM ROOT files -> one parquet per primary dataset (resumable)."""

    if not args.output_dir:
        raise ConfigError("codesign dqm fetch needs --output_dir")
    with outdir.continued(args.output_dir, "dqm fetch", flag="--output_dir"):
        return _dqm_fetch(args)


def _dqm_fetch(args) -> int:
    from codesign.data import dqm_generator, dqm_root

    input_dir, contents, datasets = args.input_dir, args.contents, args.datasets
    if input_dir is None:  # the default: generated files (real DQM files are not reachable from here)
        generated = Path(args.output_dir) / "root"
        if not (generated / "datasets.json").is_file():
            print(f"no --input_dir: generating synthetic DQM files in {generated} ...", flush=True)
            dqm_generator.generate(generated, seed=args.seed)
        input_dir = generated
        contents = contents or str(generated / "contents.json")
        datasets = datasets or str(generated / "datasets.json")
    if not contents or not datasets:
        raise ConfigError("codesign dqm fetch --input_dir needs --contents (subsystem -> histogram paths JSON) and "
                          "--datasets (primary datasets, years, runs JSON)")
    result = dqm_root.fetch(input_dir, contents, datasets, args.output_dir, tag=args.tag or "",
                            progress=not args.quiet)
    print(f"{result.n_files} files: {result.n_converted} converted, {result.n_cached} already converted, "
          f"{len(result.skipped)} skipped")
    for pd_name, path in result.outputs.items():
        print(f"{pd_name}: {path}")
    return 0


def cmd_dqm_train(args) -> int:
    """AutoDQM_ML's train.py on the shared core: fit under a tag, add score (and reconstruction) columns."""
    from codesign.dqm import train

    algorithm, config_file = args.algorithm, args.config
    if algorithm and Path(algorithm).suffix in (".json", ".yaml", ".yml"):  # AutoDQM's `--algorithm config.json`
        algorithm, config_file = None, config_file or algorithm
    options = {k: v for k, v in (("n_components", args.n_components), ("reference", args.reference),
                                 ("mode", args.autoencoder_mode), ("test", args.test),
                                 ("n_references", args.n_references), ("statistic", args.statistic),
                                 ("merge_bins", args.merge_bins)) if v is not None}
    settings = train.read_settings(config_file, {
        "algorithm": algorithm, "input_file": args.input_file, "output_dir": args.output_dir, "tag": args.tag,
        "histograms": args.histograms, "min_entries": args.min_entries, "train_fraction": args.train_fraction,
        "seed": args.seed, "config": options})
    with outdir.continued(settings.output_dir, "dqm train", flag="--output_dir"):
        result = train.run(settings)
    for line in result.lines:
        print(line)
    return 0


def _csv(text: str | None, kind=str, flag: str = "") -> list | None:
    if text is None:
        return None
    try:
        return [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{flag}: expected a comma-separated list of {kind.__name__}, got {text!r}") from None


def cmd_dqm_assess(args) -> int:
    """AutoDQM_ML's assess.py: score diagnostics, ROC + bootstrap, false-alarm tables, run-level flags, webpage."""
    from codesign.dqm import assess

    if not args.input_file or not args.output_dir:
        raise ConfigError("codesign dqm assess needs --input_file (a table from `codesign dqm train`) and --output_dir")
    formats = tuple(_csv(args.format, flag="--format") or ())
    result = assess.assess(args.input_file, args.output_dir, histograms=_csv(args.histograms),
                           tags=_csv(args.algorithms), runs=_csv(args.runs, int, "--runs"), n_runs=args.n_runs,
                           n_top=args.n_top, tprs=tuple(_csv(args.tprs, float, "--tprs")),
                           n_bootstrap=args.n_bootstrap, seed=args.seed, make_webpage=args.make_webpage,
                           flag_counts=tuple(_csv(args.flag_counts, int, "--flag_counts")), truth=args.truth,
                           formats=formats, force=args.force)
    for line in result.lines:
        print(line)
    return 0


def cmd_dqm_lumi_generate(args) -> int:
    """A generated per-lumisection series (METSig-like, over fills, labelled anomalies) as parquet."""
    from codesign.dqm import lumisections

    path, series = lumisections.generate(args.out, n_ls=args.n_ls, seed=args.seed,
                                         anomaly_fraction=args.anomaly_fraction, run=args.run, force=args.force)
    kinds = ", ".join(f"{k} {int((series.kinds == k).sum())}" for k in ("empty", "noisy", "shifted", "burst"))
    print(f"{len(series)} lumisections of run {args.run}, {int(series.labels.sum())} anomalous ({kinds}) -> {path}")
    return 0


def cmd_dqm_lumi_train(args) -> int:
    """Seed 000's per-lumisection autoencoders: train (or reload) a tag, score every LS, flag, write scores."""
    from codesign.dqm import lumisections

    if not args.input_file or not args.output_dir or not args.tag:
        raise ConfigError("codesign dqm lumisections train needs --input_file (a series), --output_dir and --tag")
    units = _csv(args.units, int, "--units")
    split = _csv(args.split, float, "--split")
    settings = lumisections.settings_from({
        "model": args.model, "tag": args.tag, "window": args.window, "stride": args.stride,
        "units": tuple(units) if units else None, "dropout": args.dropout, "epochs": args.epochs,
        "batch_size": args.batch_size, "learning_rate": args.learning_rate, "patience": args.patience,
        "bits": args.bits, "split": tuple(split) if split else None, "train_on_bad": args.train_on_bad or None,
        "seed": args.seed})
    with outdir.continued(args.output_dir, "dqm lumisections train", flag="--output_dir"):
        result = lumisections.run(settings, args.input_file, args.output_dir, percentile=args.percentile,
                                  false_alarm=args.false_alarm, histogram=args.histogram)
    for line in result.lines:
        print(line)
    return 0


def cmd_dqm_lumi_assess(args) -> int:
    """ROC and per-kind AUC of every tag on the test LS, MAE and cleaned-vs-uncleaned plots, summary, page."""
    from codesign.dqm import lumi_assess

    if not args.input_file or not args.output_dir:
        raise ConfigError("codesign dqm lumisections assess needs --input_file (scores.parquet from "
                          "`codesign dqm lumisections train`) and --output_dir")
    result = lumi_assess.assess(args.input_file, args.output_dir, series_file=args.series, tags=_csv(args.tags),
                                n_bootstrap=args.n_bootstrap, seed=args.seed,
                                formats=tuple(_csv(args.format, flag="--format") or ()), force=args.force)
    for line in result.lines:
        print(line)
    return 0


def _lumi_parser(dsub) -> None:
    lumi = dsub.add_parser("lumisections", help="per-lumisection monitoring (seed 000): dense and LSTM "
                           "autoencoders over a series of one histogram per LS: generate | train | assess")
    lsub = lumi.add_subparsers(dest="lumi_command", metavar="STEP")
    lumi.set_defaults(func=lambda a: (lumi.print_help(), 0)[1])

    p = lsub.add_parser("generate", help="a synthetic METSig series per LS with labelled anomalies (parquet)")
    p.add_argument("--out", required=True, help="parquet file to write")
    _both(p, "n_ls", type=arg.count, default=6000, help="number of lumisections (default 6000)")
    p.add_argument("--seed", type=arg.seed, default=1)
    _both(p, "anomaly_fraction", type=arg.fraction, default=0.03, help="fraction of anomalous LS (default 0.03)")
    p.add_argument("--run", type=arg.count, default=1, help="run number of the series (default 1)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--debug", action="store_true", help="log every step (as -v)")
    p.set_defaults(func=cmd_dqm_lumi_generate)

    p = lsub.add_parser("train", help="train (or reload) a tag on the training LS; score and flag every LS")
    _both(p, "input_file", help="series parquet (columns run, lumisection, <histogram> bins; label/kind optional)")
    _both(p, "output_dir", help="where scores.parquet, flagged_<tag>.csv and models/<tag>/ go; tags chain there")
    p.add_argument("--tag", help="names the model directory and the score_<tag>/flag_<tag> columns; an existing "
                   "tag with the same settings is reloaded, with others refused")
    p.add_argument("--model", help="dense | sparse_lstm | undercomplete_lstm (default sparse_lstm)")
    p.add_argument("--histogram", help="the list column of bin contents (default: the file's only one)")
    p.add_argument("--window", type=arg.count, help="LS per window of the LSTM models (default 50)")
    p.add_argument("--stride", type=arg.count, help="LS between window starts (default 1)")
    p.add_argument("--units", help="widths to the bottleneck: sparse 64, undercomplete 64,32, dense 32,16,8 "
                   "(encoder 32-16, latent 8) by default")
    p.add_argument("--dropout", type=arg.fraction, help="sparse LSTM dropout (default 0.2)")
    p.add_argument("--epochs", type=arg.count, help="maximum epochs, early-stopped on the validation MAE (default 20)")
    _both(p, "batch_size", type=arg.count, help="default 32")
    _both(p, "learning_rate", type=arg.positive, help="default 1e-3")
    p.add_argument("--patience", type=arg.natural, help="early-stopping patience in epochs (default 5)")
    p.add_argument("--bits", type=arg.count, help="QKeras weight bits (default: float)")
    p.add_argument("--split", help="train,val,test fractions, contiguous in LS order (default 0.6,0.2,0.2)")
    _both(p, "train_on_bad", action="store_true", help="also train on LS labelled anomalous (the seed's blind "
          "training); by default they and the windows holding them are left out")
    threshold = p.add_mutually_exclusive_group()
    threshold.add_argument("--percentile", type=arg.percentile, help="flag above this percentile of the test LS scores "
                           "(seed 000's rule; default 99.7)")
    _both(threshold, "false_alarm", type=arg.open_fraction, help="flag above the threshold that this fraction of good "
          "validation LS exceed (needs >= 10 of them above it)")
    p.add_argument("--seed", type=arg.seed, help="training seed (default 0)")
    p.add_argument("--debug", action="store_true", help="log every step (as -v)")
    p.set_defaults(func=cmd_dqm_lumi_train)

    p = lsub.add_parser("assess", help="ROC and per-kind AUC of every tag on the test LS, MAE and cleaned-vs-"
                        "uncleaned plots, input vs reconstruction, summary.json/.md and index.html")
    _both(p, "input_file", help="scores.parquet from `codesign dqm lumisections train`")
    p.add_argument("--series", help="the series it scored (default: the path recorded in the scores file)")
    _both(p, "output_dir", help="figures, summary.json, summary.md, index.html; new or empty, or an earlier "
          "assess with --force")
    p.add_argument("--tags", help="comma-separated tags (default: every tag in the file)")
    _both(p, "n_bootstrap", type=arg.count, default=100, help="bootstrap resamplings of ROC and AUC (default 100)")
    p.add_argument("--format", default="png", help="figure formats: png, pdf, svg (default png)")
    p.add_argument("--seed", type=arg.seed, default=0, help="bootstrap seed")
    p.add_argument("--force", action="store_true", help=FORCE_HELP.replace("--out", "--output_dir"))
    p.add_argument("--debug", action="store_true", help="log every step (as -v)")
    p.set_defaults(func=cmd_dqm_lumi_assess)


def _both(p, name: str, **kwargs):
    """An option under AutoDQM_ML's spelling (--input_file) and the usual one (--input-file)."""
    dashed = name.replace("_", "-")
    flags = [f"--{name}"] + ([f"--{dashed}"] if dashed != name else [])
    p.add_argument(*flags, dest=name, **kwargs)


def _dqm_parser(sub) -> None:
    dqm = sub.add_parser("dqm", help="Data Quality Monitoring on per-run histograms (AutoDQM_ML's workflow): "
                         "generate | fetch | train | assess; per lumisection: lumisections")
    dsub = dqm.add_subparsers(dest="dqm_command", metavar="STEP")
    dqm.set_defaults(func=lambda a: (dqm.print_help(), 0)[1])

    p = dsub.add_parser("generate", help="synthetic per-run DQM ROOT files with labelled anomalies (uproot)")
    p.add_argument("--out", required=True, help="directory (the DQM GUI store layout: Run2018/SingleMuon/R000...)")
    p.add_argument("--runs", type=arg.count, default=600, help="number of runs (default 600)")
    p.add_argument("--seed", type=arg.seed, default=1)
    p.add_argument("--pd", default="SingleMuon", help="primary dataset name (default SingleMuon)")
    _both(p, "bad_fraction", type=arg.fraction, default=0.1, help="runs with an incident (default 0.1)")
    _both(p, "unlabelled_fraction", type=arg.fraction, default=0.1, help="runs left unlabelled (default 0.1)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_dqm_generate)

    p = dsub.add_parser("fetch", help="DQM ROOT files -> one parquet per primary dataset (resumable)")
    _both(p, "input_dir", help="directory searched for DQM_V*_R*__PD__Run*__DQMIO.root files "
          "(default: generate synthetic ones in OUTPUT_DIR/root)")
    p.add_argument("--contents", help="JSON: subsystem -> histogram paths (AutoDQM_ML's format)")
    p.add_argument("--datasets", help="JSON: primary_datasets, years -> productions/eras/runs/good_runs/bad_runs")
    _both(p, "output_dir", help="where <PD>.parquet goes")
    p.add_argument("--tag", help="prefix of the output file names")
    p.add_argument("--seed", type=arg.seed, default=1, help="seed of the generated files when no --input_dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="log every step (as -v)")
    p.set_defaults(func=cmd_dqm_fetch)

    p = dsub.add_parser("train", help="train PCA / autoencoder / statistical tests on histograms; add score columns")
    _both(p, "input_file", help="parquet from `codesign dqm fetch` (or from an earlier train, to chain tags)")
    _both(p, "output_dir", help="where the extended parquet and models/<tag>/ go")
    p.add_argument("--algorithm", help="pca | autoencoder | statistical_tester (or a JSON/YAML config file)")
    p.add_argument("--config", help="JSON/YAML settings (AutoDQM_ML keys: name, tag, histograms, config: {..}); "
                   "flags override it")
    p.add_argument("--tag", help="names the model directory and the added columns; an existing tag is loaded")
    p.add_argument("--histograms", help="comma-separated histogram columns (default: all)")
    _both(p, "n_components", type=arg.count, help="latent size (PCA, autoencoder)")
    p.add_argument("--reference", type=arg.natural, help="statistical tests: one fixed reference run")
    _both(p, "n_references", type=arg.count, help="statistical tests: compare with the N good runs before (1, 4, 8)")
    p.add_argument("--test", choices=["ks", "chi2", "modified_chi2", "beta_binomial"],
                   help="statistical_tester: which test (default ks)")
    p.add_argument("--statistic", choices=["chi2", "max_pull"], help="beta_binomial: the score (default chi2)")
    _both(p, "autoencoder_mode", choices=["individual", "simultaneous"],
          help="one autoencoder per histogram (default) or one for all")
    _both(p, "merge_bins", type=arg.fraction, help="merge bins holding less than this mean fraction of entries")
    _both(p, "min_entries", type=arg.natural, help="runs with fewer entries in any histogram are not used (default 10000)")
    _both(p, "train_fraction", type=arg.open_fraction, help="fraction of usable good runs trained on (default 0.5)")
    p.add_argument("--seed", type=arg.seed, help="split and training seed (default 0)")
    p.add_argument("--debug", action="store_true", help="log every step (as -v)")
    p.set_defaults(func=cmd_dqm_train)

    p = dsub.add_parser("assess", help="score diagnostics, ROC curves with bootstrap bands, false-alarm tables, "
                        "run-level flags, original-vs-reconstructed plots, a static webpage")
    _both(p, "input_file", help="parquet extended by `codesign dqm train`")
    _both(p, "output_dir", help="plots, tables, summary.json (and index.html); new or empty, or an earlier "
          "assess with --force")
    p.add_argument("--histograms", help="comma-separated histogram columns (default: every scored one)")
    p.add_argument("--algorithms", help="comma-separated tags (default: every tag in the file)")
    p.add_argument("--runs", help="comma-separated run numbers for original-vs-reconstructed plots")
    _both(p, "n_runs", type=arg.natural, default=3, help="random runs plotted when --runs is not given (default 3)")
    _both(p, "n_top", type=arg.count, default=5, help="most anomalous runs listed per histogram and tag (default 5)")
    p.add_argument("--tprs", default="0.5,0.8,0.9,0.95,0.99", help="bad-run efficiencies of the false-alarm table")
    _both(p, "n_bootstrap", type=arg.count, default=100, help="bootstrap resamplings of ROC and AUC (default 100)")
    _both(p, "flag_counts", default="1,3,5", help="run-flag ROCs: runs with >= N flagged histograms (default 1,3,5)")
    p.add_argument("--truth", help="a generator's truth.json: also ROCs per histogram and anomaly kind")
    p.add_argument("--format", default="png", help="figure formats: png, pdf, svg (default png)")
    _both(p, "make_webpage", action="store_true", help="write index.html, a browsable page of every plot")
    p.add_argument("--seed", type=arg.seed, default=0, help="bootstrap and random-run seed")
    p.add_argument("--force", action="store_true", help=FORCE_HELP.replace("--out", "--output_dir"))
    p.add_argument("--debug", action="store_true", help="log every step (as -v)")
    p.set_defaults(func=cmd_dqm_assess)

    _lumi_parser(dsub)


def build_parser() -> argparse.ArgumentParser:
    parser = arg.Parser(
        prog="codesign",
        description="Hardware co-design of real-time anomaly detection for particle-physics triggers.")
    parser.add_argument("--version", action="version", version=f"codesign {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (and Keras epochs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="small end-to-end run on generated data (float vs quantized+pruned)")
    p.add_argument("--out", help="run directory (default runs/demo/<time>)")
    p.add_argument("--seed", type=arg.seed)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train one model of a task and score it (AUC, TPR at FPR 1e-5; residuals for "
                       "jet-compression)")
    p.add_argument("--task", help="task name (default: the config's task, else l1-anomaly)")
    p.add_argument("--config", help="YAML training config, or a preset name: "
                   "l1_baseline, l1_q8_pruned, ... (files in codesign/presets/)")
    p.add_argument("--out", help="run directory (default runs/<task>/<time>-seed<seed>)")
    p.add_argument("--data", help="background h5 file in the ADC2021 layout (default: generated events)")
    p.add_argument("--signal", action="append", type=_signal_arg, metavar="NAME=PATH",
                   help="signal h5 file (repeatable); needs --data")
    p.add_argument("--seed", type=arg.seed, help="override the config's seed")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs of the training to DIR")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("emulate", help="score with the bit-exact firmware emulator, cross-checked against C-sim")
    p.add_argument("model", help="a run directory (from `codesign train`) or a Keras .h5/.keras model file")
    p.add_argument("--data", help="background h5 file (ADC2021 layout); default: the run's own test data")
    p.add_argument("--signal", action="append", type=_signal_arg, metavar="NAME=PATH", help="signal h5 (repeatable)")
    p.add_argument("--csim-check", type=arg.natural, default=2000, metavar="N",
                   help="events to compare bit for bit against hls4ml C-simulation (default 2000, plus edge cases)")
    p.add_argument("--target", default="xcvu13p", help="FPGA target from targets/ (default xcvu13p)")
    p.add_argument("--firmware-config", help="YAML with firmware options (precision sizing, strategy, reuse)")
    p.add_argument("--reuse-factor", type=arg.count)
    p.add_argument("--strategy", choices=["latency", "resource"])
    p.add_argument("--out", help="where to write the firmware scores (default RUN_DIR/emulation)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_emulate)

    p = sub.add_parser("targets", help="list the FPGA targets (targets/*.yaml)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("estimate", help="FPGA resources and latency of a model, without vendor tools")
    p.add_argument("model", help="Keras .h5/.keras (QKeras included), Keras JSON architecture (+ --weights), "
                   "QONNX .onnx, or a `codesign train` run directory")
    p.add_argument("--weights", help="weights .h5 for a JSON architecture")
    p.add_argument("--hls-config", help="hls4ml configuration YAML (Model:, LayerName: ...); flags override it")
    p.add_argument("--target", help="FPGA target from targets/ (default xcvu13p)")
    p.add_argument("--part", help="an FPGA part string instead of a target (e.g. xcku115-flvb2104-2-e)")
    p.add_argument("--clock-ns", type=arg.positive, help="clock period (default: the target's, or 5 ns with --part)")
    p.add_argument("--precision", help="default precision for everything no quantizer fixes, e.g. 'ap_fixed<16,6>'")
    p.add_argument("--reuse-factor", type=arg.count)
    p.add_argument("--strategy", choices=["latency", "resource", "da"],
                   help="hls4ml strategy; da = distributed arithmetic (da4ml, no DSPs)")
    p.add_argument("--backend", default="Vitis", choices=["Vitis", "Vivado"])
    p.add_argument("--budget", help="limits to check, e.g. lut=50000,dsp=500,latency_ns=100 (exit 1 if over)")
    p.add_argument("--json", action="store_true", help="machine-readable totals")
    p.add_argument("--synth", action="store_true", help="also run vendor synthesis (needs vitis_hls/vivado on PATH)")
    p.add_argument("--synth-dir", help="project directory for --synth (default runs/synth/<time>)")
    p.add_argument("--report", help="an hls4ml project synthesised elsewhere: compare, and learn from its reports")
    p.add_argument("--calibration", metavar="FILE", help="learned-records file to read and add to (default: "
                   "$CODESIGN_DATA/calibration/<target>.jsonl, see `codesign calibration`)")
    p.add_argument("--trust-report", action="store_true", help="record a report even when its figures lie outside "
                   "a factor 10 of the estimate")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("calibration", help="list or remove the real reports that later estimates learn from")
    p.add_argument("action", choices=["list", "remove"])
    p.add_argument("numbers", nargs="*", type=arg.count, metavar="N", help="records to remove (numbers as listed)")
    p.add_argument("--target", help="the target whose records to show (default: every target with records)")
    p.add_argument("--calibration", metavar="FILE", help="a learned-records file instead of a target's")
    p.set_defaults(func=cmd_calibration)

    p = sub.add_parser("search", help="search a design space for the Pareto front of TPR at FPR 1e-5 vs resources")
    p.add_argument("--task", help="task name (default l1-anomaly)")
    p.add_argument("--space", help="search space YAML or name in search/ (default: the task's)")
    p.add_argument("--config", help="base training config or preset (default: the space's `base`)")
    p.add_argument("--target", default="xcvu13p", help="FPGA target from targets/ (default xcvu13p)")
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

    _dqm_parser(sub)

    p = sub.add_parser("generate", help="write synthetic ADC2021-layout h5 files (background + 4 signals)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n-background", type=arg.count, default=4_000_000)
    p.add_argument("--n-signal", type=arg.count, default=100_000)
    p.add_argument("--seed", type=arg.seed, default=1)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if getattr(args, "debug", False):
        args.verbose = True
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        runtime.quiet_libraries()
    runtime.catch_interrupts()
    try:
        status = args.func(args)
        runtime.check_interrupt()  # a Ctrl-C that a library swallowed still ends the command as interrupted
        return status
    except CodesignError as exc:
        print(f"codesign: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("codesign: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
