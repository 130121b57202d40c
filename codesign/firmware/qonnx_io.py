"""QONNX interchange: export codesign firmware graphs, import QONNX models (e.g. from Brevitas).

Import follows the recipe measured bit-exact with hls4ml 1.3: cleanup -> channels-last ->
Gemm to MatMul -> cleanup -> RemoveIdentityOps (without the last step the generated top
function has no output) -> hls4ml's ONNX converter. The imported model then takes the
same path as a Keras one: C-simulation and the emulator read off its hls4ml graph.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.errors import FirmwareError, ModelFileError
from codesign.firmware import fixed
from codesign.firmware.convert import InputUnits
from codesign.firmware.firmware import PROJECT_NAME, Firmware, cache_key, compile_cached
from codesign.firmware.options import FirmwareOptions


def export(keras_model, path: str | Path) -> Path:
    """Write a Keras/QKeras model (e.g. a firmware graph) as a QONNX file."""
    from qonnx.converters import from_keras
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    proto, _ = from_keras(keras_model, name=keras_model.name)
    model = cleanup_model(ModelWrapper(proto))
    # Same model, same bytes: the converter emits initializers in set order (PYTHONHASHSEED-dependent).
    graph = model.model.graph
    for field in (graph.initializer, graph.value_info):
        ordered = sorted(field, key=lambda item: item.name)
        del field[:]
        field.extend(ordered)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(path))
    return path


def load(path: str | Path):
    """A QONNX file, cleaned up into the form hls4ml converts."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.transformation.remove import RemoveIdentityOps
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such QONNX file")
    try:
        proto = onnx.load(str(path))  # (onnx.checker rejects QONNX's custom-op domain, so it is not used)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelFileError(f"{path}: not a valid ONNX model ({exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not proto.graph.node or len(proto.graph.input) != 1:
        raise ModelFileError(f"{path}: expected an ONNX graph with nodes and exactly one input, found "
                             f"{len(proto.graph.node)} nodes and {len(proto.graph.input)} inputs")
    model = cleanup_model(ModelWrapper(proto))
    model = model.transform(ConvertToChannelsLastAndClean())
    model = model.transform(GemmToMatMul())
    model = cleanup_model(model)
    return model.transform(RemoveIdentityOps())


def build(path: str | Path, x_calib: np.ndarray, options: FirmwareOptions | None = None,
          part: str = "xcvu13p-flga2577-2-e", clock_period_ns: float = 5.0, cache_dir=None) -> Firmware:
    """Firmware from a QONNX model: its Quant nodes fix their precisions; the input type comes from x_calib.

    The model's own inputs are physical values, so the input is one fixed-point type for all
    features (no per-feature units) and the outputs are the model's outputs.
    """
    import hls4ml

    options = (options or FirmwareOptions()).model_copy(update={"score_head": False})
    model = load(path)
    peak = float(np.max(np.abs(x_calib))) * options.headroom
    input_type = fixed.FixedType(options.input_bits, fixed.bits_for(peak), True, "TRN", "SAT")
    cfg = hls4ml.utils.config.config_from_onnx_model(model, granularity="name", backend=options.backend,
                                                    default_precision=f"fixed<{options.float_bits},8>")
    cfg["Model"]["ReuseFactor"] = options.reuse_factor
    cfg["Model"]["Strategy"] = options.strategy.capitalize()
    input_name = model.graph.input[0].name
    for layer in cfg["LayerName"].values():
        if "ReuseFactor" in layer:  # granularity 'name' writes ReuseFactor 1 into every layer
            layer["ReuseFactor"] = options.reuse_factor
        precision = layer.setdefault("Precision", {})
        if "accum" in precision:
            precision["accum"] = "auto"
    cfg["LayerName"].setdefault(input_name, {}).setdefault("Precision", {})["result"] = str(input_type)
    key = cache_key(model.model.SerializeToString(), cfg, part=part, clock_period_ns=clock_period_ns,
                    options=options)
    units = InputUnits(np.zeros(int(np.prod(x_calib.shape[1:])), dtype=np.int64), options.input_bits)

    def make(output_dir: str):
        try:
            return hls4ml.converters.convert_from_onnx_model(
                model, hls_config=cfg, output_dir=output_dir, project_name=PROJECT_NAME, backend=options.backend,
                io_type=options.io_type, part=part, clock_period=clock_period_ns)
        except Exception as exc:
            raise FirmwareError(f"hls4ml could not convert {path}: {exc.__class__.__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc

    return compile_cached(key, make, units, options, part, clock_period_ns, cache_dir,
                           {"hls_config": cfg, "source": f"qonnx:{Path(path).name}", "input_type": str(input_type)})
