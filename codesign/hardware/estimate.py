"""`Estimate`: the resources and latency of a firmware model on a target, with its method and error.

Two methods, chosen per candidate:
- `analytic` — the calibrated per-operation model of hls4ml's Latency/Resource strategies
  (`analytic.py`); milliseconds.
- `da` — distributed arithmetic: da4ml's cost for every Dense layer (no DSPs), the
  analytic model for the other layers; seconds, cached per layer.

The totals are what Vivado logic synthesis would report (that is what must fit the chip);
`hls` holds what the HLS (csynth) report would say where that differs.
"""

from __future__ import annotations

import dataclasses
import time

from pydantic import Field

from codesign.config import Frozen
from codesign.errors import ConfigError
from codesign.hardware import analytic, da
from codesign.hardware.analytic import RESOURCES, Coefficients, ErrorBand
from codesign.hardware.analytic import LayerCost as LayerEstimate
from codesign.hardware.graph import Graph
from codesign.hardware.synth import corrections
from codesign.hardware.targets import Resources, Target, family_of

METHODS = ("analytic", "da")


class Totals(Frozen):
    lut: float
    ff: float
    dsp: float
    bram18: float


class Estimate(Frozen):
    method: str
    description: str
    part: str
    family: str
    clock_period_ns: float
    layers: list[LayerEstimate]
    total: Totals = Field(description="what Vivado logic synthesis would report")
    hls: Totals = Field(description="what the HLS csynth report would say")
    latency_cycles: int
    ii: int
    ebops: float = Field(0.0, description="effective bit operations (HGQ's resource proxy): sum over the dense "
                         "layers' products of input-element bits x weight bits")
    error: dict[str, ErrorBand] = Field(default_factory=dict, description="validated relative error per resource")
    latency_error_cycles: ErrorBand | None = None
    seconds: float = 0.0

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.clock_period_ns

    def utilisation(self, resources: Resources) -> dict[str, float]:
        """Fraction of the part each resource takes."""
        return {r: getattr(self.total, r) / max(getattr(resources, r), 1) for r in RESOURCES}

    def summary(self) -> dict:
        """Machine-readable totals (the `--json` output)."""
        return {"lut": round(self.total.lut), "ff": round(self.total.ff), "dsp": round(self.total.dsp),
                "bram18": round(self.total.bram18), "latency_cycles": self.latency_cycles, "ii": self.ii,
                "latency_ns": round(self.latency_ns, 3), "ebops": round(self.ebops), "method": self.method,
                "hls": {k: round(v) for k, v in self.hls.model_dump().items()},
                "error": {k: v.model_dump() for k, v in self.error.items()},
                "latency_error_cycles": self.latency_error_cycles.model_dump() if self.latency_error_cycles else None,
                "part": self.part, "clock_period_ns": self.clock_period_ns}


def _sum(layers, key) -> float:
    return float(sum(getattr(la, key) for la in layers))


def estimate(graph: Graph, method: str = "analytic", target: Target | None = None,
             coefficients: Coefficients | None = None, learned: list[dict] | None = None) -> Estimate:
    """Estimate a converted model; the part and clock come from `target`, else from the graph.

    `learned` are (estimate, real report) records for this target (see `synth.record`): the
    estimate is scaled per resource by their median real/estimate ratio.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown estimation method {method!r}; expected one of {', '.join(METHODS)}")
    start = time.perf_counter()
    co = coefficients or analytic.coefficients()
    part = target.part if target is not None else graph.part
    clock = target.clock_period_ns if target is not None else graph.clock_period_ns
    family = target.family if target is not None else family_of(part)
    hls_layers = analytic.estimate_layers(dataclasses.replace(graph, part=part, clock_period_ns=clock), family, co)
    ratio = co.synth_ratio
    synth_layers = [LayerEstimate(**{**c.model_dump(), **{r: getattr(c, r) * ratio.get(r, 1.0) for r in RESOURCES}})
                    for c in hls_layers]
    error = dict(co.synth_error)
    description = (f"analytic model of hls4ml io_parallel latency/resource strategies, calibrated on "
                   f"{co.hls_error['lut'].n if 'lut' in co.hls_error else 0} HLS reports; Vivado synthesis = "
                   f"HLS x {ratio.get('lut', 1):.2f} (LUT), x {ratio.get('ff', 1):.2f} (FF)")
    if method == "da":
        dense = {la.name: la for la in graph.layers if la.kind == "dense"}
        out = []
        for c in synth_layers:
            if c.name in dense:
                d = da.dense_cost(dense[c.name], clock)
                c = LayerEstimate(name=c.name, kind="dense (da)", lut=d["lut"], ff=d["ff"], dsp=0.0, bram18=0.0,
                                  cycles=int(d["cycles"]), ii=1)
            out.append(c)
        synth_layers = out
        hls_layers = [h if h.name not in dense else LayerEstimate(**s.model_dump()) for h, s in
                      zip(hls_layers, synth_layers)]
        error = _blend(error, co.da_error, synth_layers, set(dense))
        n = co.da_error["lut"].n if "lut" in co.da_error else 0
        description = ("da4ml adder-network cost for Dense layers (LUT = adder bits, FF = pipeline registers at "
                       f"{da.cutoff(clock):.0f} adder levels per cycle; errors vs yosys synth_xilinx on {n} layers), "
                       "analytic model for the other layers")
    if learned:
        factors = corrections(learned, method)
        if factors["hls"] or factors["synth"]:
            hls_layers = [_scaled(c, factors["hls"]) for c in hls_layers]
            synth_layers = [_scaled(c, factors["synth"]) for c in synth_layers]
            n = sum(r.get("method") == method for r in learned)
            description += f"; scaled by the median real/estimate ratio of {n} real report(s) for this target"
    if any(la.steps > 1 for la in graph.layers):
        description += ("; LSTM layers as one cell reused over their time steps (hls4ml's static LSTM), "
                        "extrapolated from the dense calibration: no recurrent-layer reports to validate against")
    ii = max([c.ii for c in hls_layers] + [1])
    cycles = analytic.total_cycles(hls_layers, co)
    return Estimate(method=method, description=description, part=part, family=family, clock_period_ns=clock,
                    layers=synth_layers,
                    total=Totals(**{r: _sum(synth_layers, r) for r in RESOURCES}),
                    hls=Totals(**{r: _sum(hls_layers, r) for r in RESOURCES}),
                    latency_cycles=cycles, ii=ii, ebops=sum(analytic.ebops(la) for la in graph.layers), error=error, latency_error_cycles=co.latency_error,
                    seconds=time.perf_counter() - start)


def _blend(analytic_error: dict[str, ErrorBand], da_error: dict[str, ErrorBand], layers, da_layers: set[str]):
    """Error of a mixed estimate: each method's band weighted by its share of the resource."""
    out = {}
    for res, band in analytic_error.items():
        total = sum(getattr(la, res) for la in layers)
        share = sum(getattr(la, res) for la in layers if la.name in da_layers) / total if total else 0.0
        other = da_error.get(res, ErrorBand(median=0.0, worst=0.0, n=0))
        out[res] = ErrorBand(median=round(share * other.median + (1 - share) * band.median, 3),
                             worst=round(share * other.worst + (1 - share) * band.worst, 3), n=band.n + other.n)
    return out


def _scaled(c, factors: dict[str, float]):
    return LayerEstimate(**{**c.model_dump(), **{r: getattr(c, r) * f for r, f in factors.items()}})


def format_table(est: Estimate, resources: Resources | None = None) -> str:
    """Per-layer table and totals (with % of the part when its resources are known)."""
    head = f"{'layer':24s} {'kind':12s} {'LUT':>10s} {'FF':>10s} {'DSP':>7s} {'BRAM18':>7s} {'cycles':>7s} {'II':>5s}"
    lines = [head, "-" * len(head)]
    for la in est.layers:
        lines.append(f"{la.name[:24]:24s} {la.kind[:12]:12s} {la.lut:10.0f} {la.ff:10.0f} {la.dsp:7.0f} "
                     f"{la.bram18:7.0f} {la.cycles:7d} {la.ii:5d}")
    lines.append("-" * len(head))
    t = est.total
    lines.append(f"{'total (Vivado synth)':37s} {t.lut:10.0f} {t.ff:10.0f} {t.dsp:7.0f} {t.bram18:7.0f} "
                 f"{est.latency_cycles:7d} {est.ii:5d}")
    h = est.hls
    lines.append(f"{'total (HLS report)':37s} {h.lut:10.0f} {h.ff:10.0f} {h.dsp:7.0f} {h.bram18:7.0f}")
    if resources is not None:
        u = est.utilisation(resources)
        lines.append(f"{'% of ' + est.part:37s} {100 * u['lut']:9.2f}% {100 * u['ff']:9.2f}% {100 * u['dsp']:6.2f}% "
                     f"{100 * u['bram18']:6.2f}%")
    lines.append(f"latency: {est.latency_cycles} cycles = {est.latency_ns:.1f} ns at {est.clock_period_ns:g} ns; "
                 f"II = {est.ii}; {est.ebops:,.0f} EBOPs")
    errs = ", ".join(f"{r.upper()} median {b.median:.0%} / worst {b.worst:.0%}" for r, b in est.error.items())
    lines.append(f"method: {est.method} — {est.description}")
    if errs:
        lines.append(f"validated error (|estimate/real - 1|): {errs}")
    if est.latency_error_cycles is not None and est.method == "analytic":
        b = est.latency_error_cycles
        lines.append(f"latency error: median {b.median:g}, worst {b.worst:g} cycles over {b.n} HLS reports")
    return "\n".join(lines)


def over_budget(est: Estimate, budget) -> list[str]:
    """Budget items the estimate exceeds, as 'lut 12345 > 10000' (empty when it fits). `budget`: a targets.Budget."""
    values = {**{r: getattr(est.total, r) for r in RESOURCES}, "latency_ns": est.latency_ns, "ii": float(est.ii)}
    return [f"{key} {values[key]:.0f} > {limit:g}" for key, limit in budget.limits().items()
            if values[key] > limit]
