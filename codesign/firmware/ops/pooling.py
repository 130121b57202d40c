"""hls4ml's pooling layers (io_parallel, channels last): max and average, 1D and 2D, windowed and global."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops.base import Conversion, Op, Tensor, common_fields, layer_type, register

GEOMETRY = ("in_height", "in_width", "n_filt", "pool_height", "pool_width", "stride_height", "stride_width",
            "pad_top", "pad_bottom", "pad_left", "pad_right")


@register("Pooling1D", "Pooling2D", "GlobalPooling1D", "GlobalPooling2D")
@dataclass
class PoolingOp(Op):
    """`pooling2d_cl` (1D: height 1; global: one window over the whole input, no padding).

    Per output and channel, the window's values in (row, column) order, a padded cell holding
    `pad_val` (0 for average; for max the value with only the top bit set). Max: the running maximum in
    the input type, returned as accum_t. Average: `accum_t y = 0; y += x` per value (each sum cast to
    accum_t), then `y /= length` (integer division toward zero), length the window's cells inside the
    input unless count_pad. The result is assigned to the result type.
    """

    pool_op: str = "max"
    accum: FixedType = None
    in_height: int = 1
    in_width: int = 1
    n_filt: int = 1
    pool_height: int = 1
    pool_width: int = 1
    stride_height: int = 1
    stride_width: int = 1
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0
    count_pad: bool = False

    def _positions(self, size: int, pool: int, stride: int, pad: int, pad_end: int) -> list[int]:
        full = size + pad + pad_end
        return list(range(0, (full - pool) // stride * stride + 1, stride))

    def run(self, env):
        x = env[self.inputs[0]]
        t, acc = x.type, self.accum
        n = len(x.values)
        v = np.asarray(x.values).reshape(n, self.in_height, self.in_width, self.n_filt)
        pad = (t.int_min if t.signed else 1 << (t.width - 1)) if self.pool_op == "max" else 0
        rows = self._positions(self.in_height, self.pool_height, self.stride_height, self.pad_top, self.pad_bottom)
        cols = self._positions(self.in_width, self.pool_width, self.stride_width, self.pad_left, self.pad_right)
        tb, ab = fixed.signed_bits(t), fixed.signed_bits(acc)
        out = []
        for ii in rows:
            for jj in cols:
                cells, inside = [], 0
                for kk in range(self.pool_height):
                    for ll in range(self.pool_width):
                        r, c = ii + kk - self.pad_top, jj + ll - self.pad_left
                        if 0 <= r < self.in_height and 0 <= c < self.in_width:
                            cells.append(v[:, r, c, :])
                            inside += 1
                        else:
                            cells.append(np.full((n, self.n_filt), pad, dtype=v.dtype))
                if self.pool_op == "max":
                    y = cells[0]
                    for cell in cells[1:]:
                        y = np.where(cell > y, cell, y)
                    y = fixed.cast(y, t.frac, acc, bits_in=tb)
                else:
                    y = np.zeros((n, self.n_filt), dtype=np.int64)
                    for cell in cells:
                        frac = max(acc.frac, t.frac)
                        bits = max(ab - acc.frac, tb - t.frac) + frac + 1
                        s = (y.astype(object) if fixed.needs_object(bits) else y) * (1 << (frac - acc.frac)) + \
                            cell * (1 << (frac - t.frac))
                        y = fixed.cast(s, frac, acc, bits_in=bits)
                    length = self.pool_height * self.pool_width if self.count_pad else inside
                    y = np.where(y >= 0, y // length, -((-y) // length))
                out.append(fixed.cast(y, acc.frac, self.out, bits_in=ab))
        return Tensor(np.stack(out, axis=1).reshape(n, -1), self.out)

    def to_dict(self):
        return {**super().to_dict(), "pool_op": self.pool_op, "accum": self.accum.to_dict(),
                "count_pad": self.count_pad, **{k: getattr(self, k) for k in GEOMETRY}}

    @classmethod
    def from_dict(cls, d: dict) -> PoolingOp:
        return cls(**common_fields(d), pool_op=d["pool_op"], accum=FixedType(**d["accum"]), count_pad=d["count_pad"],
                   **{k: d[k] for k in GEOMETRY})

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        if layer.get_attr("data_format", "channels_last") != "channels_last":
            return None
        cls_name, get = layer.class_name, layer.get_attr
        common = {"pool_op": str(get("pool_op")).lower(), "accum": layer_type(layer, "accum_t"),
                  "n_filt": int(get("n_filt"))}
        if cls_name.endswith("1D"):
            geometry = {"in_height": 1, "in_width": int(get("n_in"))}
            if cls_name.startswith("Global"):
                geometry.update(pool_width=geometry["in_width"], stride_width=geometry["in_width"])
            else:
                geometry.update(pool_width=int(get("pool_width")), stride_width=int(get("stride_width")),
                                pad_left=int(get("pad_left")), pad_right=int(get("pad_right")))
        else:
            geometry = {"in_height": int(get("in_height")), "in_width": int(get("in_width"))}
            if cls_name.startswith("Global"):
                geometry.update(pool_height=geometry["in_height"], pool_width=geometry["in_width"],
                                stride_height=geometry["in_height"], stride_width=geometry["in_width"])
            else:
                geometry.update({k: int(get(k)) for k in GEOMETRY[3:]})
        return cls(name, list(layer.inputs), out, count_pad=bool(get("count_pad", False)), **common, **geometry)
