"""The scores file of `codesign dqm lumisections train` (``OUTPUT_DIR/scores.parquet``): one row per LS
(run, lumisection, label, kind, split, then ``score_<tag>`` and ``flag_<tag>`` per tag), the thresholds
and settings of every tag in the ``codesign.dqm.lumisections`` schema metadata."""

from __future__ import annotations

from pathlib import Path

from codesign.data import parquet
from codesign.errors import DataError

SCORES_FILE = "scores.parquet"
SCORES_KEY = b"codesign.dqm.lumisections"


def read_scores(path) -> tuple[object, dict]:
    """(DataFrame, metadata) of a scores file written by `lumisections.run`; one-line DataError otherwise."""
    path = Path(path)
    table = parquet.read(path, f"{SCORES_FILE} from 'codesign dqm lumisections train'")
    if SCORES_KEY not in (table.schema.metadata or {}) or not {"run", "lumisection", "split"} <= set(table.column_names):
        raise DataError(f"{path}: not a lumisection scores file (no {SCORES_KEY.decode()} metadata); expected "
                        f"{SCORES_FILE} from 'codesign dqm lumisections train'")
    return table.to_pandas(), parquet.metadata(table, SCORES_KEY, path)


def write_scores(path, frame, meta: dict) -> Path:
    import pyarrow as pa

    return parquet.write(path, pa.Table.from_pandas(frame, preserve_index=False), SCORES_KEY, meta,
                         keep_metadata=True)


def tags_of(frame) -> list[str]:
    return [c[len("score_"):] for c in frame.columns if c.startswith("score_")]
