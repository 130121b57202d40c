"""The emulator: the generated firmware as a list of fixed-point operations on numpy arrays.

A Program is read off a converted hls4ml ModelGraph — after all of hls4ml's optimizer
passes, with the precisions the C++ is written with and the weights exactly as the
header files print them — so it computes what the firmware computes, bit for bit,
vectorised over events. It serialises to JSON and runs without hls4ml or TensorFlow.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign.firmware import fixed, kernel
from codesign.firmware.fixed import FixedType
from codesign.firmware.ops import CONVERTERS, Conversion, InputOp, Op, UnsupportedLayer, op_from_dict

__all__ = ["Program", "UnsupportedLayer", "from_hls4ml"]


@dataclass
class Program:
    """Ops in execution order; `outputs` name the tensors the firmware returns."""

    ops: list[Op]
    outputs: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def input(self) -> InputOp:
        return self.ops[0]

    @property
    def output_types(self) -> list[FixedType]:
        by_name = {op.name: op.out for op in self.ops}
        return [by_name[o] for o in self.outputs]

    def run(self, x: np.ndarray, batch: int = 4096, workers: int | None = None, engine: str = "auto",
            exponents: np.ndarray | None = None) -> list[np.ndarray]:
        """Integer outputs (one array per firmware output) for inputs x of shape (N, n_in).

        `x` is in input units, or in physical units with the input units' `exponents` (x * 2^-e).
        `engine`: "compiled" runs the compiled loops (`firmware.kernel`: the same integer semantics,
        ~10x faster), "numpy" the reference ops (`firmware.ops`), batch by batch on a thread pool; "auto" the
        compiled loops wherever they can run this program.
        """
        if engine != "numpy":
            compiled = self.compiled(np.shape(x)[1]) if np.ndim(x) == 2 else None
            if compiled is not None:
                return kernel.run(compiled, x, exponents, workers)
            if engine == "compiled":
                raise ValueError(f"this program cannot run compiled: {self._not_compiled}")
        x = np.asarray(x, dtype=np.float64)
        if exponents is not None:
            x = np.ldexp(x, -np.asarray(exponents, np.int64)[None, :])
        starts = range(0, len(x), batch)
        workers = workers or min(len(starts), os.cpu_count() or 1)
        if workers <= 1:
            parts = [self._run_batch(x[s:s + batch]) for s in starts]
        else:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda s: self._run_batch(x[s:s + batch]), starts))
        if not parts:
            return [np.zeros((0,) + (1,), np.int64) for _ in self.outputs]
        return [np.concatenate([p[i] for p in parts]) for i in range(len(self.outputs))]

    def compiled(self, n_inputs: int):
        """The kernel's op table for this program (cached), or None where only the numpy ops can run it."""
        cache = self.__dict__.setdefault("_compiled", {})
        if n_inputs not in cache:
            try:
                cache[n_inputs] = kernel.compile_program(self, n_inputs)
            except kernel.NotCompilable as exc:
                cache[n_inputs] = None
                self.__dict__["_not_compiled"] = str(exc)
        return cache[n_inputs]

    def _run_batch(self, x: np.ndarray) -> list[np.ndarray]:
        env = {self.ops[0].name: self.input.run_float(x)}
        for op in self.ops[1:]:
            env[op.name] = op.run(env)
        return [env[name].values for name in self.outputs]

    def run_float(self, x: np.ndarray) -> list[np.ndarray]:
        return [fixed.to_float(v, t.frac) for v, t in zip(self.run(x), self.output_types)]

    # ---------------------------------------------------------------- serialisation

    def to_json(self) -> str:
        return json.dumps({"ops": [op.to_dict() for op in self.ops], "outputs": self.outputs, "meta": self.meta})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Program:
        return cls.from_json(Path(path).read_text())

    @classmethod
    def from_json(cls, text: str) -> Program:
        data = json.loads(text)
        return cls([op_from_dict(d) for d in data["ops"]], data["outputs"], data.get("meta", {}))


# ---------------------------------------------------------------- reading an hls4ml graph


def from_hls4ml(hls_model) -> Program:
    """Read the emulator program off a converted hls4ml ModelGraph (io_parallel): each layer through the op
    class registered for its hls4ml class (`ops.CONVERTERS`); layers none implements are listed in one error."""
    ops: list[Op] = []
    unsupported = []
    ctx = Conversion()
    for layer in hls_model.get_layers():
        name = layer.outputs[0]
        out = FixedType.from_hls4ml(layer.get_output_variable().type.precision)
        cls = layer.class_name
        converter = CONVERTERS.get(cls)
        op = converter.from_hls4ml(layer, name, out, ctx) if converter is not None else None
        if op is not None:
            ops.append(op)
        else:
            detail = layer.get_attr("activation") or layer.get_attr("op") or ""
            unsupported.append(f"{layer.name} ({cls}{' ' + str(detail) if detail else ''})")
    if unsupported:
        raise UnsupportedLayer("the emulator does not implement: " + ", ".join(unsupported))
    return Program(ops, list(hls_model.outputs))
