"""The Pareto front as tables: CSV (numbers), Markdown (READMEs, issues) and LaTeX (papers, booktabs)."""

from __future__ import annotations

import math

from codesign.search.results import StudyView, fpr_text, signal_label


def front_rows(view: StudyView, records: list[dict]) -> list[dict]:
    """One flat row per candidate: numbers, not strings (the CSV); formatting happens per output."""
    rows = []
    for r in records:
        est = r["estimate"]
        row = {"trial": r["number"], "architecture": view.describe(r["params"]), "tpr": r["tpr"],
               "tpr_error": r["tpr_error"], "auc": r["auc"]}
        for sig, s in r["scores"].items():
            row[f"tpr_{sig}"] = s["tpr"]
            row[f"tpr_{sig}_low"], row[f"tpr_{sig}_high"] = s["tpr_interval"]
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


def _cells(row: dict, signals: list[str], tex: bool) -> list[str]:
    esc = _tex_escape if tex else (lambda s: s.replace("|", "\\|"))
    return ([str(row["trial"]), esc(row["architecture"]), sci(row["tpr"], row["tpr_error"], tex)]
            + [sci(row[f"tpr_{s}"], tex=tex) for s in signals]
            + [f"{row['auc']:.3f}", f"{row['lut']:,}".replace(",", "{,}" if tex else ","), f"{row['dsp']}",
               f"{row['latency_ns']:g} ({row['latency_cycles']})", row["method"]])


def _header(view: StudyView, signals: list[str], tex: bool) -> list[str]:
    fpr = fpr_text(view.settings.base_config.get("metrics", {}).get("fpr", 1e-5))
    objective = "avg." if view.settings.tpr == "average" else signal_label(view.settings.tpr, tex)
    return (["Trial", "Architecture", f"TPR@{fpr} ({objective})"] + [signal_label(s, tex) for s in signals]
            + ["AUC", "LUT", "DSP", "Latency [ns] (cycles)", "Method"])


def markdown(view: StudyView, rows: list[dict]) -> str:
    signals = view.signals
    head = _header(view, signals, False)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cells(r, signals, False)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def latex(view: StudyView, rows: list[dict]) -> str:
    signals = view.signals
    head = _header(view, signals, True)
    body = [" & ".join(_cells(r, signals, True)) + r" \\" for r in rows]
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
