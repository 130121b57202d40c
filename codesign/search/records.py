"""Trial and reference records: the front, the results tables.

The records are read and written by `rundir.RunDir`; the functions here rank and tabulate them,
so the driver, the report and the export agree on a front.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.evaluation import tail_overlap
from codesign.merit import Merit
from codesign.search.pareto import front_mask, to_minimise
from codesign.search.rundir import RunDir
from codesign.search.settings import Settings
from codesign.search.trial import Status, TrialRecord


def front(records: list[TrialRecord], settings: Settings, feasible_only: bool = True) -> list[TrialRecord]:
    """The non-dominated records (by the study's objectives), best figure of merit first."""
    done = [r for r in records if r.complete and (r.feasible or not feasible_only) and r.reused_from is None]
    if not done:
        return []
    values = to_minimise(np.array([settings.objective_values(r) for r in done]), settings.directions)
    mask = front_mask(values)
    return sorted((r for r, m in zip(done, mask) if m), key=lambda r: -settings.merit.goodness(r))


def feasibility(record: TrialRecord, settings: Settings) -> TrialRecord:
    """The record with its budget violations and whether it is within the budget (a complete one only)."""
    if not record.complete:
        return record.with_(feasible=False, violations={})
    violations = settings.violations(record)
    return record.with_(feasible=all(v <= 0 for v in violations.values()), violations=violations)


def within_errors(rows: list[TrialRecord], settings: Settings) -> dict[int, int]:
    """Front points the test statistics do not separate from a cheaper one: {number: that cheaper point's number}.

    The front ranks central values; a point whose figure of merit exceeds the best cheaper point's by less than
    their two errors together buys its extra resources for nothing measurable. Two-objective fronts only (one
    figure of merit and the resource); with per-signal or latency objectives there is no single order to walk.
    """
    if settings.per_signal or settings.latency == "objective":
        return {}
    merit, out, anchor = settings.merit, {}, None
    for r in sorted(rows, key=lambda r: (r.resource(settings.resource), -merit.goodness(r))):
        if anchor is not None and merit.goodness(r) - merit.goodness(anchor) <= merit.error(r) + merit.error(anchor):
            out[r.number] = anchor.number
        else:
            anchor = r
    return out


def closest(records: list[TrialRecord], n: int = 3) -> list[TrialRecord]:
    """When nothing fits: the candidates that miss the budget by the least (sum of relative excesses)."""
    done = [r for r in records if r.complete]
    return sorted(done, key=lambda r: sum(max(v, 0.0) for v in r.violations.values()))[:n]


def table(records: list[TrialRecord], merit: Merit) -> "pandas.DataFrame":  # noqa: F821
    import pandas as pd

    rows = []
    for r in records:
        est = r.estimate or {}
        row = {"number": r.number, "reference": r.reference, "status": r.status.value, "feasible": r.feasible,
               "reason": r.reason, "key": r.key, "reused_from": r.reused_from,
               **{f"param_{k}": v for k, v in r.params.items()},
               **_merit_columns(r, merit),
               **{k: est.get(k) for k in ("lut", "ff", "dsp", "bram18", "latency_cycles", "latency_ns", "ii")},
               "method": est.get("method"), **{f"seconds_{k}": v for k, v in r.seconds.items()}}
        rows.append(row)
    return pd.DataFrame(rows)


def _merit_columns(r: TrialRecord, merit: Merit) -> dict:
    """The figure of merit and its per-signal (AUC, TPR) or per-variable (e.g. residual RMS) parts, flat."""
    k = merit.key
    parts = merit.components(r)
    if not merit.is_efficiency:
        return {k: r.get(k), f"{k}_error": r.get(f"{k}_error"), **{f"{k}_{c}": v.get(k) for c, v in parts.items()}}
    return {"tpr": r.get("tpr"), "tpr_error": r.get("tpr_error"), "auc": r.get("auc"),
            **{f"tpr_{c}": v["tpr"] for c, v in parts.items()}, **{f"auc_{c}": v["auc"] for c, v in parts.items()}}


def inputs_tails(references: list[TrialRecord]) -> dict[str, dict]:
    """The highest-scoring background events of the inputs alone (`inputs:` references), by preprocessing."""
    return {r.run["inputs"]: r.get("tail") for r in references if r.run.get("inputs") and r.get("tail")}


def shared_with_inputs(record: TrialRecord, tails: dict[str, dict], settings: Settings) -> float | None:
    """Fraction of the record's 100 highest background events that the inputs alone (same preprocessing) also
    put on top: 1.0 means the network decides nothing of the threshold; None where there is nothing to compare."""
    if record.get("tail_shared_with_inputs") is not None:  # measured by the objective itself
        return record.get("tail_shared_with_inputs")
    kind = record.run.get("inputs") or record.params.get("preprocessing", settings.base_config.get("preprocessing"))
    if record.get("tail") is None or kind not in tails:
        return None
    return tail_overlap(record.get("tail"), tails[kind])


def _param(value) -> str:
    """A parameter in a 12-character column: floats to 4 significant digits (a step of 0.05, an HGQ beta)."""
    if isinstance(value, float):
        return f"{value:.4g}"  # 0.15, not 0.1500000000; a beta as 1.796e-05
    return str(value)[:12]


def format_front(rows: list[TrialRecord], settings: Settings, tails: dict[str, dict] | None = None,
                 resolve: bool = False) -> str:
    """The rows as a table: parameters, figure of merit, per-signal TPRs (anomaly studies), resources; with the
    inputs-alone tails, the share of each row's tail that the inputs alone decide ('tail=in'); with `resolve`
    (a front), which cheaper point each row is within errors of ('within', see `within_errors`)."""
    if not rows:
        return "(empty)"
    merit = settings.merit
    names = sorted({k for r in rows for k in r.params}, key=lambda k: (not k.startswith("depth"), k))
    components = [k for k in dict.fromkeys(k for r in rows for k in merit.components(r))] if merit.is_efficiency \
        else []
    label = max([4] + [len(r.reference or "") for r in rows])
    head = " ".join(f"{n[:12]:>12s}" for n in names)
    third = "AUC" if merit.is_efficiency else ""
    shared = {id(r): shared_with_inputs(r, tails, settings) for r in rows} if tails else {}
    same = within_errors([r for r in rows if r.number is not None and r.estimate], settings) if resolve else {}
    extra = f" {'tail=in':>7s}" if shared else ""
    extra += f" {'within':>7s}" if same else ""
    lines = [f"{'#':>{label}s} {head} {merit.name[:12]:>12s} {'±':>8s} {third:>6s}"
             + "".join(f" {c[:10]:>10s}" for c in components) + extra
             + f" {'LUT':>8s} {'FF':>8s} {'DSP':>6s} {'BRAM18':>6s} {'ns':>7s} {'EBOPs':>8s}"]
    for r in rows:
        est = r.estimate
        vals = " ".join(f"{_param(r.params.get(n, '-')):>12s}" for n in names)
        auc = f"{r.get('auc'):6.3f}" if merit.is_efficiency else " " * 6
        per = "".join(f" {merit.components(r)[c]['tpr']:10.2e}" if c in merit.components(r) else f" {'-':>10s}"
                      for c in components)
        res = (f" {est['lut']:8.0f} {est['ff']:8.0f} {est['dsp']:6.0f} {est['bram18']:6.0f} {est['latency_ns']:7.1f}"
               f" {est.get('ebops', float('nan')):8.0f}" if est else f" {'-':>8s} {'-':>8s} {'-':>6s} {'-':>6s} {'-':>7s}"
               f" {'-':>8s}")
        name = r.label
        share = shared.get(id(r))
        per += (f" {share:7.0%}" if share is not None else f" {'-':>7s}") if shared else ""
        per += (f" {'≈' + str(same[r.number]) if r.number in same else '-':>7s}") if same else ""
        lines.append(f"{name:>{label}s} {vals} {merit.value(r):12.3e} {merit.error(r):8.1e} {auc}{per}{res}")
    return "\n".join(lines)


def write_results(run_dir: Path, records: list[TrialRecord], settings: Settings) -> dict[str, Path]:
    df = table(records, settings.merit)
    paths = {"csv": run_dir / "trials.csv", "parquet": run_dir / "trials.parquet", "front": run_dir / "front.csv"}
    df.to_csv(paths["csv"], index=False)
    df.to_parquet(paths["parquet"], index=False)
    numbers = {r.number for r in front(records, settings)}
    df[df["number"].isin(numbers)].to_csv(paths["front"], index=False)
    references = RunDir(run_dir).read_references()
    if references:
        paths["references"] = run_dir / "references.csv"
        table(references, settings.merit).to_csv(paths["references"], index=False)
    return paths


def summary(records: list[TrialRecord], all_references: list[TrialRecord], settings: Settings
            ) -> tuple[str, list[TrialRecord]]:
    """What `codesign search` prints at the end, and the feasible front: counts, failures, the front (or the
    candidates closest to the budget), the reference designs and how much of each tail the inputs alone decide."""
    lines: list[str] = []
    best = front(records, settings)
    complete = sum(r.complete for r in records)
    failed = [r for r in records if r.status is Status.FAILED]
    lines.append(f"{len(records)} trials: {complete} complete, {len(failed)} failed, "
                 f"{sum(r.feasible for r in records)} within budget")
    for r in failed[:5]:
        lines.append(f"  trial {r.number} failed: {r.reason[:160]}")
    references = [r for r in all_references if r.complete]
    tails = inputs_tails(references)
    if best:
        lines.append("Pareto front (feasible):")
        lines.append(format_front(best, settings, tails, resolve=True))
        same = within_errors(best, settings)
        if same:
            lines.append(f"within=≈N: {len(same)} of {len(best)} front points do not beat cheaper point N beyond both "
                         "errors; the test statistics do not separate them")
    else:
        lines.append("no candidate meets the budget; the closest:")
        lines.append(format_front(closest(records), settings, tails))
    if references:
        lines.append("reference designs, on the same events:")
        lines.append(format_front(references, settings, tails))
    if tails:
        lines.append("tail=in: share of the 100 highest-scoring background events that the inputs alone (no network, "
                     "same preprocessing) also put on top; 100 % = the network decides nothing of the threshold")
    for r in all_references:
        if not r.complete:
            lines.append(f"  reference {r.reference} failed: {r.reason[:160]}")
    return "\n".join(lines), best
