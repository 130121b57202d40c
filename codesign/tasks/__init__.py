"""Tasks: one class per problem (its data, its default model, how it is scored), under `tasks.base.Task`'s contract.

The table below is the registry ("module:Class"); modules are imported only when a task is used,
so `codesign --help` never loads TensorFlow.
"""

from __future__ import annotations

import importlib
from functools import cache

from codesign.errors import ConfigError

TASKS = {
    "l1-anomaly": "codesign.tasks.l1_anomaly:L1Anomaly",
    "dqm-histograms": "codesign.tasks.dqm_histograms:DQMHistograms",
    "dqm-lumisections": "codesign.tasks.dqm_lumisections:DQMLumisections",
    "jet-compression": "codesign.tasks.jet_compression:JetCompression",
}


@cache
def get(name: str):
    """The task registered under `name` (a `tasks.base.Task`)."""
    try:
        module, cls = TASKS[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
    return getattr(importlib.import_module(module), cls)()
