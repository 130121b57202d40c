"""`codesign report`: a study's run directory -> a static report (HTML + PNG/PDF figures + tables).

The report is written to a sibling temporary directory and moved into place only when
complete, so an interrupted or failed run never leaves a half-written report that looks
finished; an existing report is replaced, any other existing directory is refused.
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

from codesign import provenance
from codesign.drawing import Drawing
from codesign.errors import CodesignError, ConfigError
from codesign.outdir import staged
from codesign.report import figures, tables
from codesign.search.results import (
    Reference,
    StudyError,
    StudyView,
    load,
    signal_label,
    tpr_errors,
)

log = logging.getLogger("codesign")
FORMATS = ("html", "png", "pdf")
MANIFEST = "report.json"


@dataclass(frozen=True)
class Result:
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
          references: list[Reference] | tuple = ()) -> Result:
    start = time.perf_counter()
    view = load(run_dir)
    for ref in references:  # fail before drawing anything
        if ref.trial is not None:
            view.trial(ref.trial)
    out = Path(out)
    _check_out(out, Path(run_dir))
    with staged(out) as tmp:
        (tmp / "img").mkdir()
        (tmp / "tables").mkdir()
        result = _write(view, tmp, formats, list(references))
        manifest = {"run_dir": str(Path(run_dir).resolve()), "formats": list(formats), **result,
                    "seconds": round(time.perf_counter() - start, 2), "skipped": view.skipped,
                    "provenance": provenance.record()}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
    index = out / "index.html" if "html" in formats else None
    return Result(out, index, result["n_figures"], len(result["candidates"]), time.perf_counter() - start,
                  view.skipped)


def _check_out(out: Path, run_dir: Path) -> None:
    if out.exists() and not out.is_dir():
        raise StudyError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise StudyError(f"--out {out}: exists and is not a codesign report (no {MANIFEST}); "
                          "choose another --out, nothing was written")
    run, where = run_dir.resolve(), out.resolve()
    if where == run or any(where == run / d or run / d in where.parents for d in ("trials", "data", "firmware")):
        raise StudyError(f"--out {out}: inside the study's own files; choose another directory")


# ---------------------------------------------------------------- content


def _points(view: StudyView, records: list[dict], front: set[int]) -> figures.Points:
    return figures.Points(np.array([r["number"] for r in records], dtype=int),
                          np.array([bool(r.get("feasible")) for r in records], dtype=bool),
                          np.array([r["number"] in front for r in records], dtype=bool),
                          {k: np.asarray(v, dtype=float) for k, v in _columns(records, view.signals).items()})


def _columns(records: list[dict], signals: list[str]) -> dict[str, list[float]]:
    """The plotted columns: estimated resources and latency, and tpr/lo/hi/floor per signal ('' = objective)."""
    cols = {k: [float(r["estimate"][k]) for r in records] for k in ("lut", "dsp", "ff", "latency_ns")}
    for r in records:
        n_min = min(s["n_signal"] for s in r["scores"].values())
        values = {"": (r["tpr"], r["tpr_error"], r["tpr_error"], 1.0 / n_min)}
        for sig in signals:
            s = r["scores"][sig]
            values[sig] = (s["tpr"], *tpr_errors(s), 1.0 / s["n_signal"])
        for sig, (t, lo, hi, floor) in values.items():
            for name, v in (("tpr", t), ("lo", lo), ("hi", hi), ("floor", floor)):
                cols.setdefault(f"{name}/{sig}", []).append(float(v))
    return cols


def _markers(view: StudyView, baseline: dict | None, references: list[Reference]) -> list[figures.Marker]:
    out = []

    def of_record(r: dict) -> dict[str, float]:
        return {**{k: v[0] for k, v in _columns([r], view.signals).items()}, "trial": r["number"]}

    if baseline is not None:
        out.append(figures.Marker(f"baseline (trial {baseline['number']})", of_record(baseline), "baseline"))
    for ref in references:
        if ref.trial is not None:
            out.append(figures.Marker(ref.label, of_record(view.trial(ref.trial))))
        else:
            v = dict(ref.values)
            tpr, err = v.pop("tpr"), v.pop("tpr_error", 0.0)
            out.append(figures.Marker(ref.label, {**v, "tpr/": tpr, "lo/": err, "hi/": err, "floor/": 1e-6}))
    return out


def _importances(view: StudyView, records: list[dict]) -> tuple[dict[str, dict[str, float]], str]:
    """fANOVA importances of log10 TPR and log10 resource (Optuna's evaluator on the finished trials)."""
    if len(records) < 5:
        return {}, f"needs at least 5 complete trials, the study has {len(records)}"
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"])
    for r in records:
        dists = view.space.distributions(int(r["params"].get("depth", 0)))
        try:
            study.add_trial(optuna.trial.create_trial(
                params=r["params"], distributions={k: dists[k] for k in r["params"]},
                values=[float(np.log10(max(r["tpr"], 1e-7))),
                        float(np.log10(max(float(r["estimate"][view.settings.resource]), 1.0)))]))
        except (KeyError, ValueError) as exc:
            return {}, f"trial {r['number']} does not fit the study's space ({exc})"
    out = {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=view.settings.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, name in enumerate(["log10 TPR", f"log10 {view.settings.resource.upper()}"]):
            try:
                out[name] = optuna.importance.get_param_importances(study, evaluator=evaluator,
                                                                    target=lambda t, i=i: t.values[i])
            except (RuntimeError, ValueError) as exc:  # e.g. every trial has the same value
                return {}, f"Optuna could not evaluate importances ({exc})"
    return out, ""


def _draw(name: str, args: tuple) -> dict[str, str]:
    return getattr(figures, name)(*args)


@dataclass(frozen=True)
class _Context:
    """What every figure of one report shares."""

    view: StudyView
    img: Path
    formats: tuple[str, ...]  # figure formats: png and/or pdf
    fpr: float
    right: str  # the label above each plot's right edge
    objective: str
    signals: list[tuple[str, str]]  # (name, mathtext label)
    front: set[int]
    baseline: dict | None

    @property
    def floor(self) -> float:
        """One signal event: where a zero efficiency is drawn (as an upper limit)."""
        n = [min(sc["n_signal"] for sc in r["scores"].values()) for r in self.view.complete]
        return 1.0 / max(n, default=1e5)


def _pareto_figures(d: Drawing, c: _Context, references: list[Reference]) -> None:
    s = c.view.settings
    points = _points(c.view, c.view.complete, c.front)
    markers = _markers(c.view, c.baseline, references)
    budget = s.budget.limits()
    resource_axis = {"lut": "lut", "dsp": "dsp"}.get(s.resource, "")
    for axis in figures.AXES:
        d.draw(f"pareto_signals_{axis}", "pareto_signals", points, c.signals, axis, budget, markers, c.fpr, c.right,
               resource_axis, c.img, c.formats)
        d.draw(f"pareto_{axis}", "pareto", points, axis, budget, markers, c.fpr, c.right, c.objective,
               resource_axis, c.img, c.formats)


def _insight_figures(d: Drawing, c: _Context) -> str:
    """History, parallel coordinates, slices and importances; returns why importances are missing, if they are."""
    s, complete = c.view.settings, c.view.complete
    numbers: dict[str, list[int]] = {}
    tprs: dict[str, list[float]] = {}
    best_n, best_t, best = [], [], -1.0
    for r in c.view.records:
        if "reused_from" in r:
            continue
        kind = r["status"]
        if kind == "complete":
            kind = "front" if r["number"] in c.front else "feasible" if r.get("feasible") else "infeasible"
            tprs.setdefault(kind, []).append(r["tpr"])
            if r.get("feasible") and r["tpr"] > best:
                best = r["tpr"]
                best_n.append(r["number"])
                best_t.append(best)
        numbers.setdefault(kind, []).append(r["number"])
    d.draw("history", "history", {k: np.array(v) for k, v in numbers.items()},
           {k: np.array(v) for k, v in tprs.items()}, (np.array(best_n), np.array(best_t)), c.floor, c.objective,
           c.right, c.img, c.formats)
    if len(complete) >= 2:
        names = c.view.space.param_names(max(int(r["params"].get("depth", 0)) for r in complete))
        params = {n: [r["params"].get(n) for r in complete] for n in names}
        params = {n: v for n, v in params.items() if len({str(x) for x in v if x is not None}) > 1}  # varied only
        resource = np.array([float(r["estimate"][s.resource]) for r in complete])
        tpr = np.array([r["tpr"] for r in complete])
        front = np.array([r["number"] in c.front for r in complete], dtype=bool)
        if params:
            d.draw("slices", "slices", params, tpr, resource, front, c.floor, c.objective,
                   f"{s.resource.upper()} (estimated)", c.right, c.img, c.formats)
            d.draw("parallel", "parallel", params, {"TPR": tpr, s.resource.upper(): resource}, front, c.right, c.img,
                   c.formats)
    importances, note = _importances(c.view, complete)  # while the workers draw
    if importances:
        d.draw("importance", "importance", importances, c.right, c.img, c.formats)
    return note


def _candidate_figures(d: Drawing, c: _Context, r: dict) -> None:
    """ROC and score distributions of one candidate (none for a record written before curves were kept)."""
    if "curves" not in r:
        return
    n = r["number"]
    base = c.baseline if c.baseline is not None and c.baseline["number"] != n and "curves" in c.baseline else None
    right = f"trial {n}, {c.view.settings.target}"
    d.draw(f"trial {n}/roc", "roc", r["curves"], r["scores"], c.signals, c.fpr, right, c.img, f"roc_{n:05d}",
           c.formats, base)
    d.draw(f"trial {n}/scores", "score_distributions", r["curves"], r["scores"], c.signals, c.fpr, right, c.img,
           f"scores_{n:05d}", c.formats)


def _write(view: StudyView, tmp: Path, formats: tuple[str, ...], references: list[Reference]) -> dict:
    from codesign.hardware import targets

    s = view.settings
    front = view.front()
    baseline = view.baseline()
    c = _Context(view=view, img=tmp / "img",
                 formats=tuple(f for f in ("png", "pdf") if f in formats or (f == "png" and "html" in formats)),
                 fpr=float(s.base_config.get("metrics", {}).get("fpr", 1e-5)),
                 right=f"{s.target}, {len(view.records)} trials",
                 objective="average" if s.tpr == "average" else signal_label(s.tpr, tex=True),
                 signals=[(sig, signal_label(sig, tex=True)) for sig in view.signals],
                 front={r["number"] for r in front}, baseline=baseline)
    try:
        target = targets.load(s.target)
        part, resources = target.part, target.resources
    except CodesignError:  # a target file that only existed on the machine that ran the study
        part, resources = s.target, None
    # the front, the baseline and referenced trials get a page each
    pages = {r["number"]: r for r in front}
    if baseline is not None:
        pages.setdefault(baseline["number"], baseline)
    for ref in references:
        if ref.trial is not None:
            pages.setdefault(ref.trial, view.trial(ref.trial))

    with Drawing(min(os.cpu_count() or 1, 4), _draw) as d:
        if view.complete:
            _pareto_figures(d, c, references)
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
    pd.DataFrame(rows).to_csv(tmp / "tables" / "front.csv", index=False)
    (tmp / "tables" / "front.md").write_text(tables.markdown(view, rows))
    (tmp / "tables" / "front.tex").write_text(tables.latex(view, rows))
    if "html" in formats:
        from codesign.report import html

        html.write(tmp, view, front=front, rows=rows, pages=pages, figs=figs, candidate_figs=candidate_figs,
                   baseline=baseline, references=references, importance_note=importance_note, part=part,
                   resources=resources, fpr=c.fpr)
    return {"n_figures": len(drawn), "front": [r["number"] for r in front], "candidates": sorted(pages),
            "figures": drawn}
