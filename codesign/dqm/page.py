"""The static page of `codesign dqm assess` (index.html): every figure grouped by histogram, the tables.

Template `codesign/templates/dqm/index.html` (`codesign.pages`); the stylesheet is inlined and every
link is relative to the page (img/, tables/, summary.json), so the directory works opened from disk,
from a copy or from an archive.
A few lines of inline JavaScript add a filter box; without JavaScript the whole page is shown.
"""

from __future__ import annotations

from pathlib import Path

from codesign import pages
from codesign.dqm.figures import stem

FILTERS = dict(
    num=lambda v, d=3: "–" if v is None else str(v) if isinstance(v, str) else f"{v:.{d}f}",
    sci=lambda v: "–" if v is None else str(v) if isinstance(v, str) else f"{v:.3g}",
    pm=lambda v, e, d=3: "–" if v is None else f"{v:.{d}f}" + ("" if e is None else f" ± {e:.{d}f}"))


def _sections(summary: dict, infos: dict) -> list[dict]:
    figs = summary["figures"]
    runs = summary["runs_plotted"]
    out = []
    for h in summary["histograms"]:
        info = infos[h]
        out.append({
            "name": h, "id": f"h-{stem(h)}", "info": info, "search": f"{h} {info.title}".lower(),
            "scores": summary["scores"].get(h, {}), "roc": summary.get("roc", {}).get(h, {}),
            "truth": summary.get("truth", {}).get("by_histogram", {}).get(h, {}),
            "figs": [(figs[k], caption, wide) for k, caption, wide in (
                (f"roc/{h}", "ROC, test runs: good (label 0) vs bad (label 1); band = bootstrap ±1σ", False),
                (f"roc_truth/{h}", "ROC against the generator's truth: runs where this histogram was changed "
                                   "vs runs with no anomaly", False),
                (f"scores_algorithms/{h}", "Score distributions, algorithm basis: algorithms overlaid per run "
                                           "category", True),
                (f"scores_runs/{h}", "Score distributions, runs basis: run categories overlaid per algorithm", True),
            ) if k in figs],
            "reco": [(r, figs[f"reco/{r}/{h}"]) for r in runs if f"reco/{r}/{h}" in figs]})
    return out


def write(out: Path, summary: dict, infos: dict) -> Path:
    page = out / "index.html"
    page.write_text(pages.render(
        "dqm/index.html", FILTERS, css=pages.stylesheet("dqm/assess.css"), s=summary,
        sections=_sections(summary, infos), figs=summary["figures"], settings=summary["settings"], provenance=summary.get("provenance", {}),
        has_tables=(out / "tables" / "false_alarm.md").is_file()))
    return page
