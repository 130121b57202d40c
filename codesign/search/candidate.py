"""A candidate: one point of a space made concrete — a task config, firmware options and an estimation method."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from pydantic import ValidationError

from codesign import config as cfg
from codesign import tasks
from codesign.core.spec import LSTMAE, FixedPoint, Pruning, Quantization
from codesign.firmware.options import FirmwareOptions
from codesign.search.settings import Settings


class InvalidCandidate(ValueError):
    """Parameters that make no valid model (e.g. integer bits >= bits): recorded as a failed candidate."""


@dataclass(frozen=True)
class Candidate:
    params: dict
    config: object  # the task's Config
    firmware: FirmwareOptions
    method: str  # estimation method: analytic | da

    @property
    def key(self) -> str:
        """Same model, training and firmware -> same key: duplicates reuse the first result."""
        blob = json.dumps({"config": self.config.model_dump(mode="json"), "firmware": self.firmware.model_dump(
            mode="json"), "method": self.method}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def study_config(settings: Settings):
    """The study's base task config, validated by its task's `Config`."""
    return cfg.parse(tasks.get(settings.task).Config, settings.base_config, "search base config")


def of_study(params: dict, settings: Settings) -> Candidate:
    """A trial's candidate: its parameters applied to the study's base config (the search, references, export)."""
    return make(params, study_config(settings), tasks.get(settings.task).Config)


def make(params: dict, base_config, config_cls) -> Candidate:
    """Apply a space's parameters to the base training config."""
    p = dict(params)
    model = base_config.model.model_dump(mode="json")
    if "depth" in p:
        depth = int(p["depth"])
        model["encoder"] = [int(p[f"width_{i}"]) for i in range(1, depth + 1)] if "width_1" in p else \
            model["encoder"][:depth]
    if "latent" in p:
        model["latent"] = int(p["latent"])
    if "variant" in p:
        model["variant"] = str(p["variant"])
    if "reconstruct" in p:
        model["reconstruct"] = str(p["reconstruct"])
    if "units" in p:  # LSTM autoencoders: outer width, and the inner one of the undercomplete variant
        inner = int(p.get("inner", (model.get("units") or [0, 0])[-1]))
        model["units"] = [int(p["units"])] + ([min(inner, int(p["units"]))] if model.get("variant") ==
                                               "undercomplete" else [])
    if "code_bits" in p or "code_integer" in p:
        code = base_config.model.code or FixedPoint(bits=12, integer=3)
        try:
            model["code"] = FixedPoint(bits=int(p.get("code_bits", code.bits)),
                                       integer=int(p.get("code_integer", code.integer))).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidCandidate(exc.errors()[0]["msg"]) from None
    if "batchnorm" in p:
        model["batchnorm"] = bool(p["batchnorm"])
    training = base_config.training.model_dump(mode="json")
    if p.get("quantizer", base_config.model.quantizer) == "hgq":
        _hgq(model, training, p)
    else:
        _qkeras(model, p, base_config)
    for key in ("learning_rate", "batch_size"):
        if key in p:
            training[key] = p[key]
    data = {**base_config.model_dump(mode="json"), "model": model, "training": training}
    if "preprocessing" in p:
        data["preprocessing"] = str(p["preprocessing"])
    if "window" in p:
        data["data"] = {**data["data"], "window": int(p["window"])}
    try:
        config = cfg.parse(config_cls, data, "candidate")
    except Exception as exc:  # ConfigError from validation: the parameters make no valid model
        raise InvalidCandidate(str(exc)) from None
    strategy = str(p.get("strategy", "latency"))
    firmware = FirmwareOptions(reuse_factor=1 if strategy == "da" else int(p.get("reuse_factor", 1)),
                               strategy="resource" if strategy == "resource" else "latency",
                               score_head=not isinstance(config.model, LSTMAE),  # LSTMs return the reconstruction
                               **({"float_bits": int(p["state_bits"])} if "state_bits" in p else {}))
    return Candidate(p, config, firmware, "da" if strategy == "da" else "analytic")


def _hgq(model: dict, training: dict, p: dict) -> None:
    """An HGQ candidate: widths and pruning are learned (no QKeras formats, pruning schedule or code); relu."""
    model.update(quantizer="hgq", quantization=None, pruning=None)
    if "code" in model:
        model["code"] = None  # the latent layer's learned quantizer is the code
    if model.get("activation") not in ("relu", "linear"):
        model["activation"] = "relu"  # HGQ layers have no other activation
    if "beta" in p:
        training["hgq"] = {**training["hgq"], "beta": float(p["beta"])}


def _qkeras(model: dict, p: dict, base_config) -> None:
    model["quantizer"] = "qkeras"
    quant_keys = ("weight_bits", "weight_integer", "activation_bits", "activation_integer")
    if any(k in p for k in quant_keys):
        q = base_config.model.quantization or Quantization()
        try:
            weight = FixedPoint(bits=int(p.get("weight_bits", q.weight.bits)),
                                integer=int(p.get("weight_integer", q.weight.integer)))
            act = FixedPoint(bits=int(p.get("activation_bits", q.activation.bits)),
                             integer=int(p.get("activation_integer", q.activation.integer)))
        except ValidationError as exc:
            raise InvalidCandidate(exc.errors()[0]["msg"]) from None
        model["quantization"] = Quantization(weight=weight, activation=act).model_dump(mode="json")
    if "sparsity" in p:
        s = float(p["sparsity"])
        base = base_config.model.pruning or Pruning(end_epoch=max(1, base_config.training.epochs // 4))
        model["pruning"] = None if s <= 0 else base.model_copy(update={"sparsity": s}).model_dump(mode="json")
