"""C-simulation: build the hls4ml project's C++ with g++ and call it through ctypes.

This replaces hls4ml's compile()/predict() with one external-tool wrapper: the compiler
is looked up first, its output is kept in the project directory, and a failure names
that log. The per-event call is the same bridge function hls4ml's predict uses.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.ctypeslib as npc

from codesign.errors import ToolError


def require_compiler() -> str:
    path = shutil.which("g++")
    if path is None:
        raise ToolError("g++ not found: hls4ml C-simulation compiles the generated C++ with g++ "
                        "(Debian/Ubuntu: apt install g++)")
    return path


def build(project_dir: Path, project_name: str, stamp: str) -> Path:
    """Compile the written project into a shared library; returns its path."""
    require_compiler()
    log_path = project_dir / "build_lib.log"
    with log_path.open("w") as log:
        proc = subprocess.run(["bash", "build_lib.sh"], cwd=project_dir, stdout=log, stderr=subprocess.STDOUT)
    lib = project_dir / "firmware" / f"{project_name}-{stamp}.so"
    if proc.returncode != 0 or not lib.is_file():
        raise ToolError(f"g++ failed to build the C-simulation library of {project_dir} "
                        f"(exit {proc.returncode}); compiler output in {log_path}")
    return lib


_SMOKE = """
import ctypes, sys
import numpy as np
lib = ctypes.cdll.LoadLibrary(sys.argv[1])
fn = getattr(lib, sys.argv[2] + "_double")
fn.restype = None
args = [np.zeros(int(n)) for n in sys.argv[3:]]
fn(*[a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)) for a in args])
"""


def smoke_test(lib_path: Path, project_name: str, n_inputs: int, output_sizes: list[int]) -> None:
    """Call the library once in a child process: hls4ml's C++ asserts (e.g. on a reuse factor its
    resource-strategy kernels cannot take) abort the process that runs it, which must not be ours."""
    import sys

    proc = subprocess.run([sys.executable, "-c", _SMOKE, str(lib_path), project_name, str(n_inputs),
                           *map(str, output_sizes)], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ToolError(f"the C-simulation of {lib_path.parents[1]} aborts on its first call: {detail[:400]}")


class CSim:
    """A compiled firmware library: float64 in, float64 out, one event per call (hls4ml's bridge)."""

    def __init__(self, lib_path: Path, project_name: str, n_inputs: int, output_sizes: list[int]):
        self.lib_path = Path(lib_path)
        weights = self.lib_path.parent / "weights"
        if not weights.is_dir() or not any(weights.glob("*.txt")):
            # The library reads these at its first call and calls exit() if they are missing.
            raise ToolError(f"{weights}: the C-simulation's weight files are missing; delete "
                            f"{self.lib_path.parents[2]} to rebuild the firmware")
        self._lib = ctypes.cdll.LoadLibrary(str(self.lib_path))
        self._fn = getattr(self._lib, f"{project_name}_double")
        self._fn.restype = None
        self._fn.argtypes = [npc.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")] * (1 + len(output_sizes))
        self.n_inputs = n_inputs
        self.output_sizes = output_sizes

    def predict(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected inputs of shape (N, {self.n_inputs}), got {x.shape}")
        outs = [np.zeros((len(x), size)) for size in self.output_sizes]
        rows = [np.zeros(size) for size in self.output_sizes]
        for i in range(len(x)):
            self._fn(x[i], *rows)
            for out, row in zip(outs, rows):
                out[i] = row
        return outs
