"""HGQ's per-element quantizer: `out[j] = ap_(u)fixed<b_j, i_j, RND, SAT>(in[j])` (0 where b_j = 0).

hls4ml converts a proxy model's `FixedPointQuantizer` this way when its mask is heterogeneous
(`backends/fpga/passes/hgq_proxy_model.py`, `generate_mask_fn`); a uniform one is fused into the
layer before it (`fuse_fixed_point_quantizer`) and never reaches the emulator. Each element is cast
to its own type, then held in the layer's result type (a container wide enough for all of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops.base import Conversion, Op, Tensor, common_fields, register


@register("FixedPointQuantizer", "HGQ>FixedPointQuantizer")
@dataclass
class FixedPointQuantizerOp(Op):
    keep_negative: list[int] = field(default_factory=list)  # per element: 1 signed, 0 unsigned
    bits: list[int] = field(default_factory=list)  # per element; 0 = the element is 0
    integers: list[int] = field(default_factory=list)  # per element, sign bit included when signed
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def run(self, env):
        x = env[self.inputs[0]]
        v = np.asarray(x.values)
        k, b, i = self.mask(v.shape[-1] if v.ndim > 1 else v.size)
        out = np.zeros(v.shape, dtype=object if fixed.needs_object(self.out.width) else np.int64)
        bits_in = fixed.signed_bits(x.type)
        for kk, bb, ii in sorted(set(zip(k.tolist(), b.tolist(), i.tolist()))):
            cols = np.flatnonzero((k == kk) & (b == bb) & (i == ii))
            if bb == 0:
                continue  # hls4ml writes `out[j] = 0`
            t = FixedType(int(bb), int(ii), bool(kk), self.rounding, self.overflow)
            own = fixed.cast(v[..., cols], x.frac, t, bits_in=bits_in)
            out[..., cols] = fixed.cast(own, t.frac, self.out, bits_in=fixed.signed_bits(t))
        return Tensor(out, self.out)

    def mask(self, n: int) -> np.ndarray:
        """(3, n): each element's keep_negative, bits and integer bits."""
        return fixed.element_mask(self.keep_negative, self.bits, self.integers, n)

    def to_dict(self):
        return {**super().to_dict(), "keep_negative": list(self.keep_negative), "bits": list(self.bits),
                "integers": list(self.integers), "rounding": self.rounding, "overflow": self.overflow}

    @classmethod
    def from_dict(cls, d: dict) -> FixedPointQuantizerOp:
        return cls(**common_fields(d), keep_negative=d["keep_negative"], bits=d["bits"], integers=d["integers"],
                   rounding=d["rounding"], overflow=d["overflow"])

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        k, b, i = (np.asarray(a).ravel().astype(int).tolist() for a in layer.mask_kbi)
        return cls(name, list(layer.inputs), out, keep_negative=k, bits=b, integers=i,
                   rounding=str(layer.RND), overflow=str(layer.SAT))
