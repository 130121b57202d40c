"""Validated configuration: typed, frozen models whose serialised form is YAML.

Every config object forbids unknown keys, so a typo in a YAML file is reported with
the path of the offending key instead of being silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from codesign.errors import ConfigError

T = TypeVar("T", bound="Frozen")


class Frozen(BaseModel):
    # inf and NaN are never a meaningful setting: refused with the key's path like any other bad value
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load's loader, refusing a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key: the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """First problem of a pydantic error as one line: '<source>: <key.path>: <message> (got <value>)'."""
    err = exc.errors()[0]
    # a key with control characters (a stray newline in a YAML key) is shown quoted: the message stays one line
    where = ".".join(p if isinstance(p, str) and p.isprintable() else repr(p) if isinstance(p, str) else str(p)
                     for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    got = err.get("input")
    shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f" (got {got!r})"
    more = len(exc.errors()) - 1
    tail = f"; {more} more problem{'s' if more > 1 else ''}" if more > 0 else ""
    return f"{source}: {where or '<top>'}: {message}{shown}{tail}"


def parse(cls: type[T], data: Any, source: str) -> T:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {'is a directory, expected a YAML file' if path.is_dir() else 'no such file'}")
    try:
        with path.open(encoding="utf-8") as f:
            return yaml.load(f, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no Python tags
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (UTF-8) file; expected YAML") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML ({problem})") from None


def read_mapping(path: str | Path) -> dict:
    """A YAML file that must hold a mapping of keys; an empty file is refused (it is never the intent)."""
    data = read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: empty; expected a mapping of keys (the presets in codesign/presets/ are examples)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def load(cls: type[T], path: str | Path) -> T:
    return parse(cls, read_mapping(path), str(path))


PRESETS = Path(__file__).resolve().parent / "presets"


def resolve(name: str) -> Path:
    """A YAML path as given, or the name of a preset shipped with codesign (codesign/presets/)."""
    path = Path(name)
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in name:
        return path
    preset = PRESETS / f"{name}.yaml"
    if not preset.is_file():
        known = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml")))
        raise ConfigError(f"{name}: no such config file or preset (presets: {known})")
    return preset


def load_named(cls: type[T], name_or_path: str, directory: Path, unknown: str) -> T:
    """`directory/<name>.yaml` for a bare name, else the path as given; `unknown` formats the error
    for a name with no file (placeholders {name} and {known})."""
    path = Path(name_or_path)
    if not path.suffix:
        path = directory / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
            raise ConfigError(unknown.format(name=repr(name_or_path), known=known))
    return load(cls, path)


def dump(obj: BaseModel) -> str:
    return yaml.safe_dump(obj.model_dump(mode="json"), sort_keys=False)
