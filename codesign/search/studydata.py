"""The study's data: produced once into the event store, read by every worker, candidate and resumed run.

Also what a trigger gets from the inputs alone (the squared norm of the preprocessed inputs: an
autoencoder that reconstructs nothing), which every candidate's threshold is compared with.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from codesign import evaluation, tasks
from codesign.core.preprocessing import Preprocessor
from codesign.data.store import EventStore
from codesign.locks import exclusive
from codesign.search.rundir import RunDir
from codesign.tasks.base import Dataset


def write_data(run_dir: Path, task, config) -> Path:
    """The study's data, produced once: every array a content-addressed .npy in data/, plus a manifest.

    A task that streams (the L1 task's millions of test events) writes its arrays into the store
    itself; arrays a task returns in memory are stored under the hash of their content.
    """
    out = RunDir(run_dir).data
    dataset = task.load_data(config, store=out)
    store = EventStore(out)
    arrays = {"x_train": dataset.x_train, "x_val": dataset.x_val, "x_test": dataset.x_test,
              **{f"signal_{k}": v for k, v in dataset.signals.items()}}
    files = {}
    for name, arr in arrays.items():
        if isinstance(arr, np.memmap) and Path(arr.filename).parent.resolve() == out.resolve():
            files[name] = Path(arr.filename).name
            continue
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        flat = arr.reshape(len(arr), -1)
        spec = {"role": name, "sha256": hashlib.sha256(arr.tobytes()).hexdigest(), "shape": list(arr.shape)}
        stored = store.get(spec, flat.shape, lambda flat=flat: [flat])
        files[name] = Path(stored.filename).name
    manifest = {"signals": list(dataset.signals), "input_names": list(dataset.input_names),
                "sources": dataset.sources, "shapes": {k: list(np.shape(v)) for k, v in arrays.items()},
                "files": files}
    tmp = out / "manifest.json.partial"
    tmp.write_text(json.dumps(manifest, indent=1, default=str))
    tmp.replace(out / "manifest.json")
    return out


def read_data(run_dir: Path) -> Dataset:
    d = RunDir(run_dir).data
    manifest = json.loads((d / "manifest.json").read_text())
    files = manifest.get("files") or {k: f"{k}.npy" for k in manifest["shapes"]}  # studies before the store

    def load(name):
        return np.load(d / files[name], mmap_mode="r").reshape(manifest["shapes"][name])

    return Dataset(load("x_train"), load("x_val"), load("x_test"),
                   {k: load(f"signal_{k}") for k in manifest["signals"]}, manifest["input_names"],
                   manifest.get("sources", {}))


def candidate_data(c, run_dir: Path):
    """The study's data as candidate `c` sees it (a task's `view`, e.g. a shorter LSTM window)."""
    return tasks.get(c.config.task).view(c.config, read_data(run_dir))


def inputs_norm(preprocessing: str, task, data):
    """The squared norm of the inputs preprocessed by `preprocessing` (what an autoencoder that reconstructs
    nothing scores)."""
    pre = Preprocessor.fit(preprocessing, data.x_train, task.input_groups(data.input_names))

    def norm(x, block: int = 1 << 18):
        return np.concatenate([np.sum(np.square(pre.transform(np.asarray(x[i:i + block])), dtype=np.float64),
                                      axis=1) for i in range(0, len(x), block)])

    return norm


def inputs_alone_tail(preprocessing: str, task, run_dir: Path) -> dict:
    """The 100 highest background events of the inputs alone, computed once per study and preprocessing."""
    path = RunDir(run_dir).data / f"inputs-alone-{preprocessing}.json"
    with exclusive(path.with_suffix(".lock")):
        if not path.is_file():
            data = read_data(run_dir)
            tmp = path.with_suffix(".partial")
            tmp.write_text(json.dumps(evaluation.tail(inputs_norm(preprocessing, task, data)(data.x_test))))
            tmp.replace(path)
    return json.loads(path.read_text())
