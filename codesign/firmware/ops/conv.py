"""Convolutions (io_parallel, channels last, latency strategy): hls4ml's im2col buffer, then its dense kernel per pixel.

hls4ml generates each layer's `fill_buffer` from an im2col matrix it computes in Python
(`FPGABackend._compute_conv2d_im2col`): per output pixel, the input element (or a literal 0 for a
padded cell) of every (kernel row, kernel column, channel). `conv_2d_latency_cl` then computes each
pixel exactly as `dense_latency` does — products and bias assigned to accum_t, summed in accum_t,
the sum cast to the result — which `DenseOp` implements. The gather matrix is taken from hls4ml's
own function, so the emulator reads the same cells the generated C++ does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.firmware.fixed import FixedType
from codesign.firmware.ops.base import Conversion, Op, Tensor, common_fields, ints, layer_type, register, weight_ints
from codesign.firmware.ops.dense import DenseOp


def im2col(shape: tuple[int, int, int], kernel: tuple[int, int], stride: tuple[int, int],
           pad: tuple[int, int, int, int], dilation: tuple[int, int] = (1, 1)) -> np.ndarray:
    """(pixels, kernel cells) indices into the flattened input + 1, 0 for a padded cell: hls4ml's own matrix."""
    from hls4ml.backends import get_backend

    return get_backend("Vitis")._compute_conv2d_im2col(shape, kernel, stride, pad, dilation).astype(np.int64)


@register("Conv1D", "Conv2D")
@dataclass
class ConvOp(Op):
    """A 1D (height 1) or 2D convolution: the im2col gather, then `dense` on every output pixel."""

    dense: DenseOp = None
    gather: np.ndarray = None  # (pixels, kernel cells): input index + 1, 0 = a padded cell (value 0)

    def run(self, env):
        x = env[self.inputs[0]]
        n = len(x.values)
        padded = np.concatenate([np.zeros((n, 1), dtype=x.values.dtype), x.values], axis=1)
        patches = padded[:, self.gather]  # (n, pixels, cells)
        pixels = patches.shape[1]
        out = self.dense.run({self.dense.inputs[0]: Tensor(patches.reshape(n * pixels, -1), x.type)})
        return Tensor(out.values.reshape(n, -1), self.out)

    def to_dict(self):
        return {**super().to_dict(), "dense": self.dense.to_dict(), "gather": self.gather.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> ConvOp:
        return cls(**common_fields(d), dense=DenseOp.from_dict(d["dense"]), gather=ints(d["gather"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        get = layer.get_attr
        if get("data_format", "channels_last") != "channels_last" or str(get("strategy", "latency")).lower() not in (
                "latency",) or ctx.time_steps is not None:
            return None
        two_d = layer.class_name == "Conv2D"
        shape = (int(get("in_height")) if two_d else 1, int(get("in_width")), int(get("n_chan")))
        kernel = (int(get("filt_height")) if two_d else 1, int(get("filt_width")))
        stride = (int(get("stride_height")) if two_d else 1, int(get("stride_width")))
        pad = (int(get("pad_top", 0)) if two_d else 0, int(get("pad_bottom", 0)) if two_d else 0,
               int(get("pad_left", 0)), int(get("pad_right", 0)))
        dilation = (int(get("dilation_height", 1)) if two_d else 1, int(get("dilation_width", 1)))
        gather = im2col(shape, kernel, stride, pad, dilation)
        wt, bt = layer_type(layer, "weight_t"), layer_type(layer, "bias_t")
        n_filt = int(get("n_filt"))
        w = weight_ints(layer.weights["weight"], wt).reshape(-1, n_filt)  # (kernel row, column, channel) x filter
        b = weight_ints(layer.weights["bias"], bt).reshape(-1)
        dense = DenseOp(f"{name}_pixel", ["patch"], out, weight=w, weight_type=wt, bias=b, bias_type=bt,
                        accum=layer_type(layer, "accum_t"))
        return cls(name, list(layer.inputs), out, dense=dense, gather=gather)
