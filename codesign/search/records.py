"""Trial and reference records of a run directory: reading and writing them, the front, tables.

One JSON per finished trial (`trials/NNNNN.json`) and per reference design (`references/<label>.json`);
the functions here read and rank them, so the driver, the report and the export agree on a front.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from codesign.search.pareto import front_mask, to_minimise
from codesign.search.settings import Settings

log = logging.getLogger("codesign")
TRIALS_DIR = "trials"
REFERENCES_DIR = "references"


def read_trials(run_dir: Path) -> dict[int, dict]:
    out = {}
    for path in sorted((run_dir / TRIALS_DIR).glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError:
            log.warning("%s: corrupt trial record, ignored (the trial will be evaluated again)", path)
            continue
        out[int(rec["number"])] = rec
    return out


def save_record(run_dir: Path, record: dict) -> None:
    if "reference" in record:
        path = reference_path(run_dir, record["reference"])
    else:
        path = run_dir / TRIALS_DIR / f"{record['number']:05d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    tmp.replace(path)


def reference_path(run_dir: Path, label: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower() or "reference"
    return run_dir / REFERENCES_DIR / f"{slug}.json"


def read_references(run_dir: Path) -> list[dict]:
    """The study's scored reference designs (`references/*.json`), in the order the space lists them."""
    out = []
    for path in sorted((Path(run_dir) / REFERENCES_DIR).glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            log.warning("%s: corrupt reference record, ignored (it will be scored again)", path)
    return out


def front(records: list[dict], settings: Settings, feasible_only: bool = True) -> list[dict]:
    """The non-dominated records (by the study's objectives), best figure of merit first."""
    done = [r for r in records if r["status"] == "complete" and (r.get("feasible") or not feasible_only)
            and "reused_from" not in r]
    if not done:
        return []
    values = to_minimise(np.array([settings.objective_values(r) for r in done]), settings.directions)
    mask = front_mask(values)
    return sorted((r for r, m in zip(done, mask) if m), key=lambda r: -settings.merit.goodness(r))


def within_errors(rows: list[dict], settings: Settings) -> dict[int, int]:
    """Front points the test statistics do not separate from a cheaper one: {number: that cheaper point's number}.

    The front ranks central values; a point whose figure of merit exceeds the best cheaper point's by less than
    their two errors together buys its extra resources for nothing measurable. Two-objective fronts only (one
    figure of merit and the resource); with per-signal or latency objectives there is no single order to walk.
    """
    if settings.per_signal or settings.latency == "objective":
        return {}
    merit, out, anchor = settings.merit, {}, None
    for r in sorted(rows, key=lambda r: (r["estimate"][settings.resource], -merit.goodness(r))):
        if anchor is not None and merit.goodness(r) - merit.goodness(anchor) <= merit.error(r) + merit.error(anchor):
            out[r["number"]] = anchor["number"]
        else:
            anchor = r
    return out


def closest(records: list[dict], n: int = 3) -> list[dict]:
    """When nothing fits: the candidates that miss the budget by the least (sum of relative excesses)."""
    done = [r for r in records if r["status"] == "complete"]
    return sorted(done, key=lambda r: sum(max(v, 0.0) for v in r.get("violations", {}).values()))[:n]


def table(records: list[dict]) -> "pandas.DataFrame":  # noqa: F821
    import pandas as pd

    rows = []
    for r in records:
        est = r.get("estimate") or {}
        row = {"number": r.get("number"), "reference": r.get("reference"), "status": r["status"],
               "feasible": r.get("feasible", False),
               "reason": r.get("reason", ""), "key": r.get("key"), "reused_from": r.get("reused_from"),
               **{f"param_{k}": v for k, v in r["params"].items()},
               **_merit_columns(r),
               **{k: est.get(k) for k in ("lut", "ff", "dsp", "bram18", "latency_cycles", "latency_ns", "ii")},
               "method": est.get("method"), **{f"seconds_{k}": v for k, v in (r.get("seconds") or {}).items()}}
        rows.append(row)
    return pd.DataFrame(rows)


def _merit_columns(r: dict) -> dict:
    """The figure of merit and its per-signal (AUC, TPR) or per-variable (residual RMS) parts, flat."""
    if "rms" in r:
        return {"rms": r.get("rms"), "rms_error": r.get("rms_error"),
                **{f"rms_{k}": v.get("rms") for k, v in (r.get("residuals") or {}).items()}}
    return {"tpr": r.get("tpr"), "tpr_error": r.get("tpr_error"), "auc": r.get("auc"),
            **{f"tpr_{k}": v["tpr"] for k, v in (r.get("scores") or {}).items()},
            **{f"auc_{k}": v["auc"] for k, v in (r.get("scores") or {}).items()}}


def inputs_tails(references: list[dict]) -> dict[str, dict]:
    """The highest-scoring background events of the inputs alone (`inputs:` references), by preprocessing."""
    return {r["inputs"]: r["tail"] for r in references if r.get("inputs") and r.get("tail")}


def shared_with_inputs(record: dict, tails: dict[str, dict], settings: Settings) -> float | None:
    """Fraction of the record's 100 highest background events that the inputs alone (same preprocessing) also
    put on top: 1.0 means the network decides nothing of the threshold; None where there is nothing to compare."""
    from codesign.evaluation import tail_overlap

    if record.get("tail_shared_with_inputs") is not None:  # measured by the objective itself
        return record["tail_shared_with_inputs"]
    kind = record.get("inputs") or record["params"].get("preprocessing",
                                                        settings.base_config.get("preprocessing"))
    if "tail" not in record or kind not in tails:
        return None
    return tail_overlap(record["tail"], tails[kind])


def format_front(rows: list[dict], settings: Settings, tails: dict[str, dict] | None = None,
                 resolve: bool = False) -> str:
    """The rows as a table: parameters, figure of merit, per-signal TPRs (anomaly studies), resources; with the
    inputs-alone tails, the share of each row's tail that the inputs alone decide ('tail=in'); with `resolve`
    (a front), which cheaper point each row is within errors of ('within', see `within_errors`)."""
    if not rows:
        return "(empty)"
    merit = settings.merit
    names = sorted({k for r in rows for k in r["params"]}, key=lambda k: (not k.startswith("depth"), k))
    components = [k for k in dict.fromkeys(k for r in rows for k in merit.components(r))] if merit.key == "tpr" else []
    label = max([4] + [len(str(r.get("reference", ""))) for r in rows])
    head = " ".join(f"{n[:12]:>12s}" for n in names)
    third = "AUC" if merit.key == "tpr" else ""
    shared = {id(r): shared_with_inputs(r, tails, settings) for r in rows} if tails else {}
    same = within_errors([r for r in rows if "number" in r and r.get("estimate")], settings) if resolve else {}
    extra = f" {'tail=in':>7s}" if shared else ""
    extra += f" {'within':>7s}" if same else ""
    lines = [f"{'#':>{label}s} {head} {merit.name[:12]:>12s} {'±':>8s} {third:>6s}"
             + "".join(f" {c[:10]:>10s}" for c in components) + extra
             + f" {'LUT':>8s} {'FF':>8s} {'DSP':>6s} {'BRAM18':>6s} {'ns':>7s}"]
    for r in rows:
        est = r.get("estimate")
        vals = " ".join(f"{str(r['params'].get(n, '-'))[:12]:>12s}" for n in names)
        auc = f"{r['auc']:6.3f}" if merit.key == "tpr" else " " * 6
        per = "".join(f" {merit.components(r)[c]['tpr']:10.2e}" if c in merit.components(r) else f" {'-':>10s}"
                      for c in components)
        res = (f" {est['lut']:8.0f} {est['ff']:8.0f} {est['dsp']:6.0f} {est['bram18']:6.0f} {est['latency_ns']:7.1f}"
               if est else f" {'-':>8s} {'-':>8s} {'-':>6s} {'-':>6s} {'-':>7s}")
        name = r["reference"] if "reference" in r else str(r["number"])
        share = shared.get(id(r))
        per += (f" {share:7.0%}" if share is not None else f" {'-':>7s}") if shared else ""
        per += (f" {'≈' + str(same[r['number']]) if r.get('number') in same else '-':>7s}") if same else ""
        lines.append(f"{name:>{label}s} {vals} {merit.value(r):12.3e} {merit.error(r):8.1e} {auc}{per}{res}")
    return "\n".join(lines)


def write_results(run_dir: Path, records: list[dict], settings: Settings) -> dict[str, Path]:
    df = table(records)
    paths = {"csv": run_dir / "trials.csv", "parquet": run_dir / "trials.parquet", "front": run_dir / "front.csv"}
    df.to_csv(paths["csv"], index=False)
    df.to_parquet(paths["parquet"], index=False)
    numbers = {r["number"] for r in front(records, settings)}
    df[df["number"].isin(numbers)].to_csv(paths["front"], index=False)
    references = read_references(run_dir)
    if references:
        paths["references"] = run_dir / "references.csv"
        table(references).to_csv(paths["references"], index=False)
    return paths
