"""A per-lumisection series file: one histogram per lumisection (LS), as `codesign dqm lumisections` reads it.

Columns ``run``, ``lumisection`` (1-based within the run), ``lumi``, ``label`` (0 good, 1 anomalous,
-1 unknown), ``kind`` and one list<float64> column of bin contents named after the histogram; edges
etc. in the ``codesign.dqm`` schema metadata (`codesign.data.dqm_table`'s layout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.data import dqm_table as tbl
from codesign.data import lumi_generator as lg
from codesign.data import parquet
from codesign.errors import ConfigError, DataError

HISTOGRAM = "METSig"
SERIES_COLUMNS = ("run", "lumisection", "lumi", "label", "kind")


@dataclass(frozen=True)
class Monitored:
    """A series as read from a file, with the run and lumisection numbers of its rows."""

    series: lg.Series
    run: np.ndarray  # (n_ls,) int64
    lumisection: np.ndarray  # (n_ls,) int64, 1-based within the run
    histogram: str
    path: Path | None = None


def write_series(path, series: lg.Series, run=1, histogram: str = HISTOGRAM) -> Path:
    """One row per LS, bins as a list column named after the histogram; atomic (temporary file, rename).

    `run`: one run number for the whole series, or one per LS (lumisections then count from 1 in each run,
    in the given order). The edges go into the same `codesign.dqm` metadata the per-run tables carry, so
    pandas, pyarrow or awkward read the file as they read those.
    """
    import pandas as pd

    n = len(series)
    runs = np.broadcast_to(np.asarray(run, dtype=np.int64), (n,)).copy()
    if not histogram or histogram in SERIES_COLUMNS:
        raise ConfigError(f"histogram name {histogram!r}: empty or a series column ({', '.join(SERIES_COLUMNS)})")
    lumisection = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        lumisection[i] = lumisection[i - 1] + 1 if runs[i] == runs[i - 1] else 1
    frame = pd.DataFrame({"run": runs, "lumisection": lumisection, "lumi": np.asarray(series.lumi, np.float64),
                          "label": np.asarray(series.labels, np.int8), "kind": [str(k) for k in series.kinds]})
    edges = tuple(float(e) for e in series.edges)
    info = tbl.HistogramInfo(histogram, "TH1D", (series.counts.shape[1],), (edges,), histogram, (histogram,))
    return tbl.write(path, tbl.Table(frame, {histogram: series.counts}, {histogram: info},
                                     {"series": {"histogram": histogram, "n_ls": n}}))


def read(path, histogram: str | None = None) -> Monitored:
    """A series file, rows sorted by (run, lumisection), checked: one-line DataError naming the file otherwise.

    `histogram`: which list column holds the bins (default: the only one, or the one the metadata names).
    Missing `label` / `kind` / `lumi` columns read as -1 / '' / NaN: a series of real data has no labels.
    """
    import pyarrow as pa

    path = Path(path)
    table = parquet.read(path, "a lumisection series (parquet, e.g. from 'codesign dqm lumisections generate')")
    meta = parquet.metadata(table, tbl.META_KEY, path) or {}
    lists = [n for n in table.column_names
             if pa.types.is_list(table.schema.field(n).type) or pa.types.is_large_list(table.schema.field(n).type)]
    if histogram is None:
        named = (meta.get("series") or {}).get("histogram")
        if named in lists:
            histogram = named
        elif len(lists) == 1:
            histogram = lists[0]
        else:
            raise DataError(f"{path}: {len(lists)} list columns of bin contents ({', '.join(lists) or 'none'}); "
                            "expected one, or name it with --histogram")
    if histogram not in lists:
        raise DataError(f"{path}: no list column {histogram!r} of bin contents (list columns: "
                        f"{', '.join(lists) or 'none'})")
    for name in ("run", "lumisection"):
        if name not in table.column_names:
            raise DataError(f"{path}: no {name!r} column; expected columns run, lumisection and {histogram!r}")
    counts = _bins(table.column(histogram), str(path))
    frame = table.select([c for c in table.column_names if c not in lists]).to_pandas()
    try:
        run = frame["run"].to_numpy(dtype=np.int64)
        lumisection = frame["lumisection"].to_numpy(dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: run and lumisection must be integers ({exc})") from None
    n = len(frame)
    labels = np.full(n, -1, np.int8)
    if "label" in frame:
        raw = frame["label"].fillna(-1).to_numpy()
        bad = ~np.isin(raw, (-1, 0, 1)) if raw.dtype.kind in "biuf" else np.ones(n, bool)
        if bad.any():
            raise DataError(f"{path}: column 'label' holds {raw[np.flatnonzero(bad)[0]]!r} (row "
                            f"{int(np.flatnonzero(bad)[0])}); expected 1 (anomalous), 0 (good) or -1/empty (unlabelled)")
        labels = raw.astype(np.int8)
    kinds = frame["kind"].fillna("").astype(str).to_numpy() if "kind" in frame else np.full(n, "", dtype=object)
    lumi = frame["lumi"].to_numpy(dtype=np.float64) if "lumi" in frame else np.full(n, np.nan)
    order = np.lexsort((lumisection, run))
    pairs = np.stack([run[order], lumisection[order]], axis=1)
    dup = np.flatnonzero(np.all(pairs[1:] == pairs[:-1], axis=1))
    if dup.size:
        r, ls = pairs[dup[0]]
        raise DataError(f"{path}: run {r} lumisection {ls} appears more than once ({dup.size} duplicate row(s))")
    edges = _edges(meta, histogram, counts.shape[1], str(path))
    series = lg.Series(counts[order], labels[order], np.asarray(kinds, dtype=str)[order], lumi[order], edges)
    return Monitored(series, run[order], lumisection[order], histogram, path)


def read_series(path, histogram: str | None = None) -> lg.Series:
    """The `Series` of a series file (see `read` for the checks)."""
    return read(path, histogram).series


def _bins(column, source: str) -> np.ndarray:
    """A list<float> column -> (n_ls, n_bins), via `lumi_generator.check` (NaN bins, differing binnings)."""
    import pyarrow as pa

    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if isinstance(column, pa.ChunkedArray):
        column = pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], type=column.type)
    nulls = int(column.null_count)
    if nulls:
        first = int(np.flatnonzero(np.asarray(column.is_null().to_numpy(zero_copy_only=False)))[0])
        raise DataError(f"{source}: {nulls} lumisection(s) without bin contents (null), first at row {first}; "
                        "expected one histogram per lumisection")
    lengths = np.asarray(column.value_lengths().to_numpy(zero_copy_only=False))
    if len(lengths) == 0:
        raise DataError(f"{source}: holds no lumisections")
    if np.any(lengths != lengths[0]):
        return lg.check(column.to_pylist(), source)  # raises: different numbers of bins
    flat = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    return lg.check(flat.reshape(len(lengths), int(lengths[0])), source)


def _edges(meta: dict, histogram: str, n_bins: int, source: str) -> np.ndarray:
    info = (meta.get("histograms") or {}).get(histogram)
    if not info:
        return np.arange(n_bins + 1, dtype=np.float64)  # no metadata: bin numbers
    try:
        edges = np.asarray(info["edges"][0], dtype=np.float64)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DataError(f"{source}: corrupt edges for {histogram!r} in the metadata ({exc})") from None
    if len(edges) != n_bins + 1:
        raise DataError(f"{source}: {histogram!r} holds {n_bins} bins, its metadata gives {len(edges)} edges")
    return edges



def is_series(path: Path) -> bool:
    """Whether `path` is a series file written by codesign (what `generate --force` may replace)."""
    import json

    import pyarrow.parquet as pq

    if not path.is_file() or path.is_symlink():
        return False
    try:
        meta = (pq.read_schema(path).metadata or {}).get(tbl.META_KEY)
        return meta is not None and "series" in json.loads(meta)
    except Exception:  # noqa: BLE001 - any unreadable file is simply not ours
        return False


def generate(out, n_ls: int = 6000, seed: int = 1, anomaly_fraction: float = 0.03, run: int = 1,
             force: bool = False) -> tuple[Path, lg.Series]:
    """A generated series (`lumi_generator.generate`) as a series file; an existing file needs `force`."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not force:
            raise ConfigError(f"--out {out}: already exists; pass --force to replace it or choose another file")
        if not is_series(out):
            raise ConfigError(f"--out {out}: exists and is not a series written by codesign; --force replaces only "
                              "an earlier `codesign dqm lumisections generate` file")
    if not 0.0 <= anomaly_fraction < 1.0 or math.isnan(anomaly_fraction):
        raise ConfigError(f"--anomaly_fraction {anomaly_fraction}: expected a fraction in [0, 1)")
    series = lg.generate(n_ls=n_ls, seed=seed, anomaly_fraction=anomaly_fraction)
    return write_series(out, series, run=run), series
