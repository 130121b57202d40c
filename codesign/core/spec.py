"""Hyperparameters of the model families, as validated data.

A model spec says everything needed to build a network: its shape, its
quantization (None = float; `quantizer: hgq` = widths learned per weight and per
activation by HGQ) and its pruning (None = dense). The search maps its
dimensions onto these fields; the presets in codesign/presets/ are YAML copies.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from codesign.config import Frozen

Activation = Literal["relu", "leaky_relu", "tanh", "linear"]


class FixedPoint(Frozen):
    """A signed fixed-point format as QKeras counts it: `bits` in all, `integer` of them above the point (sign excluded)."""

    bits: int = Field(8, ge=2, le=32)
    integer: int = Field(0, ge=0, le=16)

    @model_validator(mode="after")
    def _fits(self):
        if self.integer >= self.bits:
            raise ValueError(f"integer bits ({self.integer}) must be fewer than total bits ({self.bits})")
        return self


class Quantization(Frozen):
    """QKeras quantization of weights, biases and activations; `layers` overrides per layer name."""

    weight: FixedPoint = FixedPoint(bits=8, integer=0)
    bias: FixedPoint | None = None  # defaults to the weight format
    activation: FixedPoint = FixedPoint(bits=8, integer=0)
    layers: dict[str, "LayerQuantization"] = {}

    def for_layer(self, name: str) -> "LayerQuantization":
        base = LayerQuantization(weight=self.weight, bias=self.bias or self.weight, activation=self.activation)
        override = self.layers.get(name)
        if override is None:
            return base
        return LayerQuantization(weight=override.weight or base.weight, bias=override.bias or override.weight or base.bias,
                                 activation=override.activation or base.activation)


class LayerQuantization(Frozen):
    weight: FixedPoint | None = None
    bias: FixedPoint | None = None
    activation: FixedPoint | None = None


class Pruning(Frozen):
    """Magnitude pruning (tfmot) of every dense kernel to `sparsity`, reached by `end_epoch`."""

    sparsity: float = Field(0.5, gt=0.0, lt=1.0)
    schedule: Literal["polynomial", "constant"] = "polynomial"
    begin_epoch: int = Field(0, ge=0)
    end_epoch: int = Field(10, ge=1)
    frequency: int = Field(100, ge=1, description="steps between mask updates")

    @model_validator(mode="after")
    def _order(self):
        if self.end_epoch <= self.begin_epoch:
            raise ValueError("end_epoch must be after begin_epoch")
        return self


QUANTIZER_DESCRIPTION = ("qkeras: one format per tensor (`quantization`); hgq: HGQ learns a width per weight and per "
                         "activation, its EBOPs regulariser and initial widths set in training.hgq, and prunes by "
                         "learning zero-bit weights")


class _Common(Frozen):
    activation: Activation = "leaky_relu"
    leaky_alpha: float = Field(0.3, ge=0.0, lt=1.0)
    batchnorm: bool = True
    input_batchnorm: bool = True
    quantizer: Literal["qkeras", "hgq"] = Field("qkeras", description=QUANTIZER_DESCRIPTION)
    quantization: Quantization | None = None
    pruning: Pruning | None = None

    @model_validator(mode="after")
    def _hgq(self):
        if self.quantizer != "hgq":
            return self
        if self.kind == "lstm_ae":
            raise ValueError("quantizer: HGQ has no LSTM layer; use quantizer: qkeras for lstm_ae models")
        if self.quantization is not None:
            raise ValueError("quantization: QKeras formats do not apply with quantizer: hgq (HGQ learns every "
                             "width; set the initial ones in training.hgq); remove the quantization block")
        if self.pruning is not None:
            raise ValueError("pruning: quantizer: hgq prunes by learning zero-bit weights (raise training.hgq.beta "
                             "for more); remove the pruning block")
        if self.activation not in ("relu", "linear"):
            raise ValueError(f"activation: HGQ layers have relu or linear activations, not {self.activation}; "
                             "set activation: relu with quantizer: hgq")
        if getattr(self, "code", None) is not None:
            raise ValueError("code: with quantizer: hgq the latent layer's own learned quantizer is the code; "
                             "remove code")
        return self

    @model_validator(mode="after")
    def _quantizable_slope(self):
        if self.quantization is not None and self.activation == "leaky_relu":
            exponent = math.log2(self.leaky_alpha) if self.leaky_alpha > 0 else 0.0
            if self.leaky_alpha > 0 and exponent != round(exponent):
                raise ValueError(f"leaky_alpha must be a power of two (e.g. 0.25) when quantized; "
                                 f"QKeras' quantized_relu cannot represent {self.leaky_alpha}")
        return self


CODE_DESCRIPTION = ("QKeras format of the latent code (quantized_bits after the latent layer, trained with it): "
                    "what a compression ships per latent value; None = the firmware's derived type")


class DenseAE(_Common):
    """Dense autoencoder: encoder widths, latent size, decoder (mirror of the encoder by default)."""

    kind: Literal["dense_ae"] = "dense_ae"
    encoder: tuple[int, ...] = (32, 16)
    latent: int = Field(3, ge=1)
    decoder: tuple[int, ...] | None = None
    code: FixedPoint | None = Field(None, description=CODE_DESCRIPTION)

    @property
    def decoder_widths(self) -> tuple[int, ...]:
        return tuple(reversed(self.encoder)) if self.decoder is None else self.decoder


class VAE(_Common):
    """Variational autoencoder; the trigger score comes from the encoder alone (KL term or latent radius)."""

    kind: Literal["vae"] = "vae"
    encoder: tuple[int, ...] = (32, 16)
    latent: int = Field(3, ge=1)
    decoder: tuple[int, ...] | None = None
    beta: float = Field(1.0, ge=0.0, description="weight of the KL term in the loss")
    code: FixedPoint | None = Field(None, description=CODE_DESCRIPTION + " (of z_mean)")
    score: Literal["kl", "radius", "mse"] = "kl"

    @property
    def decoder_widths(self) -> tuple[int, ...]:
        return tuple(reversed(self.encoder)) if self.decoder is None else self.decoder


class LSTMAE(_Common):
    """LSTM autoencoder over windows of time steps (the DQM lumisection path).

    `sparse`: LSTM(units[0]) -> Dropout -> repeat -> LSTM(units[0]) -> Dropout -> TimeDistributed Dense.
    `undercomplete`: LSTM(units[0]) -> LSTM(units[1]) -> repeat -> LSTM(units[1]) -> LSTM(units[0]) -> TD Dense.
    The repeat is Reshape + UpSampling1D, the same maths as RepeatVector in a form hls4ml converts.
    `reconstruct: oldest` runs the decoder for one step and ends it with a plain Dense: it
    reconstructs only the window's oldest step, the one a lumisection monitor scores (see
    `core.scoring`), and saves the time-distributed output layer that hls4ml unrolls over the
    window (the seed's form is `window`).
    """

    kind: Literal["lstm_ae"] = "lstm_ae"
    variant: Literal["sparse", "undercomplete"] = "sparse"
    reconstruct: Literal["window", "oldest"] = "window"
    units: tuple[int, ...] = (64, 32)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    activation: Activation = "tanh"
    batchnorm: bool = False
    input_batchnorm: bool = False


def _kind(value) -> str:
    """The model family of a spec or of its mapping form; a mapping without `kind` is a dense AE."""
    if isinstance(value, dict):
        return value.get("kind", "dense_ae")
    return getattr(value, "kind", "dense_ae")


ModelSpec = Annotated[
    Union[Annotated[DenseAE, Tag("dense_ae")], Annotated[VAE, Tag("vae")], Annotated[LSTMAE, Tag("lstm_ae")]],
    Discriminator(_kind),
]
Quantization.model_rebuild()
