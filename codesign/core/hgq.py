"""HGQ (heterogeneous quantization, Sun et al. arXiv 2405.00645): layers, callbacks and the proxy model.

An HGQ model learns a fractional width per weight and per activation, with `beta` x EBOPs
(effective bit operations, HGQ's differentiable resource proxy) in the loss; a weight that
learns zero bits is pruned. After training, `finalize` traces the activation ranges on the
training events (which fixes the integer bits) and converts the model to HGQ's *proxy*:
plain Keras Dense/BatchNormalization/ReLU layers with a `FixedPointQuantizer` after each,
which hls4ml converts with every per-element width intact. The proxy is the trained model
codesign keeps, scores and builds firmware from.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from codesign.config import Frozen


class HGQTraining(Frozen):
    """How a model with `quantizer: hgq` trains and becomes its proxy (ignored for other models)."""

    beta: float = Field(1e-5, gt=0.0, le=1.0, description="weight of EBOPs in the loss: larger gives narrower "
                        "widths and more zero-bit (pruned) weights")
    weight_bits: int = Field(4, ge=0, le=16, description="initial fractional bits of every weight")
    activation_bits: int = Field(4, ge=0, le=16, description="initial fractional bits of every activation")
    callbacks: tuple[Literal["reset_minmax", "free_bops"], ...] = Field(
        ("reset_minmax", "free_bops"), description="reset_minmax: activation ranges follow the current weights each "
        "epoch; free_bops: record EBOPs per epoch in the history ('bops')")
    cover_factor: float = Field(1.0, ge=1.0, le=16.0, description="headroom on the traced activation ranges "
                                "before the integer bits are fixed")
    overflow: Literal["SAT", "WRAP"] = Field("SAT", description="what the proxy's quantizers do beyond the traced "
                                             "range: SAT keeps an anomaly large; WRAP is HGQ's 'aggressive' mode")


def _confs(hgq: HGQTraining) -> tuple[dict, dict]:
    from HGQ import get_default_kq_conf, get_default_paq_conf

    kq, paq = get_default_kq_conf(), get_default_paq_conf()
    kq["init_bw"], paq["init_bw"] = hgq.weight_bits, hgq.activation_bits
    return kq, paq


def quantize_input(x, hgq: HGQTraining, name: str = "input_q"):
    from HGQ.layers import HQuantize

    _, paq = _confs(hgq)
    return HQuantize(paq_conf=paq, beta=hgq.beta, name=name)(x)


def dense(x, units: int, name: str, activation: str, batchnorm: bool, hgq: HGQTraining):
    """HDense, or HDenseBatchNorm (the batch norm fused into the quantized kernel, as the firmware computes it)."""
    from HGQ.layers import HDense, HDenseBatchNorm

    kq, paq = _confs(hgq)
    cls = HDenseBatchNorm if batchnorm else HDense
    return cls(units, activation=activation, kernel_initializer="he_uniform", kq_conf=kq, paq_conf=paq,
               beta=hgq.beta, name=name)(x)


def is_hgq(model) -> bool:
    from HGQ.layers import HLayerBase

    return any(isinstance(layer, HLayerBase) for layer in model.layers)


def callbacks(hgq: HGQTraining) -> list:
    from HGQ import FreeBOPs, ResetMinMax

    made = {"reset_minmax": ResetMinMax, "free_bops": FreeBOPs}
    return [made[name]() for name in hgq.callbacks]


def finalize(model, x, hgq: HGQTraining, keep: tuple[type, ...] = ()):
    """(proxy model, EBOPs): ranges traced on `x`, then HGQ's hls4ml-ready proxy of the trained model.

    HGQ's to_proxy_model with one addition: layers of the `keep` classes (a VAE's sampling layer: not
    in hls4ml, never deployed) stay as they are, so the proxy of a VAE is still the whole VAE.
    """
    from HGQ import trace_minmax
    from HGQ.proxy.convert import ProxyLayerXFormer, convert_model

    ebops = float(trace_minmax(model, x, verbose=False, cover_factor=hgq.cover_factor))
    xformer = ProxyLayerXFormer("WRAP" if hgq.overflow == "WRAP" else "SAT")
    proxy = convert_model(model, layer_xformer=lambda layer: layer if isinstance(layer, keep) else xformer(layer))
    return proxy, ebops


def custom_objects() -> dict:
    """The proxy's FixedPointQuantizer (and HGQ's layers), for loading saved HGQ models."""
    from HGQ import layers
    from HGQ.proxy.fixed_point_quantizer import FixedPointQuantizer

    objects = {"FixedPointQuantizer": FixedPointQuantizer, "HGQ>FixedPointQuantizer": FixedPointQuantizer}
    for name in ("HQuantize", "HDense", "HDenseBatchNorm"):
        objects[name] = objects[f"HGQ>{name}"] = getattr(layers, name)
    return objects
