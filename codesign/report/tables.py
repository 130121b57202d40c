"""The Pareto front as tables: CSV (numbers), Markdown (READMEs, issues) and LaTeX (papers, booktabs)."""

from __future__ import annotations

import math

from codesign.search.results import StudyView, fpr_text, signal_label


def front_rows(view: StudyView, records: list[dict]) -> list[dict]:
    """One flat row per candidate: numbers, not strings (the CSV); formatting happens per output.

    The merit's columns: tpr (with the AUC) and tpr_<signal> for an anomaly study, rms and
    rms_<variable> for a compression, each component with its 68 % interval (_low, _high).
    """
    merit, rows = view.merit, []
    key = merit.key
    for r in records:
        est = r["estimate"]
        row = {"trial": r["number"], "architecture": view.describe(r["params"]), key: merit.value(r),
               f"{key}_error": merit.error(r)}
        if _has_auc(view):
            row["auc"] = r["auc"]
        for sig, entry in merit.components(r).items():
            row[f"{key}_{sig}"] = entry[key]
            row[f"{key}_{sig}_low"], row[f"{key}_{sig}_high"] = entry.get(f"{key}_interval", (entry[key],) * 2)
        row.update({k: est[k] for k in ("lut", "ff", "dsp", "bram18", "latency_cycles", "latency_ns", "ii")})
        row["method"] = est["method"]
        row["bit_exact"] = (r.get("bit_exact") or {}).get("fraction")
        row["feasible"] = bool(r.get("feasible"))
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
    return view.merit.per == "scores"


def _cells(view: StudyView, row: dict, tex: bool) -> list[str]:
    esc = _tex_escape if tex else (lambda s: s.replace("|", "\\|"))
    k = view.merit.key
    return ([str(row["trial"]), esc(row["architecture"]), sci(row[k], row[f"{k}_error"], tex)]
            + [sci(row[f"{k}_{s}"], tex=tex) for s in view.signals]
            + ([f"{row['auc']:.3f}"] if _has_auc(view) else [])
            + [f"{row['lut']:,}".replace(",", "{,}" if tex else ","), f"{row['dsp']}",
               f"{row['latency_ns']:g} ({row['latency_cycles']})", row["method"]])


def _header(view: StudyView, tex: bool) -> list[str]:
    s, merit = view.settings, view.merit
    if _has_auc(view):
        fpr = fpr_text(s.base_config.get("metrics", {}).get("fpr", 1e-5))
        objective = "avg." if s.tpr == "average" else signal_label(s.tpr, tex)
        merit_head = [f"TPR@{fpr} ({objective})"] + [signal_label(sig, tex) for sig in view.signals]
    else:
        merit_head = [f"{merit.name} (mean)"] + [f"{signal_label(v, tex)} RMS" for v in view.signals]
    return (["Trial", "Architecture", *merit_head] + (["AUC"] if _has_auc(view) else [])
            + ["LUT", "DSP", "Latency [ns] (cycles)", "Method"])


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


def _tex_escape(text: str) -> str:
    out = text
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        out = out.replace(a, b)
    return out
