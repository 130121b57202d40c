"""Data Quality Monitoring: `codesign dqm generate | fetch | train | assess` and `dqm lumisections ...`."""

from __future__ import annotations

from pathlib import Path

from codesign import arguments as arg
from codesign import outdir
from codesign.cli.common import FORCE_HELP, both, csv_list
from codesign.errors import ConfigError


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


def cmd_dqm_assess(args) -> int:
    """AutoDQM_ML's assess.py: score diagnostics, ROC + bootstrap, false-alarm tables, run-level flags, webpage."""
    from codesign.dqm import assess

    if not args.input_file or not args.output_dir:
        raise ConfigError("codesign dqm assess needs --input_file (a table from `codesign dqm train`) and --output_dir")
    formats = tuple(csv_list(args.format, flag="--format") or ())
    result = assess.assess(args.input_file, args.output_dir, histograms=csv_list(args.histograms),
                           tags=csv_list(args.algorithms), runs=csv_list(args.runs, int, "--runs"), n_runs=args.n_runs,
                           n_top=args.n_top, tprs=tuple(csv_list(args.tprs, float, "--tprs")),
                           n_bootstrap=args.n_bootstrap, seed=args.seed, make_webpage=args.make_webpage,
                           flag_counts=tuple(csv_list(args.flag_counts, int, "--flag_counts")), truth=args.truth,
                           formats=formats, force=args.force)
    for line in result.lines:
        print(line)
    return 0


def cmd_dqm_lumi_generate(args) -> int:
    """A generated per-lumisection series (METSig-like, over fills, labelled anomalies) as parquet."""
    from codesign.dqm import lumi_series

    path, series = lumi_series.generate(args.out, n_ls=args.n_ls, seed=args.seed,
                                        anomaly_fraction=args.anomaly_fraction, run=args.run, force=args.force)
    kinds = ", ".join(f"{k} {int((series.kinds == k).sum())}" for k in ("empty", "noisy", "shifted", "burst"))
    print(f"{len(series)} lumisections of run {args.run}, {int(series.labels.sum())} anomalous ({kinds}) -> {path}")
    return 0


def cmd_dqm_lumi_train(args) -> int:
    """Seed 000's per-lumisection autoencoders: train (or reload) a tag, score every LS, flag, write scores."""
    from codesign.dqm import lumi_model, lumisections

    if not args.input_file or not args.output_dir or not args.tag:
        raise ConfigError("codesign dqm lumisections train needs --input_file (a series), --output_dir and --tag")
    units = csv_list(args.units, int, "--units")
    split = csv_list(args.split, float, "--split")
    settings = lumi_model.settings_from({
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
    result = lumi_assess.assess(args.input_file, args.output_dir, series_file=args.series, tags=csv_list(args.tags),
                                n_bootstrap=args.n_bootstrap, seed=args.seed,
                                formats=tuple(csv_list(args.format, flag="--format") or ()), force=args.force)
    for line in result.lines:
        print(line)
    return 0


def _debug_and_run(p, func) -> None:
    """A DQM step's last option (--debug, as -v) and the function it runs."""
    p.add_argument("--debug", action="store_true", help="log every step (as -v)")
    p.set_defaults(func=func)


def _lumi_parser(dsub) -> None:
    lumi = dsub.add_parser("lumisections", help="per-lumisection monitoring (the INFN DQM hackathon's LSTM "
                           "autoencoders): dense and LSTM autoencoders over a series of one histogram per LS: "
                           "generate | train | assess")
    lsub = lumi.add_subparsers(dest="lumi_command", metavar="STEP")
    lumi.set_defaults(func=lambda a: (lumi.print_help(), 0)[1])

    p = lsub.add_parser("generate", help="a synthetic METSig series per LS with labelled anomalies (parquet)")
    p.add_argument("--out", required=True, help="parquet file to write")
    both(p, "n_ls", type=arg.count, default=6000, help="number of lumisections (default 6000)")
    p.add_argument("--seed", type=arg.seed, default=1)
    both(p, "anomaly_fraction", type=arg.fraction, default=0.03, help="fraction of anomalous LS (default 0.03)")
    p.add_argument("--run", type=arg.count, default=1, help="run number of the series (default 1)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    _debug_and_run(p, cmd_dqm_lumi_generate)

    p = lsub.add_parser("train", help="train (or reload) a tag on the training LS; score and flag every LS")
    both(p, "input_file", help="series parquet (columns run, lumisection, <histogram> bins; label/kind optional)")
    both(p, "output_dir", help="where scores.parquet, flagged_<tag>.csv and models/<tag>/ go; tags chain there")
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
    both(p, "batch_size", type=arg.count, help="default 32")
    both(p, "learning_rate", type=arg.positive, help="default 1e-3")
    p.add_argument("--patience", type=arg.natural, help="early-stopping patience in epochs (default 5)")
    p.add_argument("--bits", type=arg.count, help="QKeras weight bits (default: float)")
    p.add_argument("--split", help="train,val,test fractions, contiguous in LS order (default 0.6,0.2,0.2)")
    both(p, "train_on_bad", action="store_true", help="also train on LS labelled anomalous (the hackathon's blind "
          "training); by default they and the windows holding them are left out")
    threshold = p.add_mutually_exclusive_group()
    threshold.add_argument("--percentile", type=arg.percentile, help="flag above this percentile of the test LS scores "
                           "(the hackathon's rule; default 99.7)")
    both(threshold, "false_alarm", type=arg.open_fraction, help="flag above the threshold that this fraction of good "
          "validation LS exceed (needs >= 10 of them above it)")
    p.add_argument("--seed", type=arg.seed, help="training seed (default 0)")
    _debug_and_run(p, cmd_dqm_lumi_train)

    p = lsub.add_parser("assess", help="ROC and per-kind AUC of every tag on the test LS, MAE and cleaned-vs-"
                        "uncleaned plots, input vs reconstruction, summary.json/.md and index.html")
    both(p, "input_file", help="scores.parquet from `codesign dqm lumisections train`")
    p.add_argument("--series", help="the series it scored (default: the path recorded in the scores file)")
    both(p, "output_dir", help="figures, summary.json, summary.md, index.html; new or empty, or an earlier "
          "assess with --force")
    p.add_argument("--tags", help="comma-separated tags (default: every tag in the file)")
    both(p, "n_bootstrap", type=arg.count, default=100, help="bootstrap resamplings of ROC and AUC (default 100)")
    p.add_argument("--format", default="png", help="figure formats: png, pdf, svg (default png)")
    p.add_argument("--seed", type=arg.seed, default=0, help="bootstrap seed")
    p.add_argument("--force", action="store_true", help=FORCE_HELP.replace("--out", "--output_dir"))
    _debug_and_run(p, cmd_dqm_lumi_assess)


def add(sub) -> None:
    dqm = sub.add_parser("dqm", help="Data Quality Monitoring on per-run histograms (AutoDQM_ML's workflow): "
                         "generate | fetch | train | assess; per lumisection: lumisections")
    dsub = dqm.add_subparsers(dest="dqm_command", metavar="STEP")
    dqm.set_defaults(func=lambda a: (dqm.print_help(), 0)[1])

    p = dsub.add_parser("generate", help="synthetic per-run DQM ROOT files with labelled anomalies (uproot)")
    p.add_argument("--out", required=True, help="directory (the DQM GUI store layout: Run2018/SingleMuon/R000...)")
    p.add_argument("--runs", type=arg.count, default=600, help="number of runs (default 600)")
    p.add_argument("--seed", type=arg.seed, default=1)
    p.add_argument("--pd", default="SingleMuon", help="primary dataset name (default SingleMuon)")
    both(p, "bad_fraction", type=arg.fraction, default=0.1, help="runs with an incident (default 0.1)")
    both(p, "unlabelled_fraction", type=arg.fraction, default=0.1, help="runs left unlabelled (default 0.1)")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_dqm_generate)

    p = dsub.add_parser("fetch", help="DQM ROOT files -> one parquet per primary dataset (resumable)")
    both(p, "input_dir", help="directory searched for DQM_V*_R*__PD__Run*__DQMIO.root files "
          "(default: generate synthetic ones in OUTPUT_DIR/root)")
    p.add_argument("--contents", help="JSON: subsystem -> histogram paths (AutoDQM_ML's format)")
    p.add_argument("--datasets", help="JSON: primary_datasets, years -> productions/eras/runs/good_runs/bad_runs")
    both(p, "output_dir", help="where <PD>.parquet goes")
    p.add_argument("--tag", help="prefix of the output file names")
    p.add_argument("--seed", type=arg.seed, default=1, help="seed of the generated files when no --input_dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _debug_and_run(p, cmd_dqm_fetch)

    p = dsub.add_parser("train", help="train PCA / autoencoder / statistical tests on histograms; add score columns")
    both(p, "input_file", help="parquet from `codesign dqm fetch` (or from an earlier train, to chain tags)")
    both(p, "output_dir", help="where the extended parquet and models/<tag>/ go")
    p.add_argument("--algorithm", help="pca | autoencoder | statistical_tester (or a JSON/YAML config file)")
    p.add_argument("--config", help="JSON/YAML settings (AutoDQM_ML keys: name, tag, histograms, config: {..}); "
                   "flags override it")
    p.add_argument("--tag", help="names the model directory and the added columns; an existing tag is loaded")
    p.add_argument("--histograms", help="comma-separated histogram columns (default: all)")
    both(p, "n_components", type=arg.count, help="latent size (PCA, autoencoder)")
    p.add_argument("--reference", type=arg.natural, help="statistical tests: one fixed reference run")
    both(p, "n_references", type=arg.count, help="statistical tests: compare with the N good runs before (1, 4, 8)")
    p.add_argument("--test", choices=["ks", "chi2", "modified_chi2", "beta_binomial"],
                   help="statistical_tester: which test (default ks)")
    p.add_argument("--statistic", choices=["chi2", "max_pull"], help="beta_binomial: the score (default chi2)")
    both(p, "autoencoder_mode", choices=["individual", "simultaneous"],
          help="one autoencoder per histogram (default) or one for all")
    both(p, "merge_bins", type=arg.fraction, help="merge bins holding less than this mean fraction of entries")
    both(p, "min_entries", type=arg.natural, help="runs with fewer entries in any histogram are not used "
         "(default 10000)")
    both(p, "train_fraction", type=arg.open_fraction, help="fraction of usable good runs trained on (default 0.5)")
    p.add_argument("--seed", type=arg.seed, help="split and training seed (default 0)")
    _debug_and_run(p, cmd_dqm_train)

    p = dsub.add_parser("assess", help="score diagnostics, ROC curves with bootstrap bands, false-alarm tables, "
                        "run-level flags, original-vs-reconstructed plots, a static webpage")
    both(p, "input_file", help="parquet extended by `codesign dqm train`")
    both(p, "output_dir", help="plots, tables, summary.json (and index.html); new or empty, or an earlier "
          "assess with --force")
    p.add_argument("--histograms", help="comma-separated histogram columns (default: every scored one)")
    p.add_argument("--algorithms", help="comma-separated tags (default: every tag in the file)")
    p.add_argument("--runs", help="comma-separated run numbers for original-vs-reconstructed plots")
    both(p, "n_runs", type=arg.natural, default=3, help="random runs plotted when --runs is not given (default 3)")
    both(p, "n_top", type=arg.count, default=5, help="most anomalous runs listed per histogram and tag (default 5)")
    p.add_argument("--tprs", default="0.5,0.8,0.9,0.95,0.99", help="bad-run efficiencies of the false-alarm table")
    both(p, "n_bootstrap", type=arg.count, default=100, help="bootstrap resamplings of ROC and AUC (default 100)")
    both(p, "flag_counts", default="1,3,5", help="run-flag ROCs: runs with >= N flagged histograms (default 1,3,5)")
    p.add_argument("--truth", help="a generator's truth.json: also ROCs per histogram and anomaly kind")
    p.add_argument("--format", default="png", help="figure formats: png, pdf, svg (default png)")
    both(p, "make_webpage", action="store_true", help="write index.html, a browsable page of every plot")
    p.add_argument("--seed", type=arg.seed, default=0, help="bootstrap and random-run seed")
    p.add_argument("--force", action="store_true", help=FORCE_HELP.replace("--out", "--output_dir"))
    _debug_and_run(p, cmd_dqm_assess)

    _lumi_parser(dsub)
