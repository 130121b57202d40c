"""Design spaces as data: `codesign/search/spaces/*.yaml` (or a user's YAML file) parsed into typed dimensions
that map one-to-one to Optuna.

A space names its task, a base training config (preset or file) whose fields the
candidates override, the objectives, and the searched dimensions:

    dimensions:
      depth:        {int: [1, 3]}                # encoder layers
      width:        {choice: [8, 16, 32, 64]}    # one dimension per encoder layer: width_1, width_2, ...
      latent:       {choice: [2, 3, 4, 6]}
      weight_bits:  {int: [3, 10]}
      sparsity:     {float: [0.0, 0.9], step: 0.05}
      reuse_factor: {choice: [1, 2, 4]}
      strategy:     {choice: [latency, da]}

Widths are conditional on depth (width_3 exists only when depth >= 3), which Optuna's
define-by-run API expresses directly; `Space.suggest` is the only place that knows it.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from codesign import config as cfg
from codesign.config import Frozen
from codesign.core.preprocessing import Scheme

SPACES_DIR = Path(__file__).resolve().parent / "spaces"  # shipped in the wheel ([tool.setuptools.package-data])

# What each dimension sets: model, quantization, pruning, training or firmware.
KNOWN = {
    "depth": "number of encoder layers (widths mirrored in the decoder)",
    "width": "encoder layer width; expands to width_1 .. width_<depth>",
    "latent": "latent size",
    "variant": "LSTM autoencoder: sparse | undercomplete",
    "units": "LSTM autoencoder: outer LSTM width",
    "inner": "LSTM autoencoder: inner LSTM width of the undercomplete variant (at most units)",
    "window": "lumisections per LSTM window (data.window)",
    "reconstruct": "LSTM autoencoder output: window (every step, the seed's) | oldest (the scored step only)",
    "state_bits": "firmware bits of unquantized values (FirmwareOptions.float_bits; an LSTM's state and accumulator)",
    "quantizer": "qkeras | hgq (HGQ learns each weight's and activation's width, and prunes; the QKeras bits, "
                 "sparsity and code dimensions do not apply to its candidates, which use relu)",
    "beta": "HGQ's EBOPs regularisation strength (training.hgq.beta; hgq candidates only; search it on a log scale)",
    "weight_bits": "QKeras weight/bias bits (all layers)",
    "weight_integer": "integer bits of weights",
    "activation_bits": "QKeras activation bits",
    "activation_integer": "integer bits of activations",
    "code_bits": "bits per latent value shipped by a compression (QKeras-quantized latent code)",
    "code_integer": "integer bits of the latent code",
    "sparsity": "pruned fraction of every kernel (0 = dense)",
    "reuse_factor": "hls4ml reuse factor (all layers)",
    "strategy": "implementation: latency | resource | da (distributed arithmetic)",
    "batchnorm": "batch normalisation after hidden layers",
    "preprocessing": "input preprocessing fitted on training data: none | standard | bounded | bounded_slot",
    "learning_rate": "Adam learning rate",
    "batch_size": "training batch size",
}


class Dimension(Frozen):
    """Exactly one of `choice`, `int` or `float` (a [low, high] range), with optional step / log."""

    choice: list[int | float | str | bool] | None = None
    int_range: tuple[int, int] | None = Field(None, alias="int")
    float_range: tuple[float, float] | None = Field(None, alias="float")
    step: float | None = Field(None, gt=0)
    log: bool = False

    model_config = {**Frozen.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _one_kind(self):
        kinds = [k for k in ("choice", "int_range", "float_range") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of choice: [...], int: [low, high], float: [low, high]")
        if self.choice is not None and not self.choice:
            raise ValueError("choice needs at least one value")
        rng = self.int_range or self.float_range
        if rng is not None:
            if rng[0] > rng[1]:
                raise ValueError(f"low {rng[0]} is above high {rng[1]}")
            if self.log and rng[0] <= 0:
                raise ValueError("a log range needs low > 0")
            if self.log and self.step is not None:
                raise ValueError("log and step cannot be combined (Optuna's rule)")
        return self

    def distribution(self):
        import optuna

        if self.choice is not None:
            return optuna.distributions.CategoricalDistribution(self.choice)
        if self.int_range is not None:
            return optuna.distributions.IntDistribution(*self.int_range, log=self.log, step=int(self.step or 1))
        return optuna.distributions.FloatDistribution(*self.float_range, log=self.log, step=self.step)

    def suggest(self, trial, name: str):
        if self.choice is not None:
            return trial.suggest_categorical(name, self.choice)
        if self.int_range is not None:
            return trial.suggest_int(name, *self.int_range, step=int(self.step or 1), log=self.log)
        return trial.suggest_float(name, *self.float_range, step=self.step, log=self.log)

    def values(self) -> list:
        """Every value (choices, or an int range) — for grids and validation."""
        if self.choice is not None:
            return list(self.choice)
        if self.int_range is not None:
            return list(range(self.int_range[0], self.int_range[1] + 1, int(self.step or 1)))
        raise ValueError("a float range has no finite list of values")


class Objectives(Frozen):
    tpr: str = Field("geomean", description="how per-signal TPRs make the objective: geomean | min | mean | "
                                             "a signal's name | per-signal (see codesign.merit.combine)")
    resource: Literal["lut", "ff", "dsp", "bram18"] = "lut"
    latency: Literal["constraint", "objective"] = "constraint"


class ReferenceDesign(Frozen):
    """A known design scored beside the search on the study's own events, outside its space.

    `config` is a whole training config (preset or YAML; its data section is replaced by the study's),
    `params` space parameters applied on top (architecture, bits, implementation). With `firmware`
    it is built, checked against C-simulation, scored by the emulator and estimated like a candidate;
    without, its Keras model is scored (a float model has no firmware to compare).

    `inputs: <preprocessing>` instead scores the inputs alone: the squared norm of the preprocessed
    inputs, which is what an autoencoder that reconstructs nothing computes. A candidate must beat
    it for its network to matter; one whose highest-scoring background events are this score's is
    the same trigger, whatever its layers.
    """

    label: str = Field(min_length=1)
    config: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    firmware: bool = True
    inputs: Scheme | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.config is None) == (self.inputs is None):
            raise ValueError(f"reference {self.label!r}: give either config (a trained design) or inputs "
                             "(the preprocessed inputs alone)")
        return self


class Space(Frozen):
    task: str = "l1-anomaly"
    base: str | None = Field(None, description="training config (preset name or YAML) the candidates override")
    objectives: Objectives = Objectives()
    dimensions: dict[str, Dimension]
    baseline: dict[str, Any] | None = Field(None, description="a known point enqueued first (e.g. the seed's model)")
    references: list[ReferenceDesign] = Field(default_factory=list, description="designs scored beside the search")

    @field_validator("dimensions")
    @classmethod
    def _known_dimensions(cls, dims: dict[str, Dimension]):
        unknown = sorted(set(dims) - set(KNOWN))
        if unknown:
            raise ValueError(f"unknown dimension(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}")
        if "width" in dims and "depth" not in dims:
            raise ValueError("width needs a depth dimension (or fix the encoder in the base config)")
        if "preprocessing" in dims:
            known = typing.get_args(Scheme)
            bad = set(dims["preprocessing"].values()) - set(known)
            if bad:
                raise ValueError(f"preprocessing values must be among {', '.join(known)}, got {sorted(bad)}")
        if "strategy" in dims:
            bad = set(dims["strategy"].values()) - {"latency", "resource", "da"}
            if bad:
                raise ValueError(f"strategy values must be latency, resource or da, got {sorted(bad)}")
        if "quantizer" in dims:
            bad = set(dims["quantizer"].values()) - {"qkeras", "hgq"}
            if bad:
                raise ValueError(f"quantizer values must be qkeras or hgq, got {sorted(bad)}")
        if "beta" in dims and (dims["beta"].float_range is None or min(dims["beta"].float_range) <= 0):
            raise ValueError("beta needs a positive float range, e.g. {float: [1.0e-7, 1.0e-4], log: true}")
        return dims

    @field_validator("baseline")
    @classmethod
    def _baseline_is_a_point(cls, params, info):
        dims = info.data.get("dimensions")
        if params is None or dims is None:
            return params
        names = {n for n in dims if n != "width" and applies(n, params)}
        if "width" in dims:
            names |= {f"width_{i}" for i in range(1, int(params.get("depth", 0)) + 1)}
        unknown, missing = sorted(set(params) - names), sorted(names - set(params))
        if unknown or missing:
            raise ValueError(f"not a point of the space: unknown {unknown or '-'}, missing {missing or '-'}")
        return params

    def param_names(self, depth: int | None = None) -> list[str]:
        """Every parameter name a candidate of this depth may have (`applies` says which one has)."""
        names = [n for n in self.dimensions if n != "width"]
        if "width" in self.dimensions:
            names += [f"width_{i}" for i in range(1, int(depth or 0) + 1)]
        return names

    def distributions(self, depth: int) -> dict:
        """Optuna distributions of one candidate's parameters (widths expanded to the depth)."""
        out = {n: d.distribution() for n, d in self.dimensions.items() if n != "width"}
        if "width" in self.dimensions:
            for i in range(1, depth + 1):
                out[f"width_{i}"] = self.dimensions["width"].distribution()
        return out

    def suggest(self, trial) -> dict:
        """Ask an Optuna trial for one candidate's parameters (define-by-run: widths follow depth, and the
        quantizer decides which of the QKeras and HGQ dimensions apply)."""
        params = {}
        order = sorted(self.dimensions, key=lambda n: n != "quantizer")  # the quantizer first: others depend on it
        for name in order:
            if name != "width" and applies(name, params):
                params[name] = self.dimensions[name].suggest(trial, name)
        if "width" in self.dimensions:
            for i in range(1, int(params["depth"]) + 1):
                params[f"width_{i}"] = self.dimensions["width"].suggest(trial, f"width_{i}")
        return params


QKERAS_ONLY = ("weight_bits", "weight_integer", "activation_bits", "activation_integer", "sparsity", "code_bits",
               "code_integer")
HGQ_ONLY = ("beta",)


def applies(name: str, params: dict) -> bool:
    """Whether a dimension is a parameter of the candidate whose `quantizer` (if searched) is in `params`."""
    quantizer = params.get("quantizer")
    if quantizer is None:
        return True
    return name not in (QKERAS_ONLY if quantizer == "hgq" else HGQ_ONLY)


def available(directory: Path = SPACES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load(name_or_path: str, directory: Path = SPACES_DIR) -> Space:
    """A shipped space by name (codesign/search/spaces/<name>.yaml) or a user's space by path to a YAML file."""
    return cfg.load_named(Space, name_or_path, directory, "unknown search space {name}; known: {known}")
