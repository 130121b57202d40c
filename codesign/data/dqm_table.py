"""The DQM histogram table: one parquet file per primary dataset, one row per run.

(Here in `codesign.data` because the ROOT reader, `dqm_root`, writes it; `codesign.dqm` reads and extends it.)

Layout (what `codesign dqm fetch` writes and `train`/`assess` read and extend):

- run columns: ``run_number`` (int64), ``year`` (int64), ``era``, ``production``, ``primary_dataset``,
  ``file`` (str) and, when the datasets JSON names good or bad runs, ``label`` (int8: 0 good, 1 bad, -1 unknown);
- one list<float64> column per histogram, named ``"<subsystem>/<path>"`` as in AutoDQM_ML
  (``"L1T//Run summary/L1TStage2EMTF/emtfTrackPhi"``): the bin contents without under/overflow,
  2D histograms flattened in C order of their (nx, ny) contents; null where the file lacked it;
- columns added by `train`: ``<hist>_score_<tag>`` (float64), ``<hist>_reco_<tag>`` (list<float64>),
  ``split_<tag>`` (train / val / test / low_stat / missing);
- schema metadata ``codesign.dqm``: JSON with ``histograms`` (per histogram: class, shape, edges, title,
  axis labels) and the provenance of whatever wrote the file (``fetch``, ``tags``).

Plain parquet: pandas, awkward and pyarrow read it as they read AutoDQM_ML's files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign.data import parquet
from codesign.errors import DataError

META_KEY = b"codesign.dqm"
SCORE, RECO, SPLIT = "_score_", "_reco_", "split_"


@dataclass(frozen=True)
class HistogramInfo:
    """What a histogram column holds: its ROOT class, bin shape and edges."""

    name: str
    cls: str
    shape: tuple[int, ...]
    edges: tuple[tuple[float, ...], ...]
    title: str = ""
    axis_labels: tuple[str, ...] = ()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def n_bins(self) -> int:
        return int(np.prod(self.shape))

    def to_dict(self) -> dict:
        return {"class": self.cls, "shape": list(self.shape), "edges": [list(e) for e in self.edges],
                "title": self.title, "axis_labels": list(self.axis_labels)}

    @classmethod
    def from_dict(cls, name: str, data: dict) -> "HistogramInfo":
        return cls(name, str(data["class"]), tuple(int(n) for n in data["shape"]),
                   tuple(tuple(float(v) for v in e) for e in data["edges"]), str(data.get("title", "")),
                   tuple(data.get("axis_labels", ())))


@dataclass
class Table:
    """Scalar columns as a DataFrame, list columns as dense float arrays (NaN rows where null)."""

    frame: "object"  # pandas.DataFrame: run metadata, scores, splits
    arrays: dict[str, np.ndarray]  # histograms and reconstructions: (n_runs, n_bins)
    infos: dict[str, HistogramInfo]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def histograms(self) -> list[str]:
        return list(self.infos)

    @property
    def runs(self) -> np.ndarray:
        return self.frame["run_number"].to_numpy(dtype=np.int64)

    @property
    def labels(self) -> np.ndarray | None:
        return self.frame["label"].to_numpy(dtype=np.int64) if "label" in self.frame else None

    def values(self, name: str) -> np.ndarray:
        """Bin contents of one histogram, (n_runs, *shape); rows of NaN where a run lacks it."""
        info = self.info(name)
        return self.arrays[name].reshape(len(self), *info.shape)

    def info(self, name: str) -> HistogramInfo:
        try:
            return self.infos[name]
        except KeyError:
            known = "; ".join(self.infos) or "none"
            raise DataError(f"no histogram {name!r} in this table (histograms: {known})") from None

    def tags(self) -> list[str]:
        """Algorithm tags with score columns, in the order they were added."""
        seen: list[str] = []
        for column in self.frame.columns:
            for hist in self.infos:
                prefix = f"{hist}{SCORE}"
                if column.startswith(prefix) and column[len(prefix):] not in seen:
                    seen.append(column[len(prefix):])
        return seen

    def score(self, hist: str, tag: str) -> np.ndarray:
        return self.frame[f"{hist}{SCORE}{tag}"].to_numpy(dtype=np.float64)

    def has_score(self, hist: str, tag: str) -> bool:
        return f"{hist}{SCORE}{tag}" in self.frame

    def reco(self, hist: str, tag: str) -> np.ndarray | None:
        arr = self.arrays.get(f"{hist}{RECO}{tag}")
        return None if arr is None else arr.reshape(len(self), *self.info(hist).shape)


def _list_column(column, n_rows: int, name: str) -> np.ndarray:
    """A list<float> column -> (n_rows, n_bins) float64, NaN rows for nulls; all rows must have one length."""
    import pyarrow as pa

    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if isinstance(column, pa.ChunkedArray):  # an empty chunked array
        column = pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], type=column.type)
    valid = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    lengths = np.asarray(column.value_lengths().fill_null(0).to_numpy(zero_copy_only=False))
    n_bins = int(lengths[valid][0]) if valid.any() else 0
    if valid.any() and np.any(lengths[valid] != n_bins):
        raise DataError(f"column {name!r}: rows hold {sorted(set(lengths[valid].tolist()))} bins; "
                        "expected every run to have the same binning")
    out = np.full((n_rows, n_bins), np.nan)
    if valid.any():
        flat = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        out[valid] = flat.reshape(int(valid.sum()), n_bins)
    return out


def read(path: str | Path) -> Table:
    """A DQM table written by `codesign dqm fetch` (or extended by `train`); DataError if it is not one."""
    import pyarrow as pa

    path = Path(path)
    table = parquet.read(path, "a parquet file written by 'codesign dqm fetch'")
    if META_KEY not in (table.schema.metadata or {}) or "run_number" not in table.column_names:
        raise DataError(f"{path}: not a DQM histogram table (no run_number column or codesign.dqm metadata); "
                        "expected the output of 'codesign dqm fetch'")
    meta = parquet.metadata(table, META_KEY, path)
    try:
        infos = {name: HistogramInfo.from_dict(name, d) for name, d in meta["histograms"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: corrupt codesign.dqm metadata ({exc})") from None
    arrays, scalars = {}, []
    for name in table.column_names:
        if pa.types.is_list(table.schema.field(name).type) or pa.types.is_large_list(table.schema.field(name).type):
            arrays[name] = _list_column(table.column(name), table.num_rows, name)
        else:
            scalars.append(name)
    missing = [h for h in infos if h not in arrays]
    if missing:
        raise DataError(f"{path}: metadata names histogram {missing[0]!r} but the table has no such column")
    for name, info in infos.items():
        if arrays[name].shape[1] not in (0, info.n_bins):
            raise DataError(f"{path}: column {name!r} holds {arrays[name].shape[1]} bins, metadata says "
                            f"{info.n_bins} {list(info.shape)}")
        if arrays[name].shape[1] == 0:
            arrays[name] = np.full((table.num_rows, info.n_bins), np.nan)
    frame = table.select(scalars).to_pandas()
    if "label" in frame:
        raw = frame["label"].to_numpy()
        bad = ~np.isin(raw, (-1, 0, 1)) if raw.dtype.kind in "biuf" else np.ones(len(raw), bool)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(f"{path}: column 'label' holds {raw[first]!r} (row {first}); expected 1 (bad run), "
                            "0 (good) or -1 (unlabelled)")
    return Table(frame, arrays, infos, meta)


def _list_array(values: np.ndarray):
    """(n_rows, n_bins) float array with NaN rows -> a pyarrow list<float64> array with nulls."""
    import pyarrow as pa

    values = np.asarray(values, dtype=np.float64)
    valid = ~np.all(np.isnan(values), axis=1) if values.shape[1] else np.zeros(len(values), bool)
    n_bins = values.shape[1]
    counts = np.where(valid, n_bins, 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    flat = values[valid].ravel()
    mask = pa.array(~valid)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float64()), mask=mask)


def write(path: str | Path, table: Table) -> Path:
    """Write atomically (a temporary sibling, then rename): an interrupted write never leaves half a file."""
    import pyarrow as pa

    columns, names = [], []
    for name in table.frame.columns:
        columns.append(pa.array(table.frame[name].to_numpy() if table.frame[name].dtype != object
                                else table.frame[name].tolist()))
        names.append(name)
    for name, values in table.arrays.items():
        columns.append(_list_array(values.reshape(len(values), -1)))
        names.append(name)
    meta = {**table.meta, "histograms": {n: i.to_dict() for n, i in table.infos.items()}}
    return parquet.write(path, pa.Table.from_arrays(columns, names=names), META_KEY, meta)
