"""The exact path: vendor synthesis when the tools exist, and learning from every real report.

`run_synthesis` writes the hls4ml project and runs Vitis HLS (or Vivado HLS) C synthesis and
Vivado logic synthesis through hls4ml's own build script, with its log kept in the project;
`reports.find_reports` turns the result into numbers. Each real report seen — from a local
run or a directory the user brings back from a build machine — is appended to the user's
calibration file for the target (`calibration_file`: under $CODESIGN_DATA, else the XDG data
directory; never inside the installed package), and later estimates for that target are scaled
by the median real/estimate ratio of those records. A report whose figures lie outside a factor
`PLAUSIBLE` of the estimate is refused unless the user insists: one wrong or fabricated record
would shift every later estimate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from codesign.errors import ConfigError, ToolError
from codesign.hardware.analytic import RESOURCES
from codesign.hardware.reports import HLSReport, SynthReport, find_reports
from codesign.locks import exclusive

HLS_TOOLS = ("vitis_hls", "vivado_hls")


def hls_tool() -> str | None:
    for tool in HLS_TOOLS:
        if shutil.which(tool):
            return tool
    return None


def run_synthesis(hls_model, project_dir: str | Path, vsynth: bool = True) -> tuple[HLSReport | None,
                                                                                     SynthReport | None]:
    """C synthesis (and Vivado synthesis) of a converted hls4ml model; needs vitis_hls/vivado_hls on PATH."""
    tool = hls_tool()
    if tool is None:
        raise ToolError("--synth needs vitis_hls or vivado_hls on PATH (neither found); use the estimate, or run "
                        "synthesis elsewhere and pass the project with --report DIR")
    if vsynth and not shutil.which("vivado"):
        raise ToolError("Vivado logic synthesis needs vivado on PATH")
    project_dir = Path(project_dir)
    hls_model.config.config["OutputDir"] = str(project_dir)
    hls_model.write()
    return run_project(project_dir, tool, vsynth)


def run_project(project_dir: Path, tool: str, vsynth: bool = True) -> tuple[HLSReport | None, SynthReport | None]:
    """Run an hls4ml project's build_prj.tcl with `tool` (C synthesis, optionally Vivado) and read its reports."""
    args = f"reset=1 csim=0 synth=1 cosim=0 validation=0 export=0 vsynth={int(vsynth)}"
    log = project_dir / "synthesis.log"
    with open(log, "w") as out:
        run = subprocess.run([tool, "-f", "build_prj.tcl", args], cwd=project_dir, stdout=out,
                             stderr=subprocess.STDOUT)
    if run.returncode != 0:
        raise ToolError(f"{tool} failed (exit {run.returncode}); see {log}")
    return find_reports(project_dir)


# ---------------------------------------------------------------- learning from real reports


PLAUSIBLE = 10.0  # a real report more than this factor from the estimate (either way) is refused unless insisted on


def data_dir() -> Path:
    """codesign's user data directory: $CODESIGN_DATA, else $XDG_DATA_HOME/codesign (~/.local/share/codesign)."""
    if os.environ.get("CODESIGN_DATA"):
        return Path(os.environ["CODESIGN_DATA"])
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "codesign"


def calibration_file(target_name_or_path: str) -> Path:
    """The user's learned records for a target (a target file's stem names it)."""
    name = Path(target_name_or_path).stem if Path(target_name_or_path).suffix else target_name_or_path
    return data_dir() / "calibration" / f"{name}.jsonl"


def implausible(estimate, hls: HLSReport | None, synth: SynthReport | None) -> list[str]:
    """The figures of a real report that lie outside a factor PLAUSIBLE of the estimate (LUT, FF, DSP, latency)."""
    out = []
    pairs = [("HLS", res, getattr(hls, res), getattr(estimate.hls, res)) for res in ("lut", "ff", "dsp") if hls]
    pairs += [("Vivado", res, getattr(synth, res), getattr(estimate.total, res)) for res in ("lut", "ff", "dsp")
              if synth]
    if hls is not None and hls.latency_min is not None:
        pairs.append(("HLS", "latency", hls.latency_min, estimate.latency_cycles))
    for level, what, real, est in pairs:
        if max(real, est) < (1 if what == "latency" else 10) or (what == "dsp" and min(real, est) <= 0):
            continue  # a few units either way, or DSPs one side maps to LUTs, say nothing about the report
        if real <= 0 or est <= 0 or not est / PLAUSIBLE <= real <= est * PLAUSIBLE:
            out.append(f"{level} {what.upper()} {real:,.0f} vs {est:,.0f} estimated")
    return out


def record(path: Path, estimate, hls: HLSReport | None, synth: SynthReport | None, source: str) -> dict:
    """Append one (estimate, real report) pair to the target's calibration file (created with its directory)."""
    if hls is None and synth is None:
        raise ToolError(f"{source}: no HLS or Vivado synthesis report found")
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "source": source, "method": estimate.method,
             "estimate_hls": estimate.hls.model_dump(), "estimate_synth": estimate.total.model_dump(),
             "latency_cycles": estimate.latency_cycles,
             "hls": hls.model_dump() if hls else None, "synth": synth.model_dump() if synth else None}
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path.with_name(f".{path.name}.lock")), open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")
    return entry


def remove_records(path: Path, numbers: list[int]) -> list[dict]:
    """Remove records by their 1-based number (as `codesign calibration list` shows them); returns them."""
    with exclusive(path.with_name(f".{path.name}.lock")):
        records = read_records(path)
        bad = [n for n in numbers if not 1 <= n <= len(records)]
        if bad:
            raise ConfigError(f"{path}: no record {bad[0]} (it holds {len(records)}; see `codesign calibration list`)")
        keep = [r for i, r in enumerate(records, 1) if i not in set(numbers)]
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        tmp.replace(path)
    return [records[n - 1] for n in sorted(set(numbers))]


def read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise ToolError(f"{path}:{n}: not a JSON record; fix or delete the line") from None
    return out


def corrections(records: list[dict], method: str) -> dict[str, dict[str, float]]:
    """Median real/estimate ratio per resource ('hls' and 'synth' levels) over records of one method."""
    out: dict[str, dict[str, float]] = {"hls": {}, "synth": {}}
    for level, est_key in (("hls", "estimate_hls"), ("synth", "estimate_synth")):
        for res in RESOURCES:
            ratios = [r[level][res] / r[est_key][res] for r in records
                      if r.get("method") == method and r.get(level) and r[est_key][res] > 0 and r[level][res] > 0]
            if ratios:
                out[level][res] = float(np.median(ratios))
    return out


def compare(estimate, hls: HLSReport | None, synth: SynthReport | None) -> str:
    """Estimate vs real, per resource, as a few lines for the terminal."""
    lines = []
    for label, real, est in (("HLS report", hls, estimate.hls), ("Vivado synth", synth, estimate.total)):
        if real is None:
            continue
        cells = []
        for res in RESOURCES:
            r, e = getattr(real, res), getattr(est, res)
            cells.append(f"{res.upper()} {e:.0f} vs {r:.0f}" + (f" ({e / r - 1:+.0%})" if r else ""))
        lines.append(f"{label}: estimate vs real: " + ", ".join(cells))
    if hls is not None:
        lines.append(f"latency: estimate {estimate.latency_cycles} vs HLS {hls.latency_min} cycles; "
                     f"II {estimate.ii} vs {hls.ii_min}")
    return "\n".join(lines)


def describe_records(path: Path) -> list[str]:
    """`codesign calibration list`: one line per learned record (real vs estimated LUT and DSP), numbered."""
    records = read_records(path)
    lines = [f"{path}: {len(records)} record(s)"]
    for i, r in enumerate(records, 1):
        real = r.get("synth") or r.get("hls") or {}
        est = r.get("estimate_synth" if r.get("synth") else "estimate_hls") or {}
        lines.append(f"  {i:3d}  {r.get('time', '?')}  {r.get('method', '?'):8s} LUT {real.get('lut', 0):,.0f} real "
                     f"vs {est.get('lut', 0):,.0f} est, DSP {real.get('dsp', 0):,.0f} vs {est.get('dsp', 0):,.0f}  "
                     f"{r.get('source', '')}")
    return lines
