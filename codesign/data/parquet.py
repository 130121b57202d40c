"""Parquet files with a JSON document in the schema metadata, read with one-line errors and written atomically.

The DQM tables, the lumisection series and the lumisection scores are all plain parquet that pandas,
pyarrow or awkward read; what codesign needs besides the columns (binnings, provenance, thresholds)
is a JSON object under one metadata key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from codesign.errors import DataError


def read(path, expected: str):
    """The pyarrow table of `path`; DataError '<path>: no such file; expected <expected>' or 'not readable'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; expected {expected}")
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0][:160]})") from None


def metadata(table, key: bytes, source) -> dict | None:
    """The JSON object under `key` in the schema metadata (None if absent); DataError if it is not JSON."""
    raw = (table.schema.metadata or {}).get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise DataError(f"{source}: corrupt {key.decode()} metadata ({exc})") from None


def write(path, table, key: bytes, meta: dict, keep_metadata: bool = False) -> Path:
    """`table` with `meta` as JSON under `key` (beside its other metadata if `keep_metadata`), written
    atomically (a temporary sibling, then rename): an interrupted write never leaves half a file."""
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = (table.schema.metadata or {}) if keep_metadata else {}
    table = table.replace_schema_metadata({**kept, key: json.dumps(meta, default=str).encode()})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
