"""FPGA targets as data: targets/*.yaml parsed into typed `Target` objects."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from codesign import config as cfg
from codesign.config import Frozen
from codesign.errors import ConfigError

TARGETS_DIR = Path(__file__).resolve().parents[2] / "targets"
Family = Literal["virtexuplus", "kintexuplus", "kintexu", "zynquplus", "virtex7", "zynq7"]


class Resources(Frozen):
    lut: int = Field(ge=0)
    ff: int = Field(ge=0)
    dsp: int = Field(ge=0)
    bram18: int = Field(ge=0, description="18 Kb block RAM halves (a 36 Kb BRAM counts as two)")
    uram: int = Field(0, ge=0)


class Target(Frozen):
    name: str
    description: str = ""
    part: str = Field(description="the part string hls4ml and Vivado take")
    family: Family
    clock_mhz: float = Field(gt=0)
    resources: Resources
    budget: dict[str, float] = {}

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def available(directory: Path = TARGETS_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load(name_or_path: str, directory: Path = TARGETS_DIR) -> Target:
    """A target by name (targets/<name>.yaml) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = directory / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ConfigError(f"unknown target {name_or_path!r}; known targets: {', '.join(available(directory))}")
    return cfg.load(Target, path)
