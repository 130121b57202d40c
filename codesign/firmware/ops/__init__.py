"""The emulator's ops, one class each (numpy reference, JSON form, hls4ml converter), and their registry.

Adding an op: a class deriving from `Op` in a module here, decorated with `@register("HlsClass", ...)`
(the hls4ml layer classes it converts), implementing `run`, and `to_dict` / `from_dict` /
`from_hls4ml` where it has fields of its own; import its module below. See `base.py`.
"""

from codesign.firmware.ops.activations import HardActivationOp, LeakyReLUOp, PReLUOp, ThresholdedReLUOp
from codesign.firmware.ops.base import (
    CONVERTERS,
    OPS,
    Conversion,
    Op,
    Tensor,
    UnsupportedLayer,
    layer_type,
    op_from_dict,
    register,
    weight_ints,
)
from codesign.firmware.ops.conv import ConvOp
from codesign.firmware.ops.dense import DenseOp, TimeDistributedOp
from codesign.firmware.ops.elementwise import (
    ActivationOp,
    BatchNormOp,
    ConcatenateOp,
    IdentityOp,
    InputOp,
    MergeOp,
    ResizeOp,
)
from codesign.firmware.ops.lstm import LSTMOp
from codesign.firmware.ops.pooling import PoolingOp
from codesign.firmware.ops.quantizer import FixedPointQuantizerOp
from codesign.firmware.ops.tables import SoftmaxOp, TableActivationOp, activation_tables, table_index

__all__ = [
    "CONVERTERS",
    "OPS",
    "ActivationOp",
    "BatchNormOp",
    "ConcatenateOp",
    "ConvOp",
    "Conversion",
    "DenseOp",
    "FixedPointQuantizerOp",
    "HardActivationOp",
    "IdentityOp",
    "InputOp",
    "LSTMOp",
    "LeakyReLUOp",
    "MergeOp",
    "Op",
    "PReLUOp",
    "PoolingOp",
    "ResizeOp",
    "SoftmaxOp",
    "TableActivationOp",
    "Tensor",
    "ThresholdedReLUOp",
    "TimeDistributedOp",
    "UnsupportedLayer",
    "activation_tables",
    "layer_type",
    "op_from_dict",
    "register",
    "table_index",
    "weight_ints",
]
