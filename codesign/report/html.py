"""The report's pages: index.html (the study) and trial-NNNNN.html (one candidate), Jinja2 with autoescape.

Templates in `codesign/templates/report/`, environment and stylesheet from `codesign.pages`: pages link
only to files beside them (img/, tables/), with the stylesheet inlined, so the directory opens from disk,
from a copy, or from an archive, with no server.
"""

from __future__ import annotations

from pathlib import Path

from codesign.pages import environment, stylesheet
from codesign.plotting import fpr_text, signal_label
from codesign.report.tables import sci
from codesign.search.records import within_errors
from codesign.search.results import Reference, StudyView


def page_name(number: int) -> str:
    return f"trial-{number:05d}.html"


def _env(view: StudyView):
    return environment(sci=sci, signal=signal_label, page=page_name,
                       num=lambda v, d=0: "–" if v is None else f"{v:,.{d}f}",
                       pct=lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f} %",
                       merit=lambda r: sci(view.merit.value(r), view.merit.error(r)))  # a record's, with its error


def write(out: Path, view: StudyView, *, front, rows, designs, pages, figs, candidate_figs, baseline,
          references: list[Reference], importance_note: str, part: str, resources, fpr: float) -> None:
    env = _env(view)
    css = stylesheet()
    counts = view.counts()
    merit, s = view.merit, view.settings
    efficiency = merit.is_efficiency  # an anomaly study's pages; otherwise a compression's (residual RMS)
    objective = f"{s.tpr} TPR at FPR {fpr_text(fpr)}" if efficiency else f"mean {merit.name}"
    common = dict(css=css, view=view, s=s, part=part, resources=resources, fpr=fpr_text(fpr), counts=counts,
                  signals=view.signals, baseline=baseline, pages=pages, merit=merit, efficiency=efficiency,
                  objective=objective)
    feasible_numbers = {r.number for r in front}
    trials = [{"r": r, "front": r.number in feasible_numbers} for r in view.records]
    (out / "index.html").write_text(env.get_template("report/index.html").render(
        **common, front=front, unresolved=within_errors(front, s), rows=rows, designs=designs, figs=figs,
        references=references, importance_note=importance_note, trials=trials, provenance=view.provenance))
    template = env.get_template("report/candidate.html")
    for n, r in pages.items():
        roles = []
        if n in feasible_numbers:
            roles.append("Pareto front")
        if baseline is not None and n == baseline.number:
            roles.append("baseline")
        if any(ref.trial == n for ref in references):
            roles.append("reference")
        util = None
        if resources is not None:
            util = {k: r.resource(k) / max(getattr(resources, k), 1) for k in ("lut", "ff", "dsp", "bram18")}
        (out / page_name(n)).write_text(template.render(
            **common, r=r, roles=roles, figs=candidate_figs.get(n, {}), util=util,
            architecture=view.describe(r.params)))
