"""The Pareto front as tables: CSV (numbers), Markdown (READMEs, issues) and LaTeX (papers, booktabs)."""

from __future__ import annotations

import math

from codesign import escape
from codesign.plotting import fpr_text, signal_label
from codesign.search.records import inputs_tails, shared_with_inputs, within_errors
from codesign.search.results import StudyView, objective_label
from codesign.search.trial import TrialRecord

RESOURCE_COLUMNS = ("lut", "ff", "dsp", "bram18", "latency_cycles", "latency_ns", "ii", "ebops")


def front_rows(view: StudyView, records: list[TrialRecord]) -> list[dict]:
    """One flat row per candidate: numbers, not strings (the CSV); formatting happens per output.

    The merit's columns: tpr (with the AUC) and tpr_<signal> for an anomaly study, rms and
    rms_<variable> for a compression, each component with its 68 % interval (_low, _high).
    A reference design (`references/*.json`) has its label as `trial` and no resources when it
    was scored without firmware. `within_errors_of`: the cheaper front point a candidate does not
    beat beyond both errors (`records.within_errors`), else None.
    """
    merit, rows = view.merit, []
    key = merit.key
    tails = inputs_tails(view.references)
    same = within_errors([r for r in records if r.number is not None and r.estimate], view.settings)
    for r in records:
        est = r.estimate or {}
        name = r.reference if r.reference is not None else r.number
        what = view.describe(r.params) if r.reference is None else \
            r.run["config"] + (f" with {', '.join(f'{k} {v}' for k, v in r.params.items())}" if r.params else "")
        row = {"trial": name, "architecture": what, key: merit.value(r), f"{key}_error": merit.error(r)}
        if _has_auc(view):
            row["auc"] = r.get("auc")
            row["tail_shared_with_inputs"] = shared_with_inputs(r, tails, view.settings)
        for sig, entry in merit.components(r).items():
            row[f"{key}_{sig}"] = entry[key]
            row[f"{key}_{sig}_low"], row[f"{key}_{sig}_high"] = entry.get(f"{key}_interval", (entry[key],) * 2)
        row.update({k: est.get(k) for k in RESOURCE_COLUMNS})
        row["method"] = est.get("method", "no firmware")
        row["bit_exact"] = r.bit_exact.fraction if r.bit_exact else None
        row["feasible"] = r.feasible
        row["within_errors_of"] = same.get(r.number)
        rows.append(row)
    return rows


def sci(value: float, error: float | None = None, tex: bool = False) -> str:
    """1.98e-02 ± 2.4e-03 -> '(1.98 ± 0.24)e-2' (or '$(1.98 \\pm 0.24)\\times 10^{-2}$')."""
    if value == 0 or not math.isfinite(value):
        text = "0" if value == 0 else str(value)
        if error:
            text = f"< {error:.1e}" if value == 0 else text
        return f"${text}$" if tex else text
    exp = math.floor(math.log10(abs(value)))
    m = value / 10 ** exp
    if error is None:
        return f"${m:.2f}\\times 10^{{{exp}}}$" if tex else f"{m:.2f}e{exp}"
    e = error / 10 ** exp
    return f"$({m:.2f} \\pm {e:.2f})\\times 10^{{{exp}}}$" if tex else f"({m:.2f} ± {e:.2f})e{exp}"


def _has_auc(view: StudyView) -> bool:
    """An anomaly study's table carries the AUC beside the efficiency; a compression has no AUC."""
    return view.merit.is_efficiency


def _cells(view: StudyView, row: dict, tex: bool) -> list[str]:
    esc = escape.tex if tex else escape.markdown
    k = view.merit.key
    within = f" (≈{row['within_errors_of']})" if row.get("within_errors_of") is not None else ""
    return ([esc(str(row["trial"])) + (within.replace("≈", r"$\approx$") if tex else within),
             esc(row["architecture"]), sci(row[k], row[f"{k}_error"], tex)]
            + [sci(row[f"{k}_{s}"], tex=tex) for s in view.signals]
            + ([f"{row['auc']:.3f}", _share(row["tail_shared_with_inputs"], tex)] if _has_auc(view) else [])
            + ([f"{row['lut']:,}".replace(",", "{,}" if tex else ","),
                f"{row['ebops']:,}".replace(",", "{,}" if tex else ",") if row.get("ebops") is not None else "–",
                f"{row['dsp']}", f"{row['latency_ns']:g} ({row['latency_cycles']})"] if row["lut"] is not None
               else ["–"] * 4)
            + [esc(row["method"])])


def _header(view: StudyView, tex: bool) -> list[str]:
    s, merit = view.settings, view.merit
    if _has_auc(view):
        fpr = fpr_text(s.base_config.get("metrics", {}).get("fpr", 1e-5))
        objective = objective_label(s.tpr, tex)
        merit_head = [f"TPR@{fpr} ({objective})"] + [signal_label(sig, tex) for sig in view.signals]
    else:
        merit_head = [f"{merit.name} (mean)"] + [f"{signal_label(v, tex)} RMS" for v in view.signals]
    share = r"tail $=$ inputs" if tex else "tail = inputs"
    return (["Trial", "Architecture", *merit_head] + (["AUC", share] if _has_auc(view) else [])
            + ["LUT", "EBOPs", "DSP", "Latency [ns] (cycles)", "Method"])


def _share(value: float | None, tex: bool) -> str:
    """The share of a design's threshold-setting background events that the inputs alone also put on top."""
    if value is None:
        return "–"
    return f"{value:.0%}".replace("%", r"\%" if tex else "%")


def markdown(view: StudyView, rows: list[dict]) -> str:
    head = _header(view, False)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cells(view, r, False)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def latex(view: StudyView, rows: list[dict]) -> str:
    head = _header(view, True)
    body = [" & ".join(_cells(view, r, True)) + r" \\" for r in rows]
    return "\n".join([
        "% Pareto front of a codesign search; needs \\usepackage{booktabs}",
        r"\begin{tabular}{r p{5cm} " + "l" * (len(head) - 2) + "}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        ""])
