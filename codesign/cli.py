"""The `codesign` command.

Sub-commands import what they need when they run, so `codesign --help` stays instant.
User mistakes surface as one line on stderr and exit status 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from codesign import __version__
from codesign.errors import CodesignError, ConfigError

log = logging.getLogger("codesign")


def _signal_arg(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. Ato4l=Ato4l_lepFilter_13TeV.h5), got {text!r}")
    return name, path


def _default_run_dir(kind: str, seed: int | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / kind / (stamp if seed is None else f"{stamp}-seed{seed}")


PRESETS = Path(__file__).resolve().parent / "presets"


def resolve_config(name: str) -> Path:
    """A YAML path as given, or the name of a preset shipped with codesign (see `codesign presets`)."""
    path = Path(name)
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in name:
        return path
    preset = PRESETS / f"{name}.yaml"
    if not preset.is_file():
        known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml")))
        raise ConfigError(f"{name}: no such config file or preset (presets: {known})")
    return preset


def _task_config(args):
    """The task's config from --config (or defaults), with command-line overrides applied and re-validated."""
    from codesign import config as cfg
    from codesign import tasks

    if args.config:
        args.config = str(resolve_config(args.config))
    data = cfg.read_yaml(args.config) if args.config else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{args.config}: expected a mapping of keys at the top level")
    name = args.task or data.get("task") or "l1-anomaly"
    if args.task and data.get("task") and data["task"] != args.task:
        raise ConfigError(f"{args.config}: task is {data['task']!r} but --task says {args.task!r}")
    task = tasks.get(name)
    data = {**data, "task": name}
    if args.seed is not None:
        data["seed"] = args.seed
    if args.data or args.signal:
        section = dict(data.get("data") or {})
        if args.data:
            section["background_file"] = args.data
        if args.signal:
            section["signal_files"] = dict(args.signal)
            section["signals"] = [n for n, _ in args.signal]
        data["data"] = section
    return task, cfg.parse(task.Config, data, args.config or "command line")


def cmd_train(args) -> int:
    from codesign.tasks.base import format_scores, prepare_run_dir, save_run, train_and_score

    task, config = _task_config(args)
    out = prepare_run_dir(Path(args.out) if args.out else _default_run_dir(config.task, config.seed), args.force)
    dataset = task.load_data(config)
    result = train_and_score(config, dataset, verbose=2 if args.verbose else 0)
    save_run(out, config, result)
    label = _describe(config)
    print(format_scores({label: result.scores}))
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
    from codesign.tasks.base import format_scores, prepare_run_dir, save_run, train_and_score

    out = Path(args.out) if args.out else _default_run_dir("demo")
    runs = {}
    dataset = None
    for preset in ("demo_float", "demo_q8_pruned"):
        config = cfg.load(l1_anomaly.Config, PRESETS / f"{preset}.yaml")
        if args.seed is not None:
            config = cfg.parse(l1_anomaly.Config, {**config.model_dump(mode="json"), "seed": args.seed}, preset)
        if dataset is None:
            print(f"generating {config.data.n_train + config.data.n_val + config.data.n_test:,} background and "
                  f"{len(config.data.signals)} x {config.data.n_signal:,} signal events ...", flush=True)
            dataset = l1_anomaly.load_data(config)
        print(f"training {_describe(config)} ...", flush=True)
        result = train_and_score(config, dataset)
        save_run(prepare_run_dir(out / preset, args.force), config, result)
        runs[_describe(config)] = result.scores
    print(format_scores(runs))
    print(f"runs written to {out}")
    return 0


def cmd_generate(args) -> int:
    from codesign.tasks import l1_anomaly

    out = Path(args.out)
    existing = [p for p in out.glob("*.h5")] if out.exists() else []
    if existing and not args.force:
        raise CodesignError(f"{out}: already holds {len(existing)} h5 file(s); choose another --out or pass --force")
    for path in l1_anomaly.write_synthetic(out, args.n_background, args.n_signal, args.seed):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codesign",
        description="Hardware co-design of real-time anomaly detection for particle-physics triggers.")
    parser.add_argument("--version", action="version", version=f"codesign {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (and Keras epochs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="small end-to-end run on generated data (float vs quantized+pruned)")
    p.add_argument("--out", help="run directory (default runs/demo/<time>)")
    p.add_argument("--seed", type=int)
    p.add_argument("--force", action="store_true", help="overwrite runs already in --out")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train one model of a task and score it (AUC, TPR at FPR 1e-5)")
    p.add_argument("--task", help="task name (default: the config's task, else l1-anomaly)")
    p.add_argument("--config", help="YAML training config, or a preset name: "
                   "l1_baseline, l1_q8_pruned, ... (files in codesign/presets/)")
    p.add_argument("--out", help="run directory (default runs/<task>/<time>-seed<seed>)")
    p.add_argument("--data", help="background h5 file in the ADC2021 layout (default: generated events)")
    p.add_argument("--signal", action="append", type=_signal_arg, metavar="NAME=PATH",
                   help="signal h5 file (repeatable); needs --data")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--force", action="store_true", help="overwrite a model already in --out")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="write synthetic ADC2021-layout h5 files (background + 4 signals)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n-background", type=int, default=4_000_000)
    p.add_argument("--n-signal", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        return args.func(args)
    except CodesignError as exc:
        print(f"codesign: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("codesign: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
