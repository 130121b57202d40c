"""`codesign estimate`: one model file's estimate on a target, compared with (and learned from) real reports.

The command line parses; this module loads the model, builds its hls4ml graph, estimates it,
runs or reads vendor reports and records them for later estimates on the same target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CodesignError, ConfigError, ToolError
from codesign.hardware import estimate, load, reports, synth, targets
from codesign.hardware.reports import HLSReport, SynthReport


@dataclass
class Estimated:
    result: estimate.Estimate
    target: targets.Target
    real_hls: HLSReport | None = None
    real_synth: SynthReport | None = None
    recorded_in: Path | None = None  # where the real reports were learned (later estimates use them)

    @property
    def has_real(self) -> bool:
        return self.real_hls is not None or self.real_synth is not None


def target_of(target: str | None, part: str | None, clock_ns: float | None, calibration: str | None
              ) -> tuple[targets.Target, Path | None]:
    """(Target, learned-records file) from a target name or file, or from a bare part string and clock."""
    if part:
        if target:
            raise ConfigError("give either --target or --part, not both")
        family = targets.family_of(targets.checked_part(part))
        clock = clock_ns or 5.0
        known = [t for t in map(targets.load, targets.available()) if t.part.split("-")[0] == part.split("-")[0]]
        resources = known[0].resources if known else targets.Resources(lut=0, ff=0, dsp=0, bram18=0)
        return targets.Target(name=part, part=part, family=family, clock_mhz=1000.0 / clock,
                              resources=resources), Path(calibration) if calibration else None
    t = targets.load(target or "xcvu13p")
    if clock_ns:
        t = t.model_copy(update={"clock_mhz": 1000.0 / clock_ns})
    return t, Path(calibration) if calibration else synth.calibration_file(target or "xcvu13p")


def estimate_model(model_path: str, weights: str | None, target: targets.Target, learned_file: Path | None, *,
                   backend: str = "Vitis", hls_config_file: str | None = None, precision: str | None = None,
                   reuse_factor: int | None = None, strategy: str | None = None, synth_dir: Path | None = None,
                   report: str | None = None, trust_report: bool = False) -> Estimated:
    """Estimate the model; with `synth_dir` run vendor synthesis, with `report` read finished reports, and
    record either against the estimate in `learned_file` (refused when implausible, unless trusted)."""
    if strategy == "da" and reuse_factor not in (None, 1):
        raise ConfigError("--strategy da builds every multiplication as adders: it needs --reuse-factor 1")
    if precision:
        load.check_precision(precision, "--precision")
    file_config = load.read_hls_config(hls_config_file) if hls_config_file else None
    kind, model = load.load_model(model_path, weights)
    cfg = load.hls_config(kind, model, backend, file_config, precision, reuse_factor, strategy)
    graph = load.convert(kind, model, cfg, target.part, target.clock_period_ns, backend)
    learned = synth.read_records(learned_file) if learned_file is not None else []
    out = Estimated(estimate.estimate(graph, "da" if strategy == "da" else "analytic", target, learned=learned),
                    target)
    if synth_dir is not None:
        project = load.hls_project(kind, model, cfg, target, backend, synth_dir)
        out.real_hls, out.real_synth = synth.run_synthesis(project, synth_dir)
    elif report:
        out.real_hls, out.real_synth = reports.find_reports(report)
        if not out.has_real:
            raise CodesignError(f"{report}: no HLS (*_prj/solution1/syn/report/*_csynth.rpt|xml) or "
                                "Vivado (vivado_synth.rpt) report found")
    if out.has_real and learned_file is not None:
        odd = synth.implausible(out.result, out.real_hls, out.real_synth)
        if odd and not trust_report:
            raise ToolError(f"{report or synth_dir}: {'; '.join(odd)} — outside a factor {synth.PLAUSIBLE:g} of the "
                            f"estimate, so not recorded (it would rescale every later estimate for {target.name}); "
                            "pass --trust-report if the report is right")
        synth.record(learned_file, out.result, out.real_hls, out.real_synth, str(report or synth_dir))
        out.recorded_in = learned_file
    return out
