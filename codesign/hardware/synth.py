"""The exact path: vendor synthesis when the tools exist, and learning from every real report.

`run_synthesis` writes the hls4ml project and runs Vitis HLS (or Vivado HLS) C synthesis and
Vivado logic synthesis through hls4ml's own build script, with its log kept in the project;
`reports.find_reports` turns the result into numbers. Each real report seen — from a local
run or a directory the user brings back from a build machine — is appended to a calibration
file beside the target (`targets/<name>.calibration.jsonl`), and later estimates for that
target are scaled by the median real/estimate ratio of those records.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from codesign.errors import ToolError
from codesign.hardware.analytic import RESOURCES
from codesign.hardware.reports import HLSReport, SynthReport, find_reports
from codesign.hardware.targets import TARGETS_DIR

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


def calibration_file(target_name_or_path: str) -> Path:
    path = Path(target_name_or_path)
    if not path.suffix:
        path = TARGETS_DIR / f"{target_name_or_path}.yaml"
    return path.with_suffix(".calibration.jsonl")


def record(path: Path, estimate, hls: HLSReport | None, synth: SynthReport | None, source: str) -> dict:
    """Append one (estimate, real report) pair to the target's calibration file."""
    if hls is None and synth is None:
        raise ToolError(f"{source}: no HLS or Vivado synthesis report found")
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "source": source, "method": estimate.method,
             "estimate_hls": estimate.hls.model_dump(), "estimate_synth": estimate.total.model_dump(),
             "latency_cycles": estimate.latency_cycles,
             "hls": hls.model_dump() if hls else None, "synth": synth.model_dump() if synth else None}
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")
    return entry


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
