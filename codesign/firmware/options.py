"""How a trained model becomes firmware: implementation and precision choices, as validated data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from codesign.config import Frozen
from codesign.firmware.fixed import FixedType


class LayerOptions(Frozen):
    reuse_factor: int | None = Field(None, ge=1)
    strategy: Literal["latency", "resource"] | None = None
    result: str | None = Field(None, description="explicit result precision, e.g. 'fixed<16,6,RND,SAT>'")

    @field_validator("result")
    @classmethod
    def _parses(cls, value):
        if value is not None:
            FixedType.parse(value)
        return value


class FirmwareOptions(Frozen):
    """hls4ml implementation (backend, strategy, reuse) and the precisions codesign derives.

    Precisions fixed by QKeras quantizers are kept. Everything else is sized from the
    calibration data: integer bits from the largest value seen (times `headroom`),
    `float_bits` in all for weights, batch-norm constants and activations of unquantized
    layers, `diff_bits` for the reconstruction error (its square then fits one DSP cascade
    and an int64), `score_bits` for the squares and their sum. Derived types saturate, so an
    out-of-range (anomalous) event can only score high, never wrap round to a low score.
    """

    backend: Literal["Vitis", "Vivado"] = "Vitis"
    io_type: Literal["io_parallel"] = "io_parallel"
    strategy: Literal["latency", "resource"] = "latency"
    reuse_factor: int = Field(1, ge=1)
    input_bits: int = Field(16, ge=4, le=32, description="bits per input word (hardware units, per-feature scale)")
    float_bits: int = Field(18, ge=4, le=32)
    diff_bits: int = Field(24, ge=4, le=31, description="bits of the reconstruction error before squaring")
    score_bits: int = Field(32, ge=4, le=48)
    headroom: float = Field(2.0, ge=1.0, description="margin on calibration ranges before saturation")
    score_head: bool = True
    layers: dict[str, LayerOptions] = {}
