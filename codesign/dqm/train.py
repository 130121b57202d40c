"""`codesign dqm train`: fit one algorithm under a tag, score every run, add the columns to the table.

The split is decided once per tag and saved with the model: runs missing a histogram or below
`min_entries` in any are set aside; bad runs (label 1) only ever go to the test set; the other
runs are shuffled (seeded) into train / val / test. Nothing trained is overwritten: a tag that
exists is loaded and re-applied, and a different algorithm or configuration under it is refused.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ConfigDict, Field, field_validator

from codesign import outdir, provenance
from codesign.config import Frozen, parse, read_mapping
from codesign.data import dqm_table as tbl
from codesign.dqm import algorithms as algos
from codesign.dqm import tags
from codesign.errors import ConfigError, DataError

log = logging.getLogger("codesign")
SPLIT_FILE = "split.json"


class TrainSettings(Frozen):
    """What `--config` (JSON or YAML, AutoDQM_ML's keys) may hold; command-line flags override it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    algorithm: str = Field(alias="name")
    input_file: str
    output_dir: str
    tag: str
    histograms: list[str] | None = None
    config: dict = {}
    min_entries: int = Field(10_000, ge=0)
    train_fraction: float = Field(0.5, gt=0.0, lt=1.0)
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="of the training runs, held out for validation")
    seed: int = 0

    @field_validator("histograms", mode="before")
    @classmethod
    def _comma_list(cls, value):
        if isinstance(value, str):
            value = [h.strip() for h in value.split(",") if h.strip()]
        return value or None

    @field_validator("tag")
    @classmethod
    def _safe_tag(cls, value: str) -> str:
        return tags.check(value)


@dataclass
class TrainRun:
    output: Path
    model_dir: Path
    loaded: bool
    counts: dict[str, int]
    lines: list[str]
    seconds: float


def read_settings(path: str | None, overrides: dict) -> TrainSettings:
    """The config file (if any) with the non-None command-line values on top."""
    data: dict = {}
    if path:
        p = Path(path)
        if p.suffix == ".json":
            try:
                data = json.loads(p.read_text())
            except FileNotFoundError:
                raise ConfigError(f"{p}: no such file") from None
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{p}: invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
                                  "expected an object like {\"name\": \"pca\", \"tag\": \"..\", \"config\": {..}}") \
                    from None
        else:
            data = read_mapping(p)
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected an object of settings at the top level, got {type(data).__name__}")
    options = dict(data.get("config") or {})
    options.update(overrides.pop("config", {}))
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}, "config": options}
    if "name" in data and "algorithm" in data:
        data.pop("name")
    return parse(TrainSettings, data, path or "command line")


def assign_split(runs: np.ndarray, labels: np.ndarray, missing: np.ndarray, low: np.ndarray, settings: TrainSettings,
                 force_train: int | None = None) -> np.ndarray:
    """train / val / test / low_stat / missing per run; bad runs never in train or val."""
    split = np.full(len(runs), "test", dtype=object)
    split[low] = "low_stat"
    split[missing] = "missing"
    eligible = np.flatnonzero(~missing & ~low & (labels != 1))
    order = np.random.default_rng(settings.seed).permutation(eligible)
    train = list(order[: int(round(settings.train_fraction * len(order)))])
    fixed = np.flatnonzero(runs == force_train)[:1] if force_train is not None else []
    if len(fixed) and fixed[0] in eligible and fixed[0] not in train:  # a fixed reference run trains
        train = [*train[:-1], fixed[0]] if train else [fixed[0]]
    n_val = int(round(settings.val_fraction * len(train)))
    val = [i for i in train if runs[i] != force_train][:n_val]
    split[np.asarray(train, dtype=np.int64)] = "train"
    split[np.asarray(val, dtype=np.int64)] = "val"
    return split


def _load_existing(model_dir: Path, algo: algos.Algorithm, histograms: list[str]) -> algos.Algorithm:
    saved = algos.load(model_dir)
    if saved.name != algo.name or saved.config != algo.config:
        raise ConfigError(f"tag {model_dir.name!r} already holds a {saved.name} with "
                          f"{json.dumps(saved.config.model_dump(mode='json'), sort_keys=True)[:200]}; "
                          "choose a new --tag (trained models are never overwritten)")
    extra = [h for h in histograms if h not in saved.histograms]
    if extra:
        raise ConfigError(f"tag {model_dir.name!r} was trained on {len(saved.histograms)} other histogram(s); "
                          f"{extra[0]!r} is not among them: choose a new --tag")
    return saved


def run(settings: TrainSettings) -> TrainRun:
    start = time.perf_counter()
    source = Path(settings.input_file)
    out_dir = Path(settings.output_dir)
    output = out_dir / source.name
    table = tbl.read(source)
    if output.exists() and output.resolve() != source.resolve():
        # Chaining without naming the previous output as input must not drop its columns.
        previous = tbl.read(output)
        if not np.array_equal(np.sort(previous.runs), np.sort(table.runs)):
            raise DataError(f"{output}: already exists with other runs than {source}; pass it as --input_file "
                            "to add this tag to it, or choose another --output_dir")
        log.info("adding tag %r to the existing %s", settings.tag, output)
        table = previous
    histograms = settings.histograms or table.histograms
    for h in histograms:
        table.info(h)  # DataError naming the known histograms
    algo = algos.make(settings.algorithm, settings.config, settings.seed, f"{settings.algorithm} options")
    runs = table.runs
    labels = table.labels if table.labels is not None else np.full(len(runs), -1)
    values = {h: table.values(h) for h in histograms}
    entries = {h: np.nansum(v.reshape(len(v), -1), axis=1) for h, v in values.items()}
    missing = np.logical_or.reduce([np.isnan(v.reshape(len(v), -1)).any(axis=1) for v in values.values()])
    low = ~missing & np.logical_or.reduce([e < settings.min_entries for e in entries.values()])
    lines = []
    if missing.any():
        lines.append(f"{int(missing.sum())}/{len(runs)} runs lack one or more of the histograms: not used")
    lines.append(f"removing {int(low.sum())}/{len(runs)} runs in which one or more of the {len(histograms)} "
                 f"histogram(s) had fewer than {settings.min_entries} entries")
    infos = {h: table.info(h) for h in histograms}
    everything = algos.Runs(runs, values, infos)

    model_dir = tags.model_dir(out_dir, settings.tag)
    loaded = (model_dir / algos.STATE_FILE).is_file()
    if loaded:
        algo = _load_existing(model_dir, algo, histograms)
        saved_split = json.loads((model_dir / SPLIT_FILE).read_text())
        split = np.array([saved_split.get(str(r), "test") for r in runs], dtype=object)
        split[low] = "low_stat"
        split[missing] = "missing"
        lines.append(f"tag {settings.tag!r} already trained in {model_dir}: loaded, not retrained "
                     "(a new --tag trains afresh)")
    else:
        reference = getattr(algo.config, "reference", None)
        split = assign_split(runs, labels, missing, low, settings, reference)
        if not (split == "train").any():
            raise DataError(f"{source}: no run is usable for training (all missing, below {settings.min_entries} "
                            "entries, or labelled bad); lower --min_entries or check the histograms")
        t = time.perf_counter()
        algo.fit(everything.subset(split == "train"), everything.subset(split == "val"))
        fit_seconds = time.perf_counter() - t
        if model_dir.exists():
            raise ConfigError(f"{model_dir}: exists but holds no {algos.STATE_FILE} (an interrupted training?); "
                              "delete it or choose a new --tag")
        with outdir.fresh(model_dir) as tmp:
            tmp.rmdir()
            algo.save(tmp)
            (tmp / SPLIT_FILE).write_text(json.dumps({str(r): s for r, s in zip(runs.tolist(), split)}) + "\n")
            (tmp / "settings.json").write_text(json.dumps({
                "settings": settings.model_dump(mode="json", by_alias=False), "histograms": histograms,
                "fit_seconds": round(fit_seconds, 2), "provenance": provenance.record(seed=settings.seed)},
                indent=1, default=str) + "\n")
        lines.append(f"trained {algo.name} on {int((split == 'train').sum())} runs "
                     f"({int((split == 'val').sum())} validation) in {fit_seconds:.1f} s; saved to {model_dir}")
    scored = algo.score(everything)
    frame = table.frame.copy()
    for h in histograms:
        frame[f"{h}{tbl.SCORE}{settings.tag}"] = scored[h].score
        if scored[h].reco is not None:
            table.arrays[f"{h}{tbl.RECO}{settings.tag}"] = scored[h].reco
    frame[f"{tbl.SPLIT}{settings.tag}"] = split.astype(str)
    counts = {k: int((split == k).sum()) for k in ("train", "val", "test", "low_stat", "missing")}
    meta = dict(table.meta)
    meta["tags"] = {**meta.get("tags", {}), settings.tag: {
        "algorithm": algo.name, "config": algo.config.model_dump(mode="json"), "histograms": histograms,
        "seed": settings.seed, "min_entries": settings.min_entries, "split": counts,
        "model_dir": str(Path(tags.MODELS_DIR) / settings.tag), "provenance": provenance.record(seed=settings.seed)}}
    tbl.write(output, tbl.Table(frame, table.arrays, table.infos, meta))
    lines.append(f"scores added as '<histogram>{tbl.SCORE}{settings.tag}'"
                 + (f" and reconstructions as '<histogram>{tbl.RECO}{settings.tag}'" if algo.reconstructs else "")
                 + f"; saved to {output}")
    return TrainRun(output, model_dir, loaded, counts, lines, time.perf_counter() - start)
