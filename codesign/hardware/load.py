"""Any model a user hands `codesign estimate`, converted to an hls4ml graph (no C++ is written or compiled).

Configuration is layered: the precisions hls4ml derives from the model's quantizers (QKeras,
QONNX), then the user's hls4ml config file, then the command-line flags.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from pathlib import Path

from codesign.config import read_yaml
from codesign.core.persistence import UNSAFE_LAYERS, layer_classes, load_keras
from codesign.errors import ConfigError, FirmwareError, ModelFileError
from codesign.firmware import qonnx_io
from codesign.firmware.fixed import FixedType
from codesign.hardware.graph import Graph, from_hls4ml

STRATEGY_NAMES = {"latency": "Latency", "resource": "Resource", "da": "Latency"}
DEFAULT_PRECISION = "ap_fixed<16,6>"


def check_precision(text: str, where: str) -> str:
    """A precision string hls4ml can use, or a one-line error naming where it came from."""
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        FixedType.parse(str(text))
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: cannot parse precision {text!r}; expected e.g. 'ap_fixed<16,6>', "
                          "'ap_ufixed<8,0,AP_RND,AP_SAT>', 'ap_int<8>' or 'auto'") from None
    return str(text)


def _check_config_precisions(cfg, where: str) -> None:
    """Every `Precision` entry (a string, or a mapping of weight/bias/result/accum ... strings) parses."""
    if not isinstance(cfg, dict):
        return
    for key, value in cfg.items():
        here = f"{where}: {key}" if ":" not in where else f"{where}.{key}"
        if key == "Precision" and isinstance(value, dict):
            for name, text in value.items():
                check_precision(text, f"{here}.{name}")
        elif key == "Precision" or key.endswith("_t"):
            check_precision(value, here)
        else:
            _check_config_precisions(value, here)


def read_hls_config(path: str | Path) -> dict:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an hls4ml configuration mapping (Model:, LayerName: ...)")
    if "HLSConfig" in data:  # a full hls4ml project config
        data = data["HLSConfig"]
    unknown = sorted(set(data) - {"Model", "LayerName", "LayerType", "Flows", "Optimizers", "SkipOptimizers"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(unknown)}; expected Model, LayerName, "
                          "LayerType")
    _check_config_precisions(data, str(path))
    return data


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_model(path: str | Path, weights: str | Path | None = None):
    """('keras', model) or ('onnx', ModelWrapper) for a .h5/.keras file, a JSON architecture (+weights) or .onnx."""
    path = Path(path)
    if path.is_dir() and (path / "model" / "model.h5").is_file():  # a `codesign train` run directory
        path = path / "model" / "model.h5"
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx", qonnx_io.load(path)
    if suffix in (".h5", ".hdf5", ".keras"):
        if weights is not None:
            raise ConfigError(f"--weights: {path.name} already holds its weights; --weights goes with a JSON "
                              "architecture file")
        return "keras", load_keras(path)
    if suffix == ".json":
        return "keras", _keras_from_json(path, weights)
    raise ModelFileError(f"{path}: unknown model format {suffix!r}; expected a Keras .h5/.keras file, a Keras "
                         "JSON architecture (with --weights W.h5) or a QONNX .onnx file")


def _keras_from_json(path: Path, weights: str | Path | None):
    import tensorflow as tf

    from codesign.core.layers import custom_objects  # TensorFlow

    text = path.read_text()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    unsafe = [f"{name} ({cls})" for cls, name in layer_classes(config) if cls in UNSAFE_LAYERS]
    if unsafe:
        raise ModelFileError(f"{path}: refused to load: Lambda layers would execute code from the file "
                             f"({', '.join(unsafe)})")
    if weights is None:
        raise ConfigError(f"{path}: a JSON architecture has no weights; give them with --weights W.h5 "
                          "(resources depend on the weight values)")
    try:
        model = tf.keras.models.model_from_json(text, custom_objects=custom_objects())
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: not a Keras model architecture ({str(exc).splitlines()[0]})") from None
    try:
        model.load_weights(str(weights))
    except (ValueError, OSError, KeyError) as exc:
        raise ModelFileError(f"{weights}: cannot load weights into {path.name} ({str(exc).splitlines()[0]})") \
            from None
    return model


def hls_config(kind: str, model, backend: str, file_config: dict | None, precision: str | None,
               reuse_factor: int | None, strategy: str | None) -> dict:
    """Derived config (model quantizers) <- config file <- flags."""
    import hls4ml

    default = precision or (file_config or {}).get("Model", {}).get("Precision") or DEFAULT_PRECISION
    if isinstance(default, dict):
        default = default.get("default", DEFAULT_PRECISION)
    check_precision(default, "--precision" if precision else "Model.Precision")
    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints the topology it reads
        if kind == "onnx":
            cfg = hls4ml.utils.config.config_from_onnx_model(model, granularity="name", backend=backend,
                                                            default_precision=default)
        else:
            cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=backend,
                                                       default_precision=default)
    if file_config:
        cfg = _merge(cfg, file_config)
    if precision:
        cfg["Model"]["Precision"] = precision
    layers = cfg.setdefault("LayerName", {})
    if reuse_factor is not None:
        cfg["Model"]["ReuseFactor"] = reuse_factor
        for layer in layers.values():
            layer["ReuseFactor"] = reuse_factor
    if strategy is not None:
        cfg["Model"]["Strategy"] = STRATEGY_NAMES[strategy]
        for layer in layers.values():
            layer.pop("Strategy", None)
    return cfg


def convert(kind: str, model, cfg: dict, part: str, clock_ns: float, backend: str = "Vitis") -> Graph:
    import hls4ml

    with tempfile.TemporaryDirectory(prefix="codesign-estimate-") as tmp, \
            contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints its topology; --json output stays clean
        try:
            if kind == "onnx":
                hls_model = hls4ml.converters.convert_from_onnx_model(
                    model, hls_config=cfg, output_dir=tmp, backend=backend, io_type="io_parallel", part=part,
                    clock_period=clock_ns)
            else:
                hls_model = hls4ml.converters.convert_from_keras_model(
                    model, hls_config=cfg, output_dir=tmp, backend=backend, io_type="io_parallel", part=part,
                    clock_period=clock_ns)
        except Exception as exc:
            msg = str(exc).splitlines()[0] if str(exc) else ""
            raise FirmwareError(f"hls4ml could not convert the model: {exc.__class__.__name__}: {msg}") from exc
        return from_hls4ml(hls_model)


def hls_project(kind: str, model, cfg: dict, target, backend: str, project: Path):
    """An hls4ml project of the model written into `project` (new or empty), for vendor synthesis."""
    import hls4ml

    if project.exists() and any(project.iterdir()):
        raise ConfigError(f"{project}: already exists and is not empty; choose another --synth-dir")
    convert = hls4ml.converters.convert_from_onnx_model if kind == "onnx" else \
        hls4ml.converters.convert_from_keras_model
    return convert(model, hls_config=cfg, output_dir=str(project), backend=backend, io_type="io_parallel",
                   part=target.part, clock_period=target.clock_period_ns)
