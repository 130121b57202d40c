"""The Firmware object: one candidate's hls4ml project, its C-simulation and its emulator.

Built firmware is cached by a hash of everything that determines the generated code
(model architecture and weights, hls4ml configuration with all derived precisions,
part, clock, backend, versions), so the same firmware is never compiled twice: a cache
hit needs neither hls4ml nor g++.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from codesign import provenance
from codesign.core import persistence
from codesign.core.preprocessing import Preprocessor
from codesign.core.scoring import oldest_step_error
from codesign.firmware import convert, csim, fixed, program
from codesign.firmware.convert import InputUnits
from codesign.firmware.csim import CSim
from codesign.firmware.fixed import FixedType
from codesign.firmware.options import FirmwareOptions
from codesign.firmware.program import Program
from codesign.locks import exclusive

log = logging.getLogger("codesign")
PROJECT_NAME = "codesign_fw"
GRAPH_FILE = "graph.h5"  # the firmware graph as Keras h5 (Keras-built firmware only)
FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get("CODESIGN_CACHE", Path.home() / ".cache" / "codesign")) / "firmware"


@dataclass
class Firmware:
    """A compiled firmware model. Inputs are physical values (N, n_inputs); outputs are integers."""

    directory: Path
    program: Program
    units: InputUnits
    info: dict = field(default_factory=dict)
    _csim: CSim | None = None

    @property
    def key(self) -> str:
        return self.info["key"]

    @property
    def project_dir(self) -> Path:
        return self.directory / "project"

    @property
    def output_types(self):
        return self.program.output_types

    def to_units(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return self.units.to_units(x.reshape(len(x), -1))  # sequences (events, steps, features) go flat

    def emulate(self, x: np.ndarray, engine: str = "auto") -> list[np.ndarray]:
        """Integer outputs computed by the emulator (compiled loops, or the numpy reference ops)."""
        x = np.asarray(x)
        return self.program.run(x.reshape(len(x), -1), engine=engine, exponents=self.units.exponents)

    def csim(self, x: np.ndarray) -> list[np.ndarray]:
        """Integer outputs computed by the compiled HLS C++ (hls4ml's C-simulation)."""
        if self._csim is None:
            self._csim = CSim(self.directory / self.info["library"], PROJECT_NAME, len(self.units.exponents),
                              [int(np.prod(s)) for s in self.info["output_shapes"]])
        outs = self._csim.predict(self.to_units(x))
        return [_exact_ints(o, t) for o, t in zip(outs, self.output_types)]

    def score(self, x: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
        """The anomaly score the trigger receives, as a float (emulator; identical to C-sim).

        Computed in blocks of `chunk` events, so a memory-mapped test set of millions of events
        is read once and never held in memory. A sequence model's firmware returns its
        reconstruction (steps, features); its score is computed from that, exactly as
        `core.scoring` does for the Keras model: the mean absolute error of the oldest step.
        """
        return np.concatenate([self._score(np.asarray(x[i:i + chunk])) for i in range(0, len(x), chunk)] or
                              [np.zeros(0)])

    def _score(self, x: np.ndarray) -> np.ndarray:
        sequence = self.info.get("input_shape", [])
        if not self.info.get("score_head", False):
            if len(sequence) == 2:
                (out,) = self.emulate(x)
                x = np.asarray(x, dtype=np.float64)
                return oldest_step_error(x.reshape(len(x), *sequence), fixed.to_float(out, self.output_types[0].frac))
            raise ValueError("this firmware was built without the score head")
        (out,) = self.emulate(x)
        return fixed.to_float(out[:, 0], self.output_types[0].frac)


def _exact_ints(values: np.ndarray, t) -> np.ndarray:
    scaled = np.ldexp(values, t.frac)
    ints = np.rint(scaled)
    if not np.array_equal(ints, scaled):
        raise AssertionError("C-simulation output is not on its fixed-point grid")
    return ints.astype(np.int64)


def cache_key(*parts, part: str, clock_period_ns: float, options: FirmwareOptions) -> str:
    """Hash of everything that determines the generated firmware (strings, bytes, arrays, JSON-able data)."""
    h = hashlib.sha256()
    for item in parts:
        if isinstance(item, bytes):
            h.update(item)
        elif isinstance(item, np.ndarray):
            h.update(np.ascontiguousarray(item).tobytes())
        else:
            h.update(json.dumps(item, sort_keys=True, default=str).encode())
    h.update(json.dumps({"part": part, "clock": clock_period_ns, "options": options.model_dump(mode="json"),
                         "versions": provenance.versions(("hls4ml", "qkeras", "tensorflow", "qonnx")),
                         "format": FORMAT_VERSION}, sort_keys=True).encode())
    return h.hexdigest()[:20]


def build(model, spec=None, preprocessor: Preprocessor | None = None, x_calib: np.ndarray | None = None,
          options: FirmwareOptions | None = None, part: str = "xcvu13p-flga2577-2-e", clock_period_ns: float = 5.0,
          cache_dir: str | Path | None = None, units: InputUnits | None = None, input_groups=None) -> Firmware:
    """Convert a trained Keras/QKeras model to hls4ml firmware, compile its C-simulation, read off the emulator.

    `x_calib` (physical inputs, e.g. a sample of the training data) sizes the input units and
    every precision that no quantizer fixes; `input_groups` names each input's physical quantity
    (e.g. 'pt', 'eta', 'phi'), and inputs of one quantity share their units.
    """
    options = options or FirmwareOptions()
    if x_calib is None:
        raise ValueError("x_calib (calibration inputs) is required to size the firmware precisions")
    x_calib = np.asarray(x_calib).reshape(len(x_calib), -1)  # sequences: flat, time-major
    if units is None and preprocessor is not None and preprocessor.range is not None:
        ranges = np.tile(preprocessor.range, x_calib.shape[1] // len(preprocessor.range))  # sequences: every step
        units = InputUnits.saturating_at(ranges, options.input_bits)  # the type saturates where the preprocessing clips
    units = units or InputUnits.derive(x_calib, options.input_bits, options.headroom, input_groups)
    graph = convert.firmware_graph(model, spec, preprocessor, units, options.score_head)
    peaks = convert.profile(graph, units.to_units(x_calib[:100_000]))
    cfg = convert.hls_config(graph, peaks, units, options)
    key = cache_key(graph.to_json(), *graph.get_weights(), cfg, part=part, clock_period_ns=clock_period_ns,
                    options=options)

    def make(output_dir: str):
        hls_model = convert.convert(graph, cfg, options, part, clock_period_ns, output_dir, PROJECT_NAME)
        persistence.save_model(Path(output_dir).parent / GRAPH_FILE, graph)  # for export (QONNX, Keras)
        return hls_model

    return compile_cached(key, make, units, options, part, clock_period_ns, cache_dir,
                           {"hls_config": cfg, "peaks": peaks, "source": "keras",
                            "input_shape": [int(d) for d in graph.input_shape[1:]]})


def compile_cached(key: str, make_hls_model, units: InputUnits, options: FirmwareOptions, part: str,
                    clock_period_ns: float, cache_dir, extra: dict) -> Firmware:
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / key
    cache.mkdir(parents=True, exist_ok=True)
    # Built in place (the C-simulation reads its weight files from an absolute path), under a lock
    # so that parallel workers never compile the same firmware twice; firmware.json marks completion.
    with exclusive(cache / f"{key}.lock"):
        if (target / "firmware.json").is_file():
            log.info("firmware %s: cached", key)
            return load(target)
        shutil.rmtree(target, ignore_errors=True)  # an interrupted earlier build
        try:
            hls_model = make_hls_model(str(target / "project"))
            prog = program.from_hls4ml(hls_model)
            hls_model.write()
            lib = csim.build(target / "project", PROJECT_NAME, hls_model.config.get_config_value("Stamp"))
            csim.smoke_test(lib, PROJECT_NAME, len(units.exponents),
                            [int(np.prod(v.shape)) for v in hls_model.get_output_variables()])
            info = {
                "key": key, "library": str(lib.relative_to(target)), "score_head": options.score_head,
                "output_shapes": [list(v.shape) for v in hls_model.get_output_variables()],
                "part": part, "clock_period_ns": clock_period_ns, "backend": options.backend,
                "options": options.model_dump(mode="json"), "units": units.to_dict(),
                "precisions": _precision_table(hls_model),
                "versions": provenance.versions(("codesign", "hls4ml", "qkeras", "tensorflow", "numpy")),
                **extra,
            }
            prog.save(target / "program.json")
            (target / "firmware.json").write_text(json.dumps(info, indent=1, default=str))
        except BaseException:
            if not (target / "project" / "build_lib.log").is_file():
                shutil.rmtree(target, ignore_errors=True)
            raise
    log.info("firmware %s: built in %s", key, target)
    return load(target)


def _precision_table(hls_model) -> list[dict]:
    rows = []
    for layer in hls_model.get_layers():
        row = {"layer": layer.name, "class": layer.class_name,
               "result": str(layer.get_output_variable().type.precision)}
        for name, t in layer.types.items():
            if name != "result_t" and name != "index_t":
                row[name.removesuffix("_t")] = str(t.precision)
        if layer.get_attr("reuse_factor") is not None:
            row["reuse_factor"] = layer.get_attr("reuse_factor")
        if layer.get_attr("strategy") is not None:
            row["strategy"] = str(layer.get_attr("strategy"))
        if layer.class_name == "FixedPointQuantizer":  # HGQ: each element cast to its own type first
            k, b, i = fixed.element_mask(*layer.mask_kbi, layer.get_input_variable().size())
            row["elements"] = [str(FixedType(int(bb), int(ii), bool(kk), str(layer.RND), str(layer.SAT)))
                               if bb > 0 else "0" for kk, bb, ii in zip(k, b, i)]
        rows.append(row)
    return rows


def load(directory: str | Path) -> Firmware:
    directory = Path(directory)
    info = json.loads((directory / "firmware.json").read_text())
    return Firmware(directory, Program.load(directory / "program.json"), InputUnits.from_dict(info["units"]), info)
