"""The fetch step: per-run DQM ROOT files -> one histogram table per primary dataset (AutoDQM_ML's DataFetcher).

What it keeps from AutoDQM_ML: the contents and datasets JSON formats, production selection by substring of the
file name, the label rule, the ``"<subsystem>/<path>"`` column names and one parquet file per primary dataset.
What it does differently:

- files are found under an explicit `input_dir`, so nothing depends on the current directory or on where the
  JSON files live;
- a file that cannot be read, a histogram absent from a file, or a binning unlike the first file's is reported
  (one aggregated warning per cause) and leaves a null, never a crash or a silently shifted column;
- several files for one run (reprocessings, DQM versions) keep the highest version, with a warning;
- every converted file is cached under ``<output_dir>/.fetch/<pd>/`` (npz + JSON, never pickle), keyed by the
  file's size and mtime and by the contents list, so an interrupted fetch resumes where it stopped;
- primary datasets and tags become file names, so only ``[A-Za-z0-9_-]+`` is accepted: nothing is ever written
  outside `output_dir`. Histogram paths are only looked up inside ROOT files.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError, field_validator, model_validator

from codesign import provenance
from codesign.config import Frozen, describe_validation_error, read_yaml
from codesign.data import dqm_table
from codesign.errors import ConfigError, DataError
from codesign.runtime import check_interrupt

log = logging.getLogger("codesign")

SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")
FILE_NAME = re.compile(r"DQM_V(?P<version>\d+)_R(?P<run>\d+)__(?P<pd>[^/]+?)__Run(?P<year>\d{4})(?P<era>[A-Za-z]*)"
                       r"-(?P<production>.+?)(?:-v(?P<processing>\d+))?__DQMIO\.root")
FILE_PATTERN = "DQM_V<n>_R<run>__<primary dataset>__Run<year><era>-<production>-v<n>__DQMIO.root"
CACHE_VERSION = 1  # bump when what a cache entry holds changes
LABEL_BAD, LABEL_GOOD, LABEL_UNKNOWN = 1, 0, -1


# --- configuration ------------------------------------------------------------------------------------------


class Contents(Frozen):
    """Which histograms to fetch: subsystem directory -> paths inside it (AutoDQM's contents JSON)."""

    subsystems: dict[str, list[str]]

    @model_validator(mode="before")
    @classmethod
    def _bare_mapping(cls, data: Any) -> Any:
        """The file is the bare mapping {"CSC": [...]}; wrap it."""
        return {"subsystems": data} if isinstance(data, dict) and "subsystems" not in data else data

    @field_validator("subsystems")
    @classmethod
    def _check(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not value:
            raise ValueError("expected at least one subsystem with a list of histogram paths")
        for subsystem, paths in value.items():
            if not subsystem.strip():
                raise ValueError("expected a non-empty subsystem name")
            if not paths:
                raise ValueError(f"subsystem {subsystem!r}: expected a non-empty list of histogram paths")
            for path in paths:
                if not path.startswith("/"):
                    raise ValueError(f"{subsystem}: histogram path {path!r} must start with '/' "
                                     "(e.g. '/Run summary/L1TStage2EMTF/emtfTrackPhi')")
            if len(set(paths)) != len(paths):
                raise ValueError(f"subsystem {subsystem!r}: a histogram path is listed twice")
        return value

    @property
    def columns(self) -> list[tuple[str, str, str]]:
        """(column name, subsystem, path) in file order."""
        return [(f"{sub}/{path}", sub, path) for sub, paths in self.subsystems.items() for path in paths]


class YearSelection(Frozen):
    """One year of the datasets JSON: production substrings, eras, runs and the runs' labels."""

    productions: list[str] = []
    eras: list[str] | None = None
    runs: list[int] | None = None
    good_runs: list[int] | None = None
    bad_runs: list[int] | None = None

    @field_validator("runs", "good_runs", "bad_runs")
    @classmethod
    def _positive(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(r <= 0 for r in value):
            raise ValueError("expected positive run numbers")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> "YearSelection":
        both = sorted(set(self.good_runs or ()) & set(self.bad_runs or ()))
        if both:
            raise ValueError(f"run {both[0]} is in both good_runs and bad_runs")
        return self


class Datasets(Frozen):
    """Which files to fetch: primary datasets and, per year, selections and labels (AutoDQM's datasets JSON)."""

    primary_datasets: list[str]
    years: dict[int, YearSelection]

    @field_validator("primary_datasets")
    @classmethod
    def _safe(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one primary dataset")
        for name in value:
            if not SAFE_NAME.fullmatch(name):
                raise ValueError(f"primary dataset {name!r}: expected letters, digits, '_' or '-' only "
                                 "(it becomes a file name)")
        return value

    @field_validator("years")
    @classmethod
    def _some_year(cls, value: dict[int, YearSelection]) -> dict[int, YearSelection]:
        if not value:
            raise ValueError("expected at least one year, e.g. {\"2018\": {\"productions\": [\"UL2018\"]}}")
        return value

    @property
    def labelled(self) -> bool:
        return any(y.good_runs is not None or y.bad_runs is not None for y in self.years.values())


def _read(path: str | Path, what: str) -> Any:
    """A JSON (or YAML) file's data; ConfigError with file, line and column if it does not parse."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return read_yaml(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; expected a {what} JSON file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}); "
                          f"expected a {what} JSON object") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file; expected a {what} JSON object") from None


def _parse(cls, data: Any, path: str | Path, what: str, wrapper: str = ""):
    """Validate; `wrapper` is a key the model adds around the file's mapping, left out of error messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object ({what}) at the top level, got {type(data).__name__}")
    unknown = [key for key in data if key not in cls.model_fields] if not wrapper else []
    if unknown:  # before pydantic, which would first report the key this one misspells as missing
        close = difflib.get_close_matches(str(unknown[0]), list(cls.model_fields), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{path}: {unknown[0]}: unknown key ({hint}expected {', '.join(cls.model_fields)})")
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        message = describe_validation_error(exc, str(path))
        if wrapper:
            message = message.replace(f"{path}: {wrapper}.", f"{path}: ", 1).replace(f"{path}: {wrapper}:",
                                                                                     f"{path}:", 1)
        raise ConfigError(message) from None


def load_contents(path: str | Path) -> Contents:
    """AutoDQM's contents JSON: {"<subsystem>": ["/Run summary/...", ...], ...}."""
    return _parse(Contents, _read(path, "contents"), path, "subsystem -> list of histogram paths", "subsystems")


def load_datasets(path: str | Path) -> Datasets:
    """AutoDQM's datasets JSON: {"primary_datasets": [...], "years": {"2018": {"productions": [...], ...}}}."""
    return _parse(Datasets, _read(path, "datasets"), path, "primary_datasets and years")


# --- file names ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DQMName:
    """What a DQM file name says about its content."""

    version: int
    run: int
    primary_dataset: str
    year: int
    era: str
    production: str
    processing: int = 1  # the -v<n> of the reprocessing


def parse_filename(name: str) -> DQMName | None:
    """``DQM_V0001_R000315267__SingleMuon__Run2018A-12Nov2019_UL2018-v2__DQMIO.root`` -> its parts; None if the
    name is not a DQM file name."""
    m = FILE_NAME.fullmatch(Path(name).name)
    if m is None:
        return None
    return DQMName(int(m["version"]), int(m["run"]), m["pd"], int(m["year"]), m["era"], m["production"],
                   int(m["processing"] or 1))


# --- reading one file ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """What `fetch` did: output per primary dataset, file counts, skipped files (path, reason) and warnings."""

    outputs: dict[str, Path]
    n_files: int
    n_converted: int
    n_cached: int
    skipped: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]


class _Unreadable(Exception):
    """A file that cannot be read as a DQM ROOT file; the fetch skips it."""


def _histogram(obj) -> tuple[np.ndarray, dict]:
    """Bin contents without flow (2D: (nx, ny)) and the description HistogramInfo records."""
    values = np.asarray(obj.values(flow=False), dtype=np.float64)
    axes = [obj.member(f"f{a}axis") for a in "XY"[: values.ndim]]
    info = {"class": obj.classname, "shape": list(values.shape),
            "edges": [np.asarray(obj.axis(i).edges(flow=False), dtype=np.float64).tolist() for i in range(values.ndim)],
            "title": str(obj.member("fTitle")), "axis_labels": [str(a.member("fTitle")) for a in axes]}
    return values, info


def read_file(path: Path, run: int, contents: Contents) -> tuple[dict[str, np.ndarray], dict[str, dict], dict]:
    """Histograms of one DQM file: (values, infos, problems per column); _Unreadable if the file is broken."""
    import uproot

    values, infos, problems = {}, {}, {}
    try:
        with uproot.open(path) as f:
            size, end = path.stat().st_size, int(f.file.fEND)
            if size < end:  # what ROOT calls "file probably not closed": an interrupted copy or write
                raise _Unreadable(f"truncated ({size} of {end} bytes)")
            top = f"DQMData/Run {run}"
            if top not in f:
                raise _Unreadable(f"no '{top}' directory (the file name says run {run})")
            run_dir = f[top]
            for column, subsystem, hpath in contents.columns:
                try:
                    obj = run_dir[f"{subsystem}{hpath}"]  # a lookup inside the file, whatever the path holds
                except uproot.KeyInFileError:
                    problems[column] = "missing"
                    continue
                if isinstance(obj, uproot.ReadOnlyDirectory):
                    problems[column] = "a directory, not a TH1/TH2"
                elif not obj.classname.startswith(("TH1", "TH2")):
                    problems[column] = f"a {obj.classname}, not a TH1/TH2"
                else:
                    values[column], infos[column] = _histogram(obj)
    except _Unreadable:
        raise
    except Exception as exc:  # a corrupt file raises anything from OSError to zlib errors; skip it, say why
        text = " ".join(str(exc).split())
        raise _Unreadable(f"unreadable ({type(exc).__name__}: {text[:150]})") from None
    return values, infos, problems


# --- the per-file cache ---------------------------------------------------------------------------------------


def _contents_key(contents: Contents) -> str:
    return hashlib.sha256(json.dumps(contents.columns).encode()).hexdigest()[:16]


class _Cache:
    """One npz (arrays only, loaded without pickle) and one JSON per converted file, named by the file's absolute
    path; the JSON is written last and is the entry's commit mark, so an interruption leaves a whole entry or a
    stale one, which its stamp (size, mtime, contents list) rejects."""

    def __init__(self, directory: Path, contents: Contents):
        self.dir = directory
        self.contents_key = _contents_key(contents)

    def _paths(self, path: Path) -> tuple[Path, Path]:
        stem = hashlib.sha256(str(path).encode()).hexdigest()[:24]
        return self.dir / f"{stem}.json", self.dir / f"{stem}.npz"

    def _stamp(self, path: Path) -> dict:
        st = path.stat()
        return {"cache_version": CACHE_VERSION, "file": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "contents": self.contents_key}

    def load(self, path: Path):
        meta_path, npz_path = self._paths(path)
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("stamp") != self._stamp(path):
                return None
            with np.load(npz_path, allow_pickle=False) as npz:
                values = {column: npz[f"h{i}"] for i, column in enumerate(meta["columns"])}
            return values, meta["infos"], meta["problems"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, path: Path, values: dict, infos: dict, problems: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        meta_path, npz_path = self._paths(path)
        columns = list(values)
        tmp = npz_path.with_name(f".{npz_path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **{f"h{i}": values[c] for i, c in enumerate(columns)})
        tmp.replace(npz_path)
        meta = {"stamp": self._stamp(path), "columns": columns, "infos": infos, "problems": problems}
        tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(meta))
        tmp.replace(meta_path)


# --- selection ------------------------------------------------------------------------------------------------


def _select(input_dir: Path, datasets: Datasets, warn) -> dict[str, list[tuple[Path, DQMName]]]:
    """Files per primary dataset that pass the datasets filters; one file per run (the highest version)."""
    unnamed, chosen = [], {pd: {} for pd in datasets.primary_datasets}
    duplicates: dict[str, list[str]] = {}
    for path in sorted(p for p in input_dir.rglob("*.root") if p.is_file()):
        name = parse_filename(path.name)
        if name is None:
            unnamed.append(path.relative_to(input_dir).as_posix())
            continue
        year = datasets.years.get(name.year)
        if name.primary_dataset not in chosen or year is None:
            continue
        if year.productions and not any(p in path.name for p in year.productions):
            continue
        if year.eras is not None and name.era.upper() not in {e.upper().removeprefix(f"RUN{name.year}")
                                                             for e in year.eras}:
            continue
        if year.runs is not None and name.run not in year.runs:
            continue
        runs = chosen[name.primary_dataset]
        if name.run in runs:
            duplicates.setdefault(name.primary_dataset, []).append(str(name.run))
            rank = (name.processing, name.version, name.production)
            old = runs[name.run][1]
            if rank <= (old.processing, old.version, old.production):
                continue
        runs[name.run] = (path, name)
    if unnamed:
        warn(f"skipped {len(unnamed)} .root file{'s' if len(unnamed) > 1 else ''} not named like DQM files "
             f"({FILE_PATTERN}), e.g. {unnamed[0]}")
    for pd, runs in duplicates.items():
        unique = sorted(set(runs), key=int)
        warn(f"{pd}: {len(unique)} run{'s have' if len(unique) > 1 else ' has'} several files (versions or "
             f"productions), kept the highest version of each: runs {', '.join(unique[:10])}"
             f"{' ...' if len(unique) > 10 else ''}")
    return {pd: [runs[r] for r in sorted(runs)] for pd, runs in chosen.items()}


def label_for(year: YearSelection, run: int) -> int:
    """AutoDQM's rule: listed runs are bad (1) or good (0); the others are unknown (-1) when both lists are
    given, good when only bad_runs is, bad when only good_runs is."""
    good, bad = year.good_runs, year.bad_runs
    if bad is not None and run in bad:
        return LABEL_BAD
    if good is not None and run in good:
        return LABEL_GOOD
    if good is not None and bad is not None:
        return LABEL_UNKNOWN
    if bad is not None:
        return LABEL_GOOD
    if good is not None:
        return LABEL_BAD
    return LABEL_UNKNOWN  # this year names no runs while another year does


# --- fetch ------------------------------------------------------------------------------------------------------


def _check_name(value: str, what: str) -> None:
    if not SAFE_NAME.fullmatch(value):
        raise ConfigError(f"{what} {value!r}: expected letters, digits, '_' or '-' only (it becomes a file name "
                          "under the output directory)")


def _assemble(pd: str, rows: list[dict], contents: Contents, datasets: Datasets, warn):
    """The table of one primary dataset from its per-file results; nulls where a file lacks a histogram or has
    another binning than the first file that has it."""
    import pandas as pd_

    frame = pd_.DataFrame({
        "run_number": np.array([r["name"].run for r in rows], dtype=np.int64),
        "year": np.array([r["name"].year for r in rows], dtype=np.int64),
        "era": [r["name"].era for r in rows],
        "production": [r["name"].production for r in rows],
        "primary_dataset": [r["name"].primary_dataset for r in rows],
        "file": [r["rel"] for r in rows],
    })
    if datasets.labelled:
        frame["label"] = np.array([label_for(datasets.years[r["name"].year], r["name"].run) for r in rows],
                                  dtype=np.int8)
    arrays, infos = {}, {}
    for column, _, _ in contents.columns:
        have = [i for i, r in enumerate(rows) if column in r["values"]]
        reasons: dict[str, list[str]] = {}
        for r in rows:
            if column not in r["values"]:
                reasons.setdefault(r["problems"].get(column, "missing"), []).append(r["rel"])
        if not have:
            why = "; ".join(f"{'absent' if r == 'missing' else r} in {len(f)}" for r, f in reasons.items())
            warn(f"{pd}: {column!r}: no histogram in any of the {len(rows)} files ({why}); column left out")
            continue
        first = rows[have[0]]
        ref = first["infos"][column]
        out = np.full((len(rows), int(np.prod(ref["shape"]))), np.nan)
        other = []
        for i in have:
            info = rows[i]["infos"][column]
            if info["shape"] != ref["shape"] or not all(np.array_equal(a, b) for a, b in zip(info["edges"],
                                                                                             ref["edges"])):
                other.append(rows[i]["rel"])
                continue
            out[i] = rows[i]["values"][column].ravel()  # C order of (nx, ny)
        for reason, files in reasons.items():
            warn(f"{pd}: {column!r} {'absent from' if reason == 'missing' else f'is {reason} in'} {len(files)} of "
                 f"{len(rows)} files (e.g. {files[0]}); null in those rows")
        if other:
            warn(f"{pd}: {column!r} has another binning than in {first['rel']} {ref['shape']} in {len(other)} "
                 f"file{'s' if len(other) > 1 else ''} (e.g. {other[0]}); null in those rows")
        arrays[column] = out
        infos[column] = dqm_table.HistogramInfo.from_dict(column, ref)
    return dqm_table.Table(frame, arrays, infos)


def fetch(input_dir: str | Path, contents: Contents | str | Path, datasets: Datasets | str | Path,
          output_dir: str | Path, tag: str = "", progress: bool = True) -> FetchResult:
    """Read the `contents` histograms of every DQM file under `input_dir` that `datasets` selects and write
    ``<output_dir>/[<tag>_]<pd>.parquet`` per primary dataset (`codesign.data.dqm_table` layout), resuming from the
    per-file cache. Unreadable files are skipped with a warning; a fetch that finds no file at all is an error."""
    from tqdm import tqdm

    if tag:
        _check_name(tag, "tag")
    contents = contents if isinstance(contents, Contents) else load_contents(contents)
    datasets = datasets if isinstance(datasets, Datasets) else load_datasets(datasets)
    for pd in datasets.primary_datasets:
        _check_name(pd, "primary dataset")
    input_dir, output_dir = Path(input_dir).resolve(), Path(output_dir)
    if not input_dir.is_dir():
        raise DataError(f"{input_dir}: no such directory; expected the directory holding the DQM ROOT files")

    warnings: list[str] = []

    def warn(message: str) -> None:
        log.warning(message)
        warnings.append(message)

    selected = _select(input_dir, datasets, warn)
    if not any(selected.values()):
        raise DataError(f"{input_dir}: no DQM file for primary datasets {', '.join(datasets.primary_datasets)} in "
                        f"years {', '.join(map(str, datasets.years))} passes the datasets selection (files are "
                        f"found recursively by name: {FILE_PATTERN})")
    outputs, skipped, n_converted, n_cached = {}, [], 0, 0
    for pd, files in selected.items():
        if not files:
            warn(f"{pd}: no file passes the datasets selection; no table written")
            continue
        cache = _Cache(output_dir / ".fetch" / pd, contents)
        rows, pd_skipped = [], []
        for path, name in tqdm(files, desc=f"fetch {pd}", unit="file", disable=not progress):
            check_interrupt()  # uproot's finalisers swallow a KeyboardInterrupt raised inside them
            rel = path.relative_to(input_dir).as_posix()
            hit = cache.load(path)
            if hit is None:
                try:
                    hit = read_file(path, name.run, contents)
                except _Unreadable as exc:
                    warn(f"{rel}: {exc}; skipped")
                    pd_skipped.append((rel, str(exc)))
                    continue
                cache.store(path, *hit)
                n_converted += 1
            else:
                n_cached += 1
            rows.append({"rel": rel, "name": name, "values": hit[0], "infos": hit[1], "problems": hit[2]})
        if pd_skipped:
            warn(f"{pd}: skipped {len(pd_skipped)} of {len(files)} files that could not be read")
        skipped += pd_skipped
        _warn_unmatched(pd, datasets, rows, warn)
        if not rows:
            warn(f"{pd}: no readable file; no table written")
            continue
        table = _assemble(pd, rows, contents, datasets, warn)
        table.meta = {"fetch": {
            "contents": contents.subsystems, "datasets": datasets.model_dump(mode="json"),
            "input_dir": str(input_dir), "tag": tag, "n_files": len(files), "n_rows": len(rows),
            "skipped": [{"file": f, "reason": r} for f, r in pd_skipped],
            "warnings": list(warnings), "provenance": provenance.record()}}
        out = output_dir / (f"{tag}_{pd}.parquet" if tag else f"{pd}.parquet")
        outputs[pd] = dqm_table.write(out, table)
    return FetchResult(outputs, sum(len(f) for f in selected.values()), n_converted, n_cached, tuple(skipped),
                       tuple(warnings))


def _warn_unmatched(pd: str, datasets: Datasets, rows: list[dict], warn) -> None:
    """Runs a year's `runs` list selects that no fetched file holds: typos, or files not there (yet)."""
    found = {(r["name"].year, r["name"].run) for r in rows}
    for year, sel in datasets.years.items():
        absent = sorted(r for r in sel.runs or () if (year, r) not in found)
        if absent:
            warn(f"{pd}: {len(absent)} run{'s' if len(absent) > 1 else ''} in years.{year}.runs not found among "
                 f"the fetched files: {', '.join(map(str, absent[:10]))}{' ...' if len(absent) > 10 else ''}")
