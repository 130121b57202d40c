"""hls4ml's LSTM (lstm_stack / lstm_static, io_parallel); its sigmoid/tanh tables come from `tables`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops.base import Conversion, Op, Tensor, common_fields, ints, layer_type, register, weight_ints
from codesign.firmware.ops.dense import DenseOp
from codesign.firmware.ops.tables import activation_tables, table_index


@register("LSTM")
@dataclass
class LSTMOp(Op):
    """hls4ml's lstm_stack / lstm_static (io_parallel), step by step over the sequence.

    Per step: gates = dense(x_t) + dense(h) in accum_t (Keras order i, f, c, o); i, f, o through
    the sigmoid table, c through the tanh table (both 1024 entries of table_t over [-8, 8) and
    [-4, 4), indexed by int(x * size / range) which truncates toward zero); the cell state
    s = c * i + s * f and h = o * tanh(s) are computed exactly and assigned to result_t, so both
    states live in the layer's result type. The tables are computed by the C++ itself (`tables`).
    """

    kernel: DenseOp = None  # x_t -> 4 n (accum_t)
    recurrent: DenseOp = None  # h -> 4 n (accum_t)
    steps: int = 1
    n_in: int = 1
    units: int = 1
    return_sequences: bool = True
    accum: FixedType = None
    activation: str = "tanh"
    table_type: FixedType = None
    sigmoid: np.ndarray = None  # table_t integers
    tanh: np.ndarray = None

    def _sigmoid(self, v: np.ndarray) -> np.ndarray:
        size = len(self.sigmoid)
        idx = table_index(v, self.accum.frac, size // 16, size)
        return fixed.cast(self.sigmoid[idx], self.table_type.frac, self.accum,
                          bits_in=fixed.signed_bits(self.table_type))

    def _act(self, v: np.ndarray, t: FixedType) -> np.ndarray:
        """The cell activation of a value of type t, assigned to accum_t."""
        if self.activation == "relu":
            return fixed.cast(np.where(v > 0, v, 0), t.frac, self.accum, bits_in=fixed.signed_bits(t))
        size = len(self.tanh)
        idx = table_index(v, t.frac, size // 8, size)
        return fixed.cast(self.tanh[idx], self.table_type.frac, self.accum, bits_in=fixed.signed_bits(self.table_type))

    def run(self, env):
        x = env[self.inputs[0]]
        n, u, fa, res = len(x.values), self.units, self.accum.frac, self.out
        h = np.zeros((n, u), np.int64)
        s = np.zeros((n, u), np.int64)
        ab = fixed.signed_bits(self.accum)
        rb = fixed.signed_bits(res)
        wide = fixed.needs_object(max(2 * ab, rb + ab) + 2)
        outputs = []
        for t in range(self.steps):
            xt = Tensor(x.values[:, t * self.n_in:(t + 1) * self.n_in], x.type)
            a = self.kernel.run({self.kernel.inputs[0]: xt}).values
            r = self.recurrent.run({self.recurrent.inputs[0]: Tensor(h, res)}).values
            g = fixed.cast(a + r, fa, self.accum, bits_in=ab + 1)
            i, f, c, o = (g[:, k * u:(k + 1) * u] for k in range(4))
            i, f, o = self._sigmoid(i), self._sigmoid(f), self._sigmoid(o)
            c = self._act(c, self.accum)
            if wide:
                i, f, o, c, s = (np.asarray(v, dtype=object) for v in (i, f, o, c, s))
            # s = c*i + s*f: exact products (2 fa and res.frac + fa fractional bits), one assignment to result_t.
            frac = max(2 * fa, res.frac + fa)
            total = (c * i) * (1 << (frac - 2 * fa)) + (s * f) * (1 << (frac - res.frac - fa))
            s = fixed.cast(total, frac, res, bits_in=max(2 * ab, rb + ab) + 2)
            h = fixed.cast(o * self._act(s, res), 2 * fa, res, bits_in=2 * ab)
            if self.return_sequences:
                outputs.append(h)
        values = np.concatenate(outputs, axis=1) if self.return_sequences else h
        return Tensor(values, self.out)

    def to_dict(self):
        return {**super().to_dict(), "kernel": self.kernel.to_dict(), "recurrent": self.recurrent.to_dict(),
                "steps": self.steps, "n_in": self.n_in, "units": self.units,
                "return_sequences": self.return_sequences, "accum": self.accum.to_dict(),
                "activation": self.activation, "table_type": self.table_type.to_dict(),
                "sigmoid": self.sigmoid.tolist(), "tanh": self.tanh.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> LSTMOp:
        return cls(**common_fields(d), kernel=DenseOp.from_dict(d["kernel"]),
                   recurrent=DenseOp.from_dict(d["recurrent"]), steps=d["steps"], n_in=d["n_in"],
                   units=d["units"], return_sequences=d["return_sequences"],
                   accum=FixedType(**d["accum"]), activation=d["activation"],
                   table_type=FixedType(**d["table_type"]), sigmoid=ints(d["sigmoid"]),
                   tanh=ints(d["tanh"]))

    @classmethod
    def from_hls4ml(cls, layer, name: str, out: FixedType, ctx: Conversion) -> Op | None:
        return cls.read(layer, name, out) if cls.supports(layer) else None

    @staticmethod
    def supports(layer) -> bool:
        """Whether the emulator implements this hls4ml LSTM layer (forward, sigmoid gates, tanh or relu cell)."""
        return (layer.get_attr("recurrent_activation") == "sigmoid"
                and layer.get_attr("activation") in ("tanh", "relu")
                and layer.get_attr("direction", "forward") == "forward"
                and layer.get_attr("table_size", 1024) % 16 == 0)

    @classmethod
    def read(cls, layer, name: str, out: FixedType) -> LSTMOp:
        """The op of an hls4ml LSTM layer, whether or not it `supports` it (the estimator reads its shapes and types)."""
        n_in, units = int(layer.get_attr("n_in")), int(layer.get_attr("n_out"))
        accum = layer_type(layer, "accum_t")
        transposed = layer.get_attr("_weights_transposed", False)

        def dense(kind: str, rows: int, tag: str) -> DenseOp:
            prefix = "" if kind == "" else f"{kind}_"
            wt, bt = layer_type(layer, f"{prefix}weight_t"), layer_type(layer, f"{prefix}bias_t")
            w = weight_ints(layer.weights[f"{prefix}weight"], wt)
            w = w.T if transposed else w  # the resource strategy stores (4 n, rows)
            b = weight_ints(layer.weights[f"{prefix}bias"], bt).reshape(-1)
            return DenseOp(f"{name}_{tag}", [tag], accum, weight=w.reshape(rows, 4 * units), weight_type=wt, bias=b,
                           bias_type=bt, accum=accum)

        table_type = layer_type(layer, "table_t")
        sigmoid, tanh = activation_tables(table_type, int(layer.get_attr("table_size", 1024)))
        return cls(name, list(layer.inputs), out, kernel=dense("", n_in, "x"),
                   recurrent=dense("recurrent", units, "h"), steps=int(layer.get_attr("n_timesteps")), n_in=n_in,
                   units=units, return_sequences=bool(layer.get_attr("return_sequences")), accum=accum,
                   activation=layer.get_attr("activation"), table_type=table_type, sigmoid=sigmoid, tanh=tanh)
