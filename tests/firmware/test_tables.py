"""hls4ml's table activations and softmax: hand cases of the index arithmetic and of the adder tree
(against C-sim: tests/firmware/test_user_layers.py)."""

import numpy as np

from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops import TableActivationOp, Tensor, op_from_dict
from codesign.firmware.ops.tables import reduce_tree, table_index, top_bits


def test_table_index_truncates_toward_zero_and_clips():
    # x * 1024 / 16 = 64 x: -0.99 -> -63.36 -> -63 (not -64), +0.99 -> 63; beyond +-8 the ends of the table
    t = FixedType(16, 6)
    x = fixed.from_float(np.array([-0.99, 0.99, -100 / 64, 8.5, -9.0, 0.0]), t)
    assert table_index(x, t.frac, 64, 1024).tolist() == [512 - 63, 512 + 63, 512 - 100, 1023, 0, 512]


def test_top_bits_slice_the_bit_pattern():
    t = FixedType(8, 3)  # 5 fractional bits: -1 is 0b11100000, its top 3 bits 0b111 = 7; +1 is 0b00100000: 1
    v = fixed.from_float(np.array([-1.0, 1.0, 3.875, -4.0]), t)
    assert top_bits(v, t, 3).tolist() == [7, 1, 3, 4]


def test_the_adder_tree_is_hls4mls_and_its_order_matters_when_it_saturates():
    """reduce<5>: (x0 + x1 + x2 + x3) + x4 as ((x0 + x1) + (x2 + x3)) + x4, each sum saturated to 3 bits."""
    def add(a, b):
        return np.clip(a + b, -4, 3)

    cols = [np.array([v]) for v in (3, 3, -4, -4, 1)]
    assert reduce_tree(cols, add).tolist() == [0]  # ((3 + 3 -> 3) + (-4 + -4 -> -4)) + 1; left to right: -3
    assert reduce_tree(cols[:3], add).tolist() == [-1]  # (3 + 3 -> 3) + -4


def test_table_activation_op_hand_case_and_json_round_trip():
    tt = FixedType(18, 8)
    table = fixed.from_float(np.linspace(0, 1, 16, endpoint=False), tt)
    op = TableActivationOp("s", ["x"], FixedType(8, 1, False), activation="sigmoid", table_type=tt, table=table)
    t = FixedType(10, 5)
    x = fixed.from_float(np.array([[-9.0, 0.0, 0.99, 1.0, 7.9]]), t)  # index int(x) + 8 of a 16-entry table
    got = fixed.to_float(op.run({"x": Tensor(x, t)}).values, 7)
    np.testing.assert_array_equal(got, [[0.0, 0.5, 0.5, 0.5625, 0.9375]])
    assert op_from_dict(op.to_dict()).to_dict() == op.to_dict()
