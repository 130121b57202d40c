"""The task contract: what a problem (its data, its model family, its figure of merit) gives the rest of codesign.

A task is one subclass of `Task`, registered by name in `codesign.tasks.TASKS`. The search, the
commands and the report call only the methods below; they never ask which kind of task it is.
Two families implement it today: `tasks.anomaly.AnomalyTask` (a score per event, signal efficiency
at a background false-positive rate: L1 trigger, DQM histograms, DQM lumisections) and
`tasks.jet_compression.JetCompression` (an on-detector encoder, the residuals of the offline-decoded
jets). Adding an anomaly task: a subclass of `AnomalyTask` with its `Config`, `load_data` and
`input_groups`, one line in `TASKS`, its tests; another kind of problem: a subclass of `Task`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from codesign import metrics
from codesign.config import Frozen
from codesign.core.preprocessing import Scheme
from codesign.core.spec import DenseAE, ModelSpec
from codesign.core.trainer import Training
from codesign.errors import MetricError
from codesign.merit import Merit


class Metrics(Frozen):
    fpr: float = Field(1e-5, gt=0.0, lt=1.0)
    n_bootstrap: int = Field(200, ge=10)
    min_background_above: int = Field(metrics.MIN_BACKGROUND_ABOVE, ge=1)


class TaskConfig(Frozen):
    """Fields every task config has; tasks add `task` and `data`."""

    seed: int = 42
    preprocessing: Scheme = "none"
    model: ModelSpec = DenseAE()
    training: Training = Training()
    metrics: Metrics = Metrics()


def check_test_size(n_test: int, m: Metrics) -> None:
    """For config validators: ValueError when `n_test` background events cannot resolve the FPR."""
    try:
        metrics.require_resolvable(n_test, m.fpr, m.min_background_above)
    except MetricError as exc:
        raise ValueError(f"data.n_test is too small: {exc}") from None


@dataclass
class Dataset:
    """Raw (unpreprocessed) inputs: background train/val/test and one test array per signal."""

    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    signals: dict[str, np.ndarray]
    input_names: list[str]
    sources: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Scoring:
    """What the search hands a task to score a candidate's firmware with.

    `objective`: how an anomaly study combines its signals (`merit.combine`); `inputs_alone`:
    the study's 100 top background events of the inputs alone for a preprocessing (`evaluation.tail`),
    computed once per study; None where there is no study (a single run).
    """

    objective: str = "geomean"
    inputs_alone: Callable[[str], dict] | None = None


class Task(ABC):
    """One problem codesign designs firmware for. Subclasses set the class attributes and the abstract methods.

    Trained models pass between the methods as the task's own result object (`train`'s return
    value: it has at least `.model`, `.preprocessor` and `.metadata`); configs are the task's `Config`.
    """

    name: ClassVar[str]  # the registry name, e.g. "l1-anomaly"
    Config: ClassVar[type[TaskConfig]]  # validated config (seed, preprocessing, model, training, metrics, data)
    merit: ClassVar[Merit]  # the figure of merit and where trial records keep it
    data_file_field: ClassVar[str]  # the `data` field `--data FILE` sets
    low_fidelity: ClassVar[bool] = False  # whether a cheap first training pass can end a candidate early

    # ------------------------------------------------------------ data
    @abstractmethod
    def load_data(self, config: TaskConfig, train_limit: int | None = None, store: Path | None = None) -> Dataset:
        """The raw inputs (generated or read), background/test split and signals; into `store` when given."""

    @abstractmethod
    def input_groups(self, input_names: list[str]) -> list[str]:
        """One quantity per input: inputs of a quantity share preprocessing and firmware units."""

    def signal_names(self, config: TaskConfig) -> tuple[str, ...]:
        """The signals a config names before any data is read (a study's per-signal objectives); () if none."""
        return ()

    def view(self, config: TaskConfig, data: Dataset) -> Dataset:
        """What one candidate sees of the study's stored data (e.g. a shorter window); all of it by default."""
        return data

    # ------------------------------------------------------------ training
    @abstractmethod
    def train(self, config: TaskConfig, data: Dataset, verbose: int = 0, tensorboard: str | Path | None = None):
        """Fit preprocessing and model on the training data; measure the figure of merit on the test data (Keras)."""

    @abstractmethod
    def save_run(self, out: Path, config: TaskConfig, trained) -> None:
        """A `codesign train` run directory: model/ (Keras file + metadata), config.yaml, the results."""

    @abstractmethod
    def format_results(self, columns: dict[str, Any]) -> str:
        """A terminal table of trained results (`train`'s return values), one column group per label."""

    # ------------------------------------------------------------ firmware
    @abstractmethod
    def deployed(self, model, spec: ModelSpec) -> tuple[Any, ModelSpec | None, bool]:
        """What runs on chip: (Keras model, its spec or None, whether the firmware adds the anomaly-score head)."""

    @abstractmethod
    def score_firmware(self, fw, config: TaskConfig, data: Dataset, trained, scoring: Scoring) -> dict:
        """A candidate's trial-record fields from its firmware's bit-exact outputs (the merit's `key` among them)."""

    @abstractmethod
    def emulate(self, model, config: TaskConfig, preprocessor, data: Dataset, options, target, out: Path,
                csim_check: int, run_dir: Path | None = None) -> int:
        """`codesign emulate`: build the firmware into `out`, check it against C-simulation, print the figures.

        `run_dir`: the training run, whose Keras figures are printed beside the firmware's. Returns
        the exit status (1 when any event is not bit-exact).
        """
