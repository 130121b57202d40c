"""Single runs: `codesign train`, `demo`, `emulate` and `generate`."""

from __future__ import annotations

from pathlib import Path

from codesign import arguments as arg
from codesign import outdir
from codesign.cli.common import FORCE_HELP, TARGET_HELP, default_run_dir, resolve_config, signal_arg
from codesign.errors import CodesignError, ConfigError


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
            if not task.data_file_field:
                raise ConfigError(f"--data: the {name} task generates its data; it reads no file")
            section[task.data_file_field] = args.data
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
    task, config = _task_config(args)
    out = Path(args.out) if args.out else default_run_dir(config.task, config.seed)
    where = {"force": args.force, "inputs": [args.config, *_input_files(config)]}
    outdir.check(out, "train", **where)
    dataset = task.load_data(config)
    verbose = 2 if args.verbose else 0
    label = _describe(config)
    with outdir.staged(out, "train", **where) as stage:
        result = task.train(config, dataset, verbose=verbose, tensorboard=args.tensorboard)
        task.save_run(stage, config, result)
    print(task.format_results({label: result}))
    ebops = result.metadata.get("ebops")
    print(f"sparsity {result.metadata['sparsity']['overall']:.1%}, {result.metadata['parameters']} parameters, "
          + (f"{ebops:,.0f} EBOPs, " if ebops is not None else "")
          + f"{result.metadata['training']['epochs_run']} epochs in {result.metadata['training']['seconds']:.0f} s")
    print(f"run written to {out}")
    return 0


def _describe(config) -> str:
    spec = config.model
    q = spec.quantization
    name = f"HGQ, beta {config.training.hgq.beta:g}" if spec.quantizer == "hgq" else \
        "float" if q is None else f"{q.weight.bits}-bit"
    if spec.pruning is not None:
        name += f", pruned {spec.pruning.sparsity:.0%}"
    return f"{spec.kind} {name}"


def cmd_demo(args) -> int:
    """Small end-to-end run on generated data: float baseline vs quantized+pruned, side by side."""
    from codesign import config as cfg
    from codesign import tasks

    task = tasks.get("l1-anomaly")
    out = Path(args.out) if args.out else default_run_dir("demo")
    configs = {}
    for preset in ("demo_float", "demo_q8_pruned"):
        config = cfg.load(task.Config, cfg.PRESETS / f"{preset}.yaml")
        if args.seed is not None:
            config = cfg.parse(task.Config, {**config.model_dump(mode="json"), "seed": args.seed}, preset)
        configs[preset] = config
    runs = {}
    with outdir.staged(out, "demo", force=args.force) as stage:
        first = configs["demo_float"]
        print(f"generating {first.data.n_train + first.data.n_val + first.data.n_test:,} background and "
              f"{len(first.data.signals)} x {first.data.n_signal:,} signal events ...", flush=True)
        dataset = task.load_data(first)
        for preset, config in configs.items():
            print(f"training {_describe(config)} ...", flush=True)
            result = task.train(config, dataset)
            task.save_run(stage / preset, config, result)
            runs[_describe(config)] = result
    print(task.format_results(runs))
    print(f"runs written to {out}")
    return 0


def cmd_emulate(args) -> int:
    """Score with the bit-exact emulator, cross-check N events against C-simulation, print the metrics.

    Everything it writes, the firmware project included, goes to --out (default: RUN/emulation).
    """
    from codesign import emulation
    from codesign.hardware import targets

    path = Path(args.model)
    target = targets.load(args.target)
    options = emulation.firmware_options(args.firmware_config, args.reuse_factor, args.strategy)
    signals = dict(args.signal or [])
    inputs = [path if path.is_file() else path / "model", args.data, args.firmware_config, *signals.values()]
    if path.is_dir():
        out = Path(args.out) if args.out else path / "emulation"
    elif not args.data or not args.signal:
        raise CodesignError(f"{path}: a model file needs --data BACKGROUND.h5 and --signal NAME=PATH "
                            "(a run directory brings its own data)")
    else:
        out = Path(args.out) if args.out else default_run_dir("emulate")
    where = {"force": args.force, "inputs": inputs}
    outdir.check(out, "emulate", **where)
    if path.is_dir():
        run = emulation.from_run(path, args.data, signals)
        own_data = not (args.data or args.signal)  # the training run's Keras figures are comparable
        with outdir.staged(out, "emulate", **where) as stage:
            status = run.task.emulate(run.model, run.config, run.preprocessor, run.data, options, target, stage,
                                      args.csim_check, run_dir=path if own_data else None)
    else:
        with outdir.staged(out, "emulate", **where) as stage:
            status = emulation.emulate_file(path, args.data, signals, options, target, stage, args.csim_check)
    print(f"results in {out}")
    return status


def cmd_generate(args) -> int:
    from codesign.tasks import l1_anomaly

    out = Path(args.out)
    with outdir.staged(out, "generate", force=args.force) as stage:
        names = [p.name for p in l1_anomaly.write_synthetic(stage, args.n_background, args.n_signal, args.seed)]
    for name in names:
        print(out / name)
    return 0


def add(sub) -> None:
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
    p.add_argument("--signal", action="append", type=signal_arg, metavar="NAME=PATH",
                   help="signal h5 file (repeatable); needs --data")
    p.add_argument("--seed", type=arg.seed, help="override the config's seed")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs of the training to DIR")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("emulate", help="score with the bit-exact firmware emulator, cross-checked against C-sim")
    p.add_argument("model", help="a run directory (from `codesign train`) or a Keras .h5/.keras model file")
    p.add_argument("--data", help="background h5 file (ADC2021 layout); default: the run's own test data")
    p.add_argument("--signal", action="append", type=signal_arg, metavar="NAME=PATH", help="signal h5 (repeatable)")
    p.add_argument("--csim-check", type=arg.natural, default=2000, metavar="N",
                   help="events to compare bit for bit against hls4ml C-simulation (default 2000, plus edge cases)")
    p.add_argument("--target", default="xcvu13p", help=TARGET_HELP)
    p.add_argument("--firmware-config", help="YAML with firmware options (precision sizing, strategy, reuse)")
    p.add_argument("--reuse-factor", type=arg.count)
    p.add_argument("--strategy", choices=["latency", "resource"])
    p.add_argument("--out", help="where to write the firmware scores (default RUN_DIR/emulation)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_emulate)


def add_generate(sub) -> None:
    p = sub.add_parser("generate", help="write synthetic ADC2021-layout h5 files (background + 4 signals)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n-background", type=arg.count, default=4_000_000)
    p.add_argument("--n-signal", type=arg.count, default=100_000)
    p.add_argument("--seed", type=arg.seed, default=1)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_generate)
