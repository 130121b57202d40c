"""Saving trained models with their metadata, and loading Keras files safely.

Loading never executes code from the file: the model's JSON config is read first and
any Lambda layer (whose body is marshalled Python bytecode) is refused before Keras
deserialises anything.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

from codesign.errors import ModelFileError

MODEL_FILE = "model.h5"
METADATA_FILE = "metadata.json"
UNSAFE_LAYERS = {"Lambda"}


def _model_config(path: Path) -> dict:
    if path.suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as zf:
                return json.loads(zf.read("config.json"))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{path}: not a valid .keras file ({exc})") from None
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read as a Keras h5 file ({str(exc).splitlines()[0]})") from None
    if raw is None:
        raise ModelFileError(f"{path}: holds no model configuration (weights-only file?); "
                             "expected a full Keras model saved with model.save()")
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def layer_classes(config) -> list[tuple[str, str]]:
    """(class_name, layer name) of every layer, recursing into nested models and wrappers."""
    found = []
    if isinstance(config, dict):
        if "class_name" in config and isinstance(config.get("config"), dict):
            found.append((config["class_name"], str(config["config"].get("name", "?"))))
        for value in config.values():
            found += layer_classes(value)
    elif isinstance(config, list):
        for value in config:
            found += layer_classes(value)
    return found


def check_safe(path: str | Path) -> None:
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    unsafe = [f"{name} ({cls})" for cls, name in layer_classes(_model_config(path)) if cls in UNSAFE_LAYERS]
    if unsafe:
        raise ModelFileError(f"{path}: refused to load: Lambda layers would execute code from the file "
                             f"({', '.join(unsafe)}); rebuild the model without Lambda layers")


def load_keras(path: str | Path):
    """Load a Keras model (h5 or .keras) without executing code from the file."""
    import tensorflow as tf

    from codesign.core.layers import custom_objects

    path = Path(path)
    check_safe(path)
    kwargs = {"safe_mode": True} if path.suffix == ".keras" else {}
    try:
        return tf.keras.models.load_model(path, custom_objects=custom_objects(), compile=False, **kwargs)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise ModelFileError(f"{path}: cannot be loaded as a Keras model ({str(exc).splitlines()[0]})") from None


def save_model(path: str | Path, model) -> Path:
    """A Keras/QKeras model as h5: the format hls4ml and QKeras read back (QKeras layers do not survive .keras)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # QKeras quantizers are not Keras constraints; h5 is deliberate. Both known, both harmless.
        warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file")
        warnings.filterwarnings("ignore", message=r"The `keras.constraints.serialize\(\)` API")
        model.save(path, include_optimizer=False)
    return path


def save(directory: str | Path, model, metadata: dict) -> Path:
    directory = Path(directory)
    save_model(directory / MODEL_FILE, model)
    (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=False, default=str) + "\n")
    return directory


def load(directory: str | Path):
    """(model, metadata) of a directory written by `save`."""
    directory = Path(directory)
    meta_path = directory / METADATA_FILE
    if not meta_path.is_file():
        raise ModelFileError(f"{directory}: no {METADATA_FILE}; expected a model directory written by 'codesign train'")
    try:
        metadata = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{meta_path}: invalid JSON ({exc})") from None
    return load_keras(directory / MODEL_FILE), metadata
