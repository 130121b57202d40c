"""Parsers for real vendor reports: Vivado/Vitis HLS csynth (.rpt or .xml) and Vivado utilization.

They return typed numbers (`HLSReport`, `SynthReport`) and are tested on checked-in
tool output; a report that cannot be read raises `ReportError` naming the file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from codesign.config import Frozen
from codesign.errors import CodesignError


class ReportError(CodesignError):
    """A vendor report that is missing or not in the expected format."""


class HLSReport(Frozen):
    """What the HLS (C synthesis) report says: estimates made before logic synthesis."""

    tool: str
    version: str
    part: str
    clock_target_ns: float
    clock_estimate_ns: float
    latency_min: int
    latency_max: int
    ii_min: int
    ii_max: int
    bram18: int
    dsp: int
    ff: int
    lut: int
    uram: int = 0


class SynthReport(Frozen):
    """What Vivado logic synthesis reports (`report_utilization`): what must fit the chip."""

    version: str
    part: str
    lut: int
    ff: int
    dsp: int
    bram18: float  # 36 Kb tiles count as two; RAMB18 as one
    uram: int = 0


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror})") from None


def _int(cell: str) -> int:
    cell = cell.strip()
    return 0 if cell in ("-", "", "~0") else int(float(cell))


def _hls_from_rpt(text: str, path: Path) -> HLSReport:
    tool = "Vitis HLS" if "Vitis HLS Report" in text else "Vivado HLS"
    version = re.search(r"\*\s*Version:\s*(\S+)", text)
    part = re.search(r"\*\s*Target device:\s*(\S+)", text)
    clock = re.search(r"\|\s*ap_clk\s*\|\s*([\d.]+)\s*(?:ns)?\s*\|\s*([\d.]+)\s*(?:ns)?\s*\|", text)
    lat = _latency_row(text)
    head = re.search(r"\|\s*Name\s*\|\s*BRAM_18K\s*\|\s*(DSP\w*)\s*\|\s*FF\s*\|\s*LUT\s*\|\s*URAM\s*\|", text)
    total = re.search(r"\|Total\s*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|", text)
    missing = [name for name, m in (("Version", version), ("Target device", part), ("ap_clk timing", clock),
                                     ("latency summary", lat), ("utilization table", head), ("Total row", total))
               if m is None]
    if missing:
        raise ReportError(f"{path}: not an HLS csynth report (missing {', '.join(missing)})")
    bram, dsp, ff, lut, uram = (_int(c) for c in total.groups())
    return HLSReport(tool=tool, version=version.group(1), part=part.group(1),
                     clock_target_ns=float(clock.group(1)), clock_estimate_ns=float(clock.group(2)),
                     latency_min=lat[0], latency_max=lat[1], ii_min=lat[2], ii_max=lat[3],
                     bram18=bram, dsp=dsp, ff=ff, lut=lut, uram=uram)


def _latency_row(text: str) -> list[int] | None:
    """The top function's (latency min, max, interval min, max): the first row of the latency summary.

    Vivado HLS 2019 prints `|min|max|min|max|type|`; later versions add absolute times (with units)
    between the cycle counts and the interval, so the four bare integers are taken in order.
    """
    start = text.find("+ Latency")
    if start < 0:
        return None
    for line in text[start:].splitlines()[1:12]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        ints = [int(c) for c in cells if re.fullmatch(r"\d+", c)]
        if line.strip().startswith("|") and len(ints) >= 4:
            return ints[:4]
    return None


def _hls_from_xml(text: str, path: Path) -> HLSReport:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReportError(f"{path}: not valid XML ({exc})") from None

    def get(tag: str, under: str = ".") -> str:
        node = root.find(f"{under}//{tag}")
        if node is None or node.text is None:
            raise ReportError(f"{path}: no <{tag}> in the csynth XML report")
        return node.text.strip()

    res = "AreaEstimates/Resources"
    dsp_tag = "DSP48E" if root.find(f"{res}/DSP48E") is not None else "DSP"
    return HLSReport(tool="Vitis HLS" if "Vitis" in text[:2000] else "Vivado HLS", version=get("Version"),
                     part=get("Part"), clock_target_ns=float(get("TargetClockPeriod")),
                     clock_estimate_ns=float(get("EstimatedClockPeriod")),
                     latency_min=int(get("Best-caseLatency")), latency_max=int(get("Worst-caseLatency")),
                     ii_min=int(get("Interval-min")), ii_max=int(get("Interval-max")),
                     bram18=_int(get("BRAM_18K", res)), dsp=_int(get(dsp_tag, res)), ff=_int(get("FF", res)),
                     lut=_int(get("LUT", res)),
                     uram=_int(root.findtext(f"{res}/URAM", "0")))


def read_hls(path: str | Path) -> HLSReport:
    """An HLS csynth report: `myproject_csynth.rpt` (text) or `myproject_csynth.xml`."""
    path = Path(path)
    text = _read(path)
    return _hls_from_xml(text, path) if text.lstrip().startswith("<") else _hls_from_rpt(text, path)


def _used(text: str, *labels: str) -> float | None:
    for label in labels:
        m = re.search(rf"^\|\s*{re.escape(label)}\*?\s*\|\s*([\d.]+)\s*\|", text, re.MULTILINE)
        if m:
            return float(m.group(1))
    return None


def read_synth(path: str | Path) -> SynthReport:
    """A Vivado `report_utilization` file (after synth_design or implementation)."""
    path = Path(path)
    text = _read(path)
    version = re.search(r"Tool Version\s*:\s*Vivado v\.(\S+)", text)
    part = re.search(r"\|\s*Device\s*:\s*(\S+)", text)
    lut = _used(text, "CLB LUTs", "Slice LUTs")
    ff = _used(text, "CLB Registers", "Slice Registers")
    dsp = _used(text, "DSPs")
    bram = _used(text, "Block RAM Tile")
    missing = [n for n, v in (("Tool Version", version), ("Device", part), ("LUTs", lut), ("Registers", ff),
                              ("DSPs", dsp), ("Block RAM Tile", bram)) if v is None]
    if missing:
        raise ReportError(f"{path}: not a Vivado utilization report (missing {', '.join(missing)})")
    uram = _used(text, "URAM") or 0
    return SynthReport(version=version.group(1), part=part.group(1), lut=int(lut), ff=int(ff), dsp=int(dsp),
                       bram18=2 * bram, uram=int(uram))


def find_reports(project: str | Path) -> tuple[HLSReport | None, SynthReport | None]:
    """The HLS and synthesis reports of an hls4ml project directory, where present."""
    project = Path(project)
    hls = sorted(project.glob("*_prj/solution1/syn/report/*_csynth.xml")) or \
        sorted(project.glob("*_prj/solution1/syn/report/*_csynth.rpt"))
    synth = [p for p in (project / "vivado_synth.rpt",) if p.is_file()]
    return (read_hls(hls[0]) if hls else None, read_synth(synth[0]) if synth else None)
