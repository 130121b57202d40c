"""What `codesign emulate` emulates: a training run directory (its task, model, config and data), or a Keras
file with ADC2021-layout event files. The emulation itself is the task's (`Task.emulate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codesign import config as cfg
from codesign import tasks
from codesign.core import persistence
from codesign.core.preprocessing import Preprocessor
from codesign.data import adc2021
from codesign.firmware.options import FirmwareOptions
from codesign.tasks.anomaly import emulate_and_score
from codesign.tasks.base import Dataset, Task, TaskConfig


@dataclass
class TrainedRun:
    task: Task
    model: object
    config: TaskConfig
    preprocessor: Preprocessor
    data: Dataset


def firmware_options(path: str | None, reuse_factor: int | None = None, strategy: str | None = None) -> FirmwareOptions:
    """Firmware options from a YAML file (or the defaults), with command-line overrides, validated."""
    options = cfg.load(FirmwareOptions, path) if path else FirmwareOptions()
    updates = {k: v for k, v in (("reuse_factor", reuse_factor), ("strategy", strategy)) if v is not None}
    if updates:
        options = cfg.parse(FirmwareOptions, {**options.model_dump(mode="json"), **updates}, "command line")
    return options


def from_run(path: Path, background: str | None = None, signals: dict[str, str] | None = None) -> TrainedRun:
    """A `codesign train` run: its model, config and data (the given event files instead of the run's own)."""
    model, meta = persistence.load(path / "model")
    task = tasks.get(meta.get("task") or "l1-anomaly")
    data = dict(meta["config"])
    if background or signals:
        data["data"] = {**data["data"], "background_file": background, "signal_files": dict(signals or {}),
                        "signals": list(signals or {})}
    config = cfg.parse(task.Config, data, str(path / "model" / "metadata.json"))
    dataset = task.load_data(config, train_limit=100_000)
    return TrainedRun(task, model, config, Preprocessor.from_dict(meta["preprocessing"]), dataset)


def emulate_file(path: Path, background: str, signals: dict[str, str], options: FirmwareOptions, target, out: Path,
                 csim_check: int) -> int:
    """A bare Keras model (L1 inputs, no preprocessing) on ADC2021-layout files: firmware, bit-exact check, scores."""
    model = persistence.load_keras(path)
    x_test = adc2021.flatten(adc2021.read_events(background).particles)
    x_signals = {n: adc2021.flatten(adc2021.read_events(p).particles) for n, p in signals.items()}
    return emulate_and_score(model, None, None, x_test[:100_000], x_test, x_signals, options, target, out,
                             csim_check, 1e-5, 200, 0, adc2021.input_quantities())
