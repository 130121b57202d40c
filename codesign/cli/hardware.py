"""The FPGA side without a search: `codesign targets`, `estimate` and `calibration`."""

from __future__ import annotations

from pathlib import Path

from codesign import arguments as arg
from codesign.cli.common import TARGET_HELP, default_run_dir
from codesign.errors import ConfigError


def cmd_targets(args) -> int:
    """List the shipped FPGA targets (codesign/hardware/parts/) with their resources, clock and default budget."""
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


def cmd_estimate(args) -> int:
    """Resources and latency of a model on a target, without vendor tools."""
    import json

    from codesign.hardware import estimate, model_estimate, synth, targets

    budget = targets.Budget.parse(args.budget) if args.budget else None
    target, learned_file = model_estimate.target_of(args.target, args.part, args.clock_ns, args.calibration)
    if budget is not None:
        budget.check_part(target)
    synth_dir = Path(args.synth_dir or default_run_dir("synth")) if args.synth else None
    e = model_estimate.estimate_model(args.model, args.weights, target, learned_file, backend=args.backend,
                                      hls_config_file=args.hls_config, precision=args.precision,
                                      reuse_factor=args.reuse_factor, strategy=args.strategy, synth_dir=synth_dir,
                                      report=args.report, trust_report=args.trust_report)
    over = estimate.over_budget(e.result, budget) if budget is not None else []
    if args.json:
        out = e.result.summary()
        if budget is not None:
            out["over_budget"] = over
        if e.has_real:
            out["real"] = {"hls": e.real_hls.model_dump() if e.real_hls else None,
                           "synth": e.real_synth.model_dump() if e.real_synth else None}
        print(json.dumps(out, indent=2))
    else:
        print(f"{args.model} on {target.name} ({target.part}, {target.clock_period_ns:g} ns clock):")
        print(estimate.format_table(e.result, target.resources if target.resources.lut else None))
        if e.has_real:
            print(synth.compare(e.result, e.real_hls, e.real_synth))
            if e.recorded_in is not None:
                print(f"recorded in {e.recorded_in}: later estimates for {target.name} use it")
        if budget is not None:
            print("budget: fits" if not over else "budget: OVER — " + "; ".join(over))
    return 1 if over else 0


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
        print("\n".join(synth.describe_records(path)))
    return 0


def add(sub) -> None:
    p = sub.add_parser("targets", help="list the shipped FPGA targets (codesign/hardware/parts/*.yaml)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("estimate", help="FPGA resources and latency of a model, without vendor tools")
    p.add_argument("model", help="Keras .h5/.keras (QKeras included), Keras JSON architecture (+ --weights), "
                   "QONNX .onnx, or a `codesign train` run directory")
    p.add_argument("--weights", help="weights .h5 for a JSON architecture")
    p.add_argument("--hls-config", help="hls4ml configuration YAML (Model:, LayerName: ...); flags override it")
    p.add_argument("--target", help=TARGET_HELP)
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
