"""FPGA targets as data: the shipped parts (codesign/hardware/parts/*.yaml, package data) or a user's YAML file,
parsed into typed `Target` objects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from codesign import config as cfg
from codesign.config import Frozen
from codesign.errors import ConfigError

TARGETS_DIR = Path(__file__).resolve().parent / "parts"  # shipped in the wheel ([tool.setuptools.package-data])
Family = Literal["virtexuplus", "kintexuplus", "virtexu", "kintexu", "zynquplus", "virtex7", "kintex7", "artix7",
                 "zynq7"]
# Part-number prefixes -> device family (DSP48E2 in the UltraScale families, DSP48E1 in 7-series).
_FAMILIES = (("xcvu0", "virtexu"), ("xcvu1", "virtexuplus"), ("xcvu2", "virtexuplus"), ("xcvu3", "virtexuplus"),
             ("xcvu4", "virtexu"), ("xcvu5", "virtexuplus"), ("xcvu6", "virtexuplus"), ("xcvu7", "virtexuplus"),
             ("xcvu8", "virtexuplus"), ("xcvu9", "virtexuplus"), ("xcu", "virtexuplus"), ("xcku0", "kintexu"),
             ("xcku1", "kintexu"), ("xcku3p", "kintexuplus"), ("xcku5p", "kintexuplus"), ("xcku9p", "kintexuplus"),
             ("xcku11p", "kintexuplus"), ("xcku13p", "kintexuplus"), ("xcku15p", "kintexuplus"),
             ("xcku19p", "kintexuplus"), ("xczu", "zynquplus"), ("xc7z", "zynq7"), ("xc7v", "virtex7"),
             ("xc7k", "kintex7"), ("xc7a", "artix7"))


class Resources(Frozen):
    lut: int = Field(ge=0)
    ff: int = Field(ge=0)
    dsp: int = Field(ge=0)
    bram18: int = Field(ge=0, description="18 Kb block RAM halves (a 36 Kb BRAM counts as two)")
    uram: int = Field(0, ge=0)


class Budget(Frozen):
    """Limits a candidate must respect; unset limits are free. Latency in ns at the target clock."""

    lut: float | None = Field(None, gt=0)
    ff: float | None = Field(None, gt=0)
    dsp: float | None = Field(None, ge=0)  # 0 DSPs is a real design choice (distributed arithmetic)
    bram18: float | None = Field(None, ge=0)
    latency_ns: float | None = Field(None, gt=0)
    ii: float | None = Field(None, ge=1)

    ALIASES: ClassVar[dict[str, str]] = {"luts": "lut", "ffs": "ff", "dsps": "dsp", "bram": "bram18",
                                         "brams": "bram18", "latency": "latency_ns"}

    @classmethod
    def parse(cls, text: str, where: str = "--budget") -> "Budget":
        """'lut=50000,dsp=500,latency_ns=100' (plural names such as luts= are accepted)."""
        values = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = item.partition("=")
            key = cls.ALIASES.get(key.strip().lower(), key.strip().lower())
            if not sep or key not in cls.model_fields:
                raise ConfigError(f"{where}: cannot read {item!r}; expected NAME=VALUE with NAME one of "
                                  f"{', '.join(cls.model_fields)} (e.g. lut=50000,dsp=500)")
            if key in values:
                raise ConfigError(f"{where}: {key} is given twice; give each limit once")
            try:
                values[key] = float(value)
            except ValueError:
                raise ConfigError(f"{where}: {key} must be a number, got {value.strip()!r}") from None
        return cfg.parse(cls, values, where)

    def limits(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def check_part(self, target: Target, where: str = "--budget") -> None:
        """Refuse a resource limit larger than the part holds (a budget no candidate can be held to)."""
        have = target.resources_dict
        for name, value in self.limits().items():
            if have.get(name) and value > have[name]:
                raise ConfigError(f"{where}: {name}={value:,.0f} is more than {target.part} has ({have[name]:,} "
                                  f"{name.upper()}); give at most the part's resources or a percentage up to 100%")


class Target(Frozen):
    name: str
    description: str = ""
    part: str = Field(description="the part string hls4ml and Vivado take")
    family: Family
    clock_mhz: float = Field(gt=0)
    resources: Resources
    budget: Budget = Field(default_factory=Budget, description="default budget when the user gives none")

    @model_validator(mode="after")
    def _family_matches_part(self):
        checked_part(self.part, "part")
        if family_of(self.part) != self.family:
            raise ValueError(f"family {self.family!r} does not match part {self.part!r} "
                             f"(a {family_of(self.part)} part)")
        return self

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz


    @property
    def resources_dict(self) -> dict[str, int]:
        return self.resources.model_dump()


def available(directory: Path = TARGETS_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.yaml"))


def load(name_or_path: str, directory: Path = TARGETS_DIR) -> Target:
    """A shipped target by name (codesign/hardware/parts/<name>.yaml) or a user's target by path to a YAML file."""
    return cfg.load_named(Target, name_or_path, directory, "unknown target {name}; known targets: {known}")


# A Xilinx/AMD part as the tools spell it: device, then package, speed and temperature grades (7-series packages
# may follow the device without a hyphen, and Vivado may drop the leading 'xc').
PART = re.compile(r"^(?:xc)?(?P<device>vu\d+p?|ku\d+p?|zu\d+(?:eg|ev|cg|dr)|u\d+|7[zakv]\d+[ts]?)"
                  r"(?:-?[a-z]{2,5}\d{3,4}(?:-(?:\d[a-z]*|[a-z]\d))?(?:-[a-z])?)?$", re.IGNORECASE)


def checked_part(part: str, where: str = "--part") -> str:
    """`part` if it is spelled as a real part of a known family; else a one-line error (no prefix guessing)."""
    if not PART.fullmatch(part.strip()):
        raise ConfigError(f"{where} {part!r}: not a Xilinx/AMD part string of a known family; expected e.g. "
                          "xcvu9p-flga2104-2L-e, xcku115-flvb2104-2-e, xczu7ev-ffvc1156-2-e or xc7z020clg400-1")
    family_of(part)
    return part.strip()


def family_of(part: str) -> Family:
    """Device family of a Xilinx/AMD part string (e.g. xcvu9p-flga2104-2L-e -> virtexuplus)."""
    p = part.lower().strip()
    p = p if p.startswith("xc") else "xc" + p  # Vivado prints 7z020clg400-1 without the xc
    for prefix, family in sorted(_FAMILIES, key=lambda f: -len(f[0])):
        if p.startswith(prefix):
            return family
    raise ConfigError(f"unknown part {part!r}: cannot tell its device family; expected a Xilinx/AMD part such as "
                      "xcvu9p-flga2104-2L-e, xcku115-flvb2104-2-e, xczu7ev-ffvc1156-2-e or xc7z020clg400-1")
