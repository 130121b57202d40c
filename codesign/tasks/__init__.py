"""Tasks: one module per problem (its data, its default model, how it is scored).

The table below is the registry; modules are imported only when a task is used, so
`codesign --help` never loads TensorFlow.
"""

from __future__ import annotations

import importlib

from codesign.errors import ConfigError

TASKS = {
    "l1-anomaly": "codesign.tasks.l1_anomaly",
    "dqm-histograms": "codesign.tasks.dqm_histograms",
    "dqm-lumisections": "codesign.tasks.dqm_lumisections",
    "jet-compression": "codesign.tasks.jet_compression",
}


def get(name: str):
    """The task module registered under `name`."""
    try:
        return importlib.import_module(TASKS[name])
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
