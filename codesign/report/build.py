"""`codesign report`: a study's run directory -> a static report (HTML + PNG/PDF figures + tables).

The report is written to a sibling temporary directory and moved into place only when
complete, so an interrupted or failed run never leaves a half-written report that looks
finished; an earlier report is replaced with --force, any other directory is refused (codesign.outdir).
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign import compression_figures, outdir, provenance
from codesign.drawing import Drawing
from codesign.errors import CodesignError, ConfigError
from codesign.hardware import targets
from codesign.merit import Merit
from codesign.plotting import fpr_text, signal_label
from codesign.report import figures, html, tables
from codesign.search import records as records_mod
from codesign.search.results import Reference, StudyView, load, objective_label
from codesign.search.trial import TrialRecord

log = logging.getLogger("codesign")
FORMATS = ("html", "png", "pdf")
MANIFEST = "report.json"


@dataclass(frozen=True)
class Report:
    out: Path
    index: Path | None
    n_figures: int
    n_candidates: int
    seconds: float
    skipped: list[str]


def parse_formats(text: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise ConfigError(f"--format {text!r}: expected a comma-separated list of {', '.join(FORMATS)}")
    return items


def write(run_dir: str | Path, out: str | Path, formats=("html", "png", "pdf"),
          references: list[Reference] | tuple = (), force: bool = False, compare: list | tuple = (),
          compare_trials: int | None = None) -> Report:
    """`compare`: other studies' run directories whose fronts (of their first `compare_trials` trials, or all)
    are drawn on this study's Pareto plots."""
    start = time.perf_counter()
    view = load(run_dir)
    compared = [_compared(view, Path(other), compare_trials) for other in compare]
    for ref in references:  # fail before drawing anything
        if ref.trial is not None:
            view.trial(ref.trial)
        elif ref.merit_key != view.merit.key:
            raise ConfigError(f"--reference {ref.label!r}: gives {ref.merit_key}=, but this {view.settings.task} "
                              f"study's figure of merit is the {view.merit.name} ({view.merit.key}=X)")
    out, run = Path(out), Path(run_dir)
    where = {"inputs": [run, *map(Path, compare)], "not_inside": [run / d for d in ("trials", "data", "firmware")]}
    outdir.check(out, "report", force=force, **where)  # before any drawing
    with outdir.staged(out, "report", force=force, **where) as tmp:
        (tmp / "img").mkdir()
        (tmp / "tables").mkdir()
        result = _write(view, tmp, formats, list(references), tuple(compared))
        manifest = {"run_dir": str(Path(run_dir).resolve()), "formats": list(formats), **result,
                    "seconds": round(time.perf_counter() - start, 2), "skipped": view.skipped,
                    "provenance": provenance.record()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
    index = out / "index.html" if "html" in formats else None
    return Report(out, index, result["n_figures"], len(result["candidates"]), time.perf_counter() - start,
                  view.skipped)


# ---------------------------------------------------------------- content


def _points(view: StudyView, records: list[TrialRecord], front: set[int]) -> figures.Points:
    columns = _columns(view.merit, records, view.signals)
    return figures.Points(np.array([r.number for r in records], dtype=int),
                          np.array([r.feasible for r in records], dtype=bool),
                          np.array([r.number in front for r in records], dtype=bool),
                          {k: np.asarray(v, dtype=float) for k, v in columns.items()})


def _compared(view: StudyView, other_dir: Path, n_trials: int | None) -> figures.Compared:
    """Another study's feasible front (of its first `n_trials` trials), refused unless it measures the same thing."""
    other = load(other_dir)
    mine, theirs = view.settings, other.settings
    if (theirs.task, theirs.merit.key, theirs.tpr) != (mine.task, mine.merit.key, mine.tpr) or \
            other.signals != view.signals:
        raise ConfigError(f"--compare {other_dir}: a {theirs.task} study of {theirs.tpr} {theirs.merit.key} over "
                          f"{', '.join(other.signals)}; this one is {mine.task}, {mine.tpr} {mine.merit.key} over "
                          f"{', '.join(view.signals)}")
    kept = [r for r in other.records if n_trials is None or (r.number is not None and r.number < n_trials)]
    front = records_mod.front(kept, theirs)
    n = len({r.number for r in kept})
    return figures.Compared(f"front of {other_dir.name} ({n} trials)", _points(other, front, {r.number for r in front}))


def _floor(entry: dict) -> float:
    """Where a zero is drawn on the log axis: an efficiency's one signal event; an RMS is never zero (tiny)."""
    return 1.0 / entry["n_signal"] if "n_signal" in entry else figures.TINY


def _columns(merit: Merit, records: list[TrialRecord], signals: list[str]) -> dict[str, list[float]]:
    """The plotted columns: estimated resources and latency, and y/lo/hi/floor per signal or variable
    ('' = the objective)."""
    cols = {k: [r.resource(k) for r in records] for k in ("lut", "dsp", "ff", "latency_ns")
            if all(r.estimate for r in records)}  # a float reference has no firmware estimate
    for r in records:
        parts = merit.components(r)
        err = merit.error(r)
        values = {"": (merit.value(r), err, err, max((_floor(e) for e in parts.values()), default=figures.TINY))}
        for sig in signals:
            values[sig] = (*merit.component(parts[sig]), _floor(parts[sig]))
        for sig, (y, lo, hi, floor) in values.items():
            for name, v in (("y", y), ("lo", lo), ("hi", hi), ("floor", floor)):
                cols.setdefault(f"{name}/{sig}", []).append(float(v))
    return cols


def _markers(view: StudyView, baseline: TrialRecord | None, references: list[Reference]) -> list[figures.Marker]:
    out = []

    def of_record(r: TrialRecord) -> dict[str, float]:
        return {**{k: v[0] for k, v in _columns(view.merit, [r], view.signals).items()}, "trial": r.number}

    if baseline is not None:
        out.append(figures.Marker(f"baseline (trial {baseline.number})", of_record(baseline), "baseline"))
    for design in view.references:  # the space's reference designs, scored on the study's events
        if design.complete and view.merit.key in design.scored:  # drawn as a line when it has no estimate
            values = {k: v[0] for k, v in _columns(view.merit, [design], view.signals).items()}
            out.append(figures.Marker(design.reference + ("" if design.estimate else " (no firmware)"), values))
    for ref in references:
        if ref.trial is not None:
            out.append(figures.Marker(ref.label, of_record(view.trial(ref.trial))))
        else:
            v = dict(ref.values)
            y, err = v.pop(view.merit.key), v.pop(f"{view.merit.key}_error", 0.0)
            out.append(figures.Marker(ref.label, {**v, "y/": y, "lo/": err, "hi/": err, "floor/": 1e-6}))
    return out


def _importances(view: StudyView, records: list[dict]) -> tuple[dict[str, dict[str, float]], str]:
    """fANOVA importances of log10 merit (TPR, RMS) and log10 resource (Optuna's evaluator on the finished trials)."""
    if len(records) < 5:
        return {}, f"needs at least 5 complete trials, the study has {len(records)}"
    import optuna

    merit = view.merit
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=[merit.direction, "minimize"])
    for r in records:
        dists = view.space.distributions(int(r.params.get("depth", 0)))
        try:
            study.add_trial(optuna.trial.create_trial(
                params=r.params, distributions={k: dists[k] for k in r.params},
                values=[float(np.log10(max(merit.value(r), 1e-7))),
                        float(np.log10(max(r.resource(view.settings.resource), 1.0)))]))
        except (KeyError, ValueError) as exc:
            return {}, f"trial {r.number} does not fit the study's space ({exc})"
    out = {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=view.settings.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, name in enumerate([f"log10 {merit.name}", f"log10 {view.settings.resource.upper()}"]):
            try:
                out[name] = optuna.importance.get_param_importances(study, evaluator=evaluator,
                                                                    target=lambda t, i=i: t.values[i])
            except (RuntimeError, ValueError) as exc:  # e.g. every trial has the same value
                return {}, f"Optuna could not evaluate importances ({exc})"
    return out, ""


@dataclass(frozen=True)
class _Labels:
    """The merit's axis labels: signal efficiency at the FPR, or residual RMS."""

    pareto: str  # y of the objective's Pareto plots
    history: str
    slices: str
    panels: list[tuple[str, str, str]]  # per signal / variable: (name, panel title, y label)

    @classmethod
    def of(cls, view: StudyView, fpr: float) -> _Labels:
        s, merit = view.settings, view.merit
        titles = [(sig, signal_label(sig, tex=True)) for sig in view.signals]
        if merit.is_efficiency:
            objective = objective_label(s.tpr, tex=True)
            return cls(f"{objective} {merit.label} at FPR {fpr_text(fpr)}", f"{objective} efficiency at FPR",
                       f"{objective} {merit.name}", [(n, t, f"efficiency at FPR {fpr_text(fpr)}") for n, t in titles])
        kinds = {sig: e.get("kind", "") for r in view.complete[:1] for sig, e in merit.components(r).items()}
        objective = f"mean {merit.label} (firmware)"
        return cls(objective, objective, f"mean {merit.label}",
                   [(n, t, f"{t} {merit.label} ({kinds.get(n) or 'residual'})") for n, t in titles])


@dataclass(frozen=True)
class _Context:
    """What every figure of one report shares."""

    view: StudyView
    img: Path
    formats: tuple[str, ...]  # figure formats: png and/or pdf
    fpr: float
    right: str  # the label above each plot's right edge
    labels: _Labels
    signals: list[tuple[str, str]]  # (name, mathtext label): signals or variables
    front: set[int]
    baseline: TrialRecord | None

    @property
    def merit(self) -> Merit:
        return self.view.merit

    @property
    def floor(self) -> float:
        """Where zeros, pruned and failed trials are drawn: one signal event for an efficiency; half the best
        RMS (never zero) for a residual RMS."""
        if not self.merit.is_efficiency:
            return 0.5 * min((self.merit.value(r) for r in self.view.complete), default=1e-2)
        n = [min(sc["n_signal"] for sc in self.merit.components(r).values()) for r in self.view.complete]
        return 1.0 / max(n, default=1e5)


def _pareto_figures(d: Drawing, c: _Context, references: list[Reference], compared: tuple = ()) -> None:
    s = c.view.settings
    points = _points(c.view, c.view.complete, c.front)
    markers = _markers(c.view, c.baseline, references)
    budget = s.budget.limits()
    resource_axis = {"lut": "lut", "dsp": "dsp"}.get(s.resource, "")
    maximize = c.merit.direction == "maximize"
    for axis in figures.AXES:
        d.draw(f"pareto_signals_{axis}", figures.pareto_signals, points, c.labels.panels, axis, budget, markers,
               c.right, resource_axis, c.img, c.formats, compared)
        d.draw(f"pareto_{axis}", figures.pareto, points, axis, budget, markers, c.labels.pareto, c.right, resource_axis,
               maximize, c.img, c.formats, compared)


def _insight_figures(d: Drawing, c: _Context) -> str:
    """History, parallel coordinates, slices and importances; returns why importances are missing, if they are."""
    s, complete, merit = c.view.settings, c.view.complete, c.merit
    maximize = merit.direction == "maximize"
    numbers: dict[str, list[int]] = {}
    values: dict[str, list[float]] = {}
    best_n, best_y, best = [], [], -np.inf  # best within budget so far, as merit.goodness (larger is better)
    for r in c.view.records:
        if r.reused_from is not None:
            continue
        kind = r.status.value
        if kind == "complete":
            kind = "front" if r.number in c.front else "feasible" if r.feasible else "infeasible"
            values.setdefault(kind, []).append(merit.value(r))
            if r.feasible and merit.goodness(r) > best:
                best = merit.goodness(r)
                best_n.append(r.number)
                best_y.append(merit.value(r))
        numbers.setdefault(kind, []).append(r.number)
    d.draw("history", figures.history, {k: np.array(v) for k, v in numbers.items()},
           {k: np.array(v) for k, v in values.items()}, (np.array(best_n), np.array(best_y)), c.floor,
           c.labels.history, maximize, c.right, c.img, c.formats)
    if len(complete) >= 2:
        names = c.view.space.param_names(max(int(r.params.get("depth", 0)) for r in complete))
        params = {n: [r.params.get(n) for r in complete] for n in names}
        params = {n: v for n, v in params.items() if len({str(x) for x in v if x is not None}) > 1}  # varied only
        resource = np.array([r.resource(s.resource) for r in complete])
        y = np.array([merit.value(r) for r in complete])
        front = np.array([r.number in c.front for r in complete], dtype=bool)
        if params:
            d.draw("slices", figures.slices, params, y, resource, front, c.floor, c.labels.slices,
                   f"{s.resource.upper()} (estimated)", c.right, c.img, c.formats)
            d.draw("parallel", figures.parallel, params, {merit.name: y, s.resource.upper(): resource}, front, c.right,
                   c.img, c.formats)
    measured = [r for r in complete if r.estimate and r.estimate.get("ebops")]
    if len(measured) >= 2:
        groups: dict[str, list[TrialRecord]] = {}
        default = s.base_config.get("model", {}).get("quantizer", "qkeras")  # when the space does not search it
        for r in measured:
            groups.setdefault(str(r.params.get("quantizer", default)), []).append(r)
        d.draw("ebops", figures.ebops_vs_lut, {k: (np.array([r.estimate["ebops"] for r in v], dtype=float),
                                                   np.array([r.estimate["lut"] for r in v], dtype=float))
                                               for k, v in groups.items()}, c.right, c.img, c.formats)
    importances, note = _importances(c.view, complete)  # while the workers draw
    if importances:
        d.draw("importance", figures.importance, importances, c.right, c.img, c.formats)
    return note


def _candidate_figures(d: Drawing, c: _Context, r: TrialRecord) -> None:
    """What one candidate's record holds: ROC and score distributions of an anomaly detector, residual
    distributions and correlations of a compression (none for a record written before they were kept)."""
    n = r.number
    right = f"trial {n}, {c.view.settings.target}"

    def baseline(key: str) -> dict | None:  # overlaid where it is another trial that has the same figure
        b = c.baseline
        return {**b.scored, "number": b.number} if b is not None and b.number != n and key in b.scored else None

    f = r.scored
    if "curves" in f:
        d.draw(f"trial {n}/roc", figures.roc, f["curves"], f["scores"], c.signals, c.fpr, right, c.img,
               f"roc_{n:05d}", c.formats, baseline("curves"))
        d.draw(f"trial {n}/scores", figures.score_distributions, f["curves"], f["scores"], c.signals, c.fpr, right,
               c.img, f"scores_{n:05d}", c.formats)
    if any(la.get("weight_bits") for la in r.layers):
        d.draw(f"trial {n}/bits", figures.bit_widths, r.layers, right, c.img, f"bits_{n:05d}", c.formats)
    if "histograms" in f:
        d.draw(f"trial {n}/residuals", compression_figures.residual_histograms, f["histograms"], f["residuals"],
               c.signals, right, c.img, f"residuals_{n:05d}", c.formats, baseline("histograms"))
    if "correlations" in f:
        labels = [signal_label(v, tex=True) for v in f["correlations"]["names"]]
        d.draw(f"trial {n}/correlations", compression_figures.residual_correlations, f["correlations"]["matrix"],
               labels, right, c.img, f"correlations_{n:05d}", c.formats)

def _write(view: StudyView, tmp: Path, formats: tuple[str, ...], references: list[Reference],
           compared: tuple = ()) -> dict:
    s = view.settings
    front = view.front()
    baseline = view.baseline()
    fpr = float(s.base_config.get("metrics", {}).get("fpr", 1e-5))  # an anomaly study's operating point
    c = _Context(view=view, img=tmp / "img",
                 formats=tuple(f for f in ("png", "pdf") if f in formats or (f == "png" and "html" in formats)),
                 fpr=fpr, right=f"{s.target}, {len(view.records)} trials", labels=_Labels.of(view, fpr),
                 signals=[(sig, signal_label(sig, tex=True)) for sig in view.signals],
                 front={r.number for r in front}, baseline=baseline)
    try:
        target = targets.load(s.target)
        part, resources = target.part, target.resources
    except CodesignError:  # a target file that only existed on the machine that ran the study
        part, resources = s.target, None
    # the front, the baseline and referenced trials get a page each
    pages = {r.number: r for r in front}
    if baseline is not None:
        pages.setdefault(baseline.number, baseline)
    for ref in references:
        if ref.trial is not None:
            pages.setdefault(ref.trial, view.trial(ref.trial))

    with Drawing(min(os.cpu_count() or 1, 4)) as d:
        if view.complete:
            _pareto_figures(d, c, references, compared)
        for n, r in sorted(pages.items()):
            _candidate_figures(d, c, r)
        importance_note = _insight_figures(d, c)
        drawn = d.results()
    figs = {k: v for k, v in drawn.items() if not k.startswith("trial ")}
    candidate_figs = {n: {} for n in pages}
    for key, paths in drawn.items():
        if key.startswith("trial "):
            n, kind = key[len("trial "):].split("/")
            candidate_figs[int(n)][kind] = paths

    import pandas as pd

    rows = tables.front_rows(view, front)
    designs = tables.front_rows(view, [r for r in view.references if r.complete])
    pd.DataFrame(rows + designs).to_csv(tmp / "tables" / "front.csv", index=False)
    (tmp / "tables" / "front.md").write_text(tables.markdown(view, rows + designs))
    (tmp / "tables" / "front.tex").write_text(tables.latex(view, rows + designs))
    if "html" in formats:
        html.write(tmp, view, front=front, rows=rows, designs=designs, pages=pages, figs=figs,
                   candidate_figs=candidate_figs,
                   baseline=baseline, references=references, importance_note=importance_note, part=part,
                   resources=resources, fpr=c.fpr)
    return {"n_figures": len(drawn), "front": [r.number for r in front], "candidates": sorted(pages),
            "figures": drawn}
