"""A user's Keras model through hls4ml itself (convert, compile), and the check every emulator test makes of it."""

from __future__ import annotations

import numpy as np

from codesign.firmware import fixed, program
from codesign.firmware.fixed import FixedType


def compiled(model, out_dir, precision: str, granularity: str = "model", layers: dict | None = None):
    """hls4ml's conversion (Vitis, io_parallel) with `precision` as the default and per-layer settings
    `layers` (name -> {key: value} merged into the config), compiled for C-simulation."""
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(model, granularity=granularity, backend="Vitis",
                                                  default_precision=precision)
    for name, settings in (layers or {}).items():
        for key, value in settings.items():
            if isinstance(value, dict):
                config["LayerName"][name].setdefault(key, {}).update(value)
            else:
                config["LayerName"][name][key] = value
    hm = hls4ml.converters.convert_from_keras_model(model, hls_config=config, backend="Vitis", io_type="io_parallel",
                                                    output_dir=str(out_dir / "prj"))
    hm.compile()
    return hm


def grid_and_edges(rng, n: int, size: int, t: FixedType) -> np.ndarray:
    """n random bit patterns on the input grid, then the most negative, the largest and zero inputs."""
    grid = rng.integers(t.int_min, t.int_max + 1, (n, size)) * t.lsb
    return np.concatenate([grid, [np.full(size, t.min_value), np.full(size, t.max_value), np.zeros(size)]])


def input_type(hm) -> FixedType:
    return FixedType.from_hls4ml(hm.get_input_variables()[0].type.precision)


def assert_bit_exact(model, hm, x: np.ndarray, shape: tuple[int, ...] | None = None):
    """Every output bit of the emulator equals C-sim on `x` (flattened inputs); returns (program, emulated, csim)."""
    prog = program.from_hls4ml(hm)
    emulated = prog.run(x)
    csim = hm.predict(x.reshape(-1, *shape) if shape else x)
    csim = csim if isinstance(csim, list) else [csim]
    assert len(emulated) == len(csim) == len(model.output_names)
    for name, emu, out_t, ref in zip(model.output_names, emulated, prog.output_types, csim):
        np.testing.assert_array_equal(fixed.to_float(emu, out_t.frac), np.asarray(ref).reshape(len(x), -1),
                                      err_msg=name)
    return prog, emulated, [np.asarray(c).reshape(len(x), -1) for c in csim]
