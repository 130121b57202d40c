"""`codesign dqm lumisections assess`: how well do the per-lumisection models find anomalous LS?

From a scores file of `codesign dqm lumisections train` (every tag in it, side by side) and the series it
scored, on the test split (the LS after those trained and validated on, in LS order): the ROC (fraction
of anomalous LS flagged vs fraction of good LS flagged) with AUC ± bootstrap σ (Mann-Whitney; good =
label 0, anomalous = label 1; unscored and unlabelled LS left out and counted), the AUC per kind of
anomaly (each kind's LS vs the good LS), what the tag's threshold flags; figures: ROC, MAE vs
lumisection with the threshold and the true anomalous LS, seed 000's "cleaned vs uncleaned" sum of
the histogram over the test LS, and the input vs reconstruction of the highest-scoring test LS (needs
the model in `models/<tag>/` next to the scores file: skipped with a note otherwise). Written into one
directory that appears complete or not at all: `summary.json`, `summary.md`, `index.html` (relative
links only), `img/`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign import escape, outdir, pages, provenance
from codesign.data import lumi_generator as lg
from codesign.dqm import figures, lumi_figures, lumi_model, lumi_series, roc, tags
from codesign.dqm.assess import jsonable
from codesign.dqm.lumi_scores import read_scores, tags_of
from codesign.dqm.lumi_windows import SPLITS, blocks, segments_of
from codesign.drawing import Drawing
from codesign.errors import ConfigError, DataError

log = logging.getLogger("codesign")
MARKER = "summary.json"
KIND = "codesign dqm lumisections assess"
COMMAND = "dqm lumisections assess"
FORMATS = ("png", "pdf", "svg")


@dataclass(frozen=True)
class AssessResult:
    out: Path
    summary: dict
    lines: list[str]
    n_figures: int
    seconds: float


def assess(scores_file, output_dir, series_file=None, tags=None, n_bootstrap: int = 100, seed: int = 0,
           formats=("png",), force: bool = False) -> AssessResult:
    start = time.perf_counter()
    scores_file, out = Path(scores_file), Path(output_dir)
    formats = tuple(dict.fromkeys(str(f).lower() for f in formats)) or ("png",)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"figure format {bad[0]!r}: expected some of {', '.join(FORMATS)}")
    if "png" not in formats:
        formats = ("png", *formats)  # the page shows PNGs
    if n_bootstrap < 0:
        raise ConfigError(f"n_bootstrap {n_bootstrap}: expected a number >= 0")
    where = {"force": force, "inputs": [scores_file, series_file], "flag": "--output_dir"}
    outdir.check(out, COMMAND, **where)
    frame, meta = read_scores(scores_file)
    tags = _select_tags(frame, tags)
    series_path = Path(series_file) if series_file else Path((meta.get("series") or {}).get("file", ""))
    if not series_file and not series_path.name:
        raise ConfigError(f"{scores_file}: names no series file; pass --series")
    m = lumi_series.read(series_path, (meta.get("series") or {}).get("histogram"))
    if not (len(m.run) == len(frame) and np.array_equal(m.run, frame["run"].to_numpy())
            and np.array_equal(m.lumisection, frame["lumisection"].to_numpy())):
        raise DataError(f"{series_path}: holds other lumisections ({len(m.run)}) than {scores_file} ({len(frame)}); "
                        "expected the series the scores were computed on")
    notes: list[str] = []
    split = frame["split"].astype(str).to_numpy()
    labels = frame["label"].to_numpy(dtype=np.int64)
    kinds = frame["kind"].fillna("").astype(str).to_numpy()
    test = split == "test"
    summary: dict = {"kind": KIND, "scores": str(scores_file.resolve()), "series": str(series_path.resolve()),
                     "histogram": m.histogram, "tags": tags,
                     "counts": {"ls": len(frame), **{s: int(np.sum(split == s)) for s in SPLITS},
                                "test_good": int(np.sum(test & (labels == 0))),
                                "test_anomalous": int(np.sum(test & (labels == 1))),
                                "test_unlabelled": int(np.sum(test & (labels != 0) & (labels != 1))),
                                "test_by_kind": {k: int(np.sum(test & (kinds == k))) for k in lg.KINDS}},
                     "settings": {"n_bootstrap": n_bootstrap, "seed": seed, "formats": list(formats)},
                     "per_tag": {}}
    if not summary["counts"]["test_good"] or not summary["counts"]["test_anomalous"]:
        notes.append(f"the test split holds {summary['counts']['test_good']} good and "
                     f"{summary['counts']['test_anomalous']} anomalous labelled LS: no ROC or AUC")
    for i, tag in enumerate(tags):
        summary["per_tag"][tag] = _numbers(frame, meta, tag, test, labels, kinds, n_bootstrap, seed + i)
    recos = {tag: _reconstruction(scores_file.parent, tag, m, frame, test, notes) for tag in tags}
    for tag, r in recos.items():
        summary["per_tag"][tag]["reconstructed"] = None if r is None else {
            k: r[k] for k in ("run", "lumisection", "score", "label", "kind")}
    for note in notes:
        log.warning(note)

    with outdir.staged(out, COMMAND, **where) as tmp:
        img = tmp / "img"
        img.mkdir()
        n_fig = 1 + 3 * len(tags)
        with Drawing(min(os.cpu_count() or 1, 2) if n_fig >= 8 else 1) as d:
            curves = {t: e["roc"] for t, e in summary["per_tag"].items() if e.get("roc")}
            if curves:
                d.draw("roc", figures.roc, curves, f"{m.histogram} per lumisection", img, "roc", formats,
                       xlabel="Fraction of good LS flagged (false-alarm rate)",
                       ylabel="Fraction of anomalous LS flagged", counted="anomalous test LS")
            counts = m.series.counts
            for tag in tags:
                e = summary["per_tag"][tag]
                s = frame[f"score_{tag}"].to_numpy(dtype=np.float64)
                flags = frame[f"flag_{tag}"].to_numpy(dtype=bool)
                d.draw(f"mae/{tag}", lumi_figures.mae_figure, tag, s, e["threshold"], split, kinds, flags, img, f"mae_{tag}",
                       formats)
                d.draw(f"cleaned/{tag}", lumi_figures.cleaned_figure, tag, m.series.edges, m.histogram, counts[test],
                       flags[test], labels[test] == 1, img, f"cleaned_{tag}", formats)
                if recos[tag] is not None:
                    d.draw(f"reco/{tag}", lumi_figures.reco_figure, tag, m.series.edges, m.histogram, recos[tag], img,
                           f"reco_{tag}", formats)
            figs = d.results()
        summary["figures"] = figs
        summary["warnings"] = notes
        summary["seconds"] = round(time.perf_counter() - start, 2)
        summary["provenance"] = provenance.record(seed=seed)
        for tag in tags:  # the curves are in the figure; keep the JSON readable
            if summary["per_tag"][tag].get("roc"):
                summary["per_tag"][tag]["roc"] = {k: v for k, v in summary["per_tag"][tag]["roc"].items()
                                                  if k in ("fpr", "tpr")}
        (tmp / MARKER).write_text(json.dumps(jsonable(summary), indent=1, allow_nan=False) + "\n")
        table = markdown(summary)
        (tmp / "summary.md").write_text(table)
        (tmp / "index.html").write_text(page(summary, table))
    lines = result_lines(summary)
    seconds = time.perf_counter() - start
    lines.append(f"assess: {len(figs)} figures in {seconds:.1f} s -> {out} (open {out / 'index.html'})")
    return AssessResult(out, summary, lines, len(figs), seconds)


# ---------------------------------------------------------------- inputs


def _select_tags(frame, wanted) -> list[str]:
    known = tags_of(frame)
    if not known:
        raise DataError("the scores file has no score_<tag> column; run 'codesign dqm lumisections train' first")
    return tags.select(known, wanted, "tag(s)", "the scores file")


# ---------------------------------------------------------------- numbers


def _numbers(frame, meta: dict, tag: str, test, labels, kinds, n_bootstrap: int, seed: int) -> dict:
    """AUC ± σ, per-kind AUC and what the threshold flags, on the test split."""
    s = frame[f"score_{tag}"].to_numpy(dtype=np.float64)
    flags = frame[f"flag_{tag}"].to_numpy(dtype=bool)
    info = (meta.get("tags") or {}).get(tag, {})
    scored = ~np.isnan(s)
    good, bad = test & scored & (labels == 0), test & scored & (labels == 1)
    e: dict = {"model": info.get("model"), "settings": info.get("settings"), "threshold": info.get("threshold"),
               "threshold_rule": {k: info.get(k) for k in ("rule", "q", "rate", "n_test", "n_good_val") if k in info},
               "n_good": int(good.sum()), "n_anomalous": int(bad.sum()),
               "n_unscored_test": int(np.sum(test & ~scored)),
               "n_flagged_test": int(np.sum(flags & test)),
               "n_flagged_anomalous": int(np.sum(flags & test & (labels == 1))),
               "n_false_alarms": int(np.sum(flags & test & (labels == 0))),
               "n_missed": int(np.sum(~flags & test & (labels == 1))),
               "auc": None, "auc_error": None, "auc_interval": None, "roc": None, "by_kind": {}}
    if e["threshold"] is None:
        e["threshold"] = float(np.nanmin(np.where(flags, s, np.nan))) if flags.any() else None
    if good.any() and bad.any():
        r = roc.with_band(s[good], s[bad], n_bootstrap, seed)
        e["auc"], e["auc_error"], e["auc_interval"] = r["auc"], r["auc_error"], r["auc_interval"]
        e["roc"] = roc.for_plot(r, e["n_good"], e["n_anomalous"])
        for k in lg.KINDS:
            of_kind = test & scored & (kinds == k)
            if not of_kind.any():
                continue
            auc, error = roc.auc_with_error(s[good], s[of_kind], n_bootstrap, seed + 1000)  # each class resampled
            e["by_kind"][k] = {"auc": auc, "auc_error": error, "n": int(of_kind.sum()),
                               "n_flagged": int(np.sum(flags & of_kind))}
    return e


def _reconstruction(directory: Path, tag: str, m: lumi_series.Monitored, frame, test, notes: list[str]) -> dict | None:
    """Input and reconstruction of the highest-scoring test LS, from the tag's model next to the scores file."""
    s = frame[f"score_{tag}"].to_numpy(dtype=np.float64)
    candidates = np.flatnonzero(test & ~np.isnan(s))
    if not candidates.size:
        return None
    mdir = tags.model_dir(directory, tag)
    if not tags.TAG.match(tag) or not (mdir / lumi_model.SETTINGS_FILE).is_file():
        notes.append(f"{tag}: no model in {mdir}: input-vs-reconstruction figure skipped")
        return None
    trained = lumi_model.load(mdir)
    i = int(candidates[np.argmax(s[candidates])])
    segments = segments_of(m.run, frame["split"].astype(str).to_numpy())
    a, b = next((a, b) for a, b in blocks(segments) if a <= i < b)
    sr = m.series
    block = lg.Series(sr.counts[a:b], sr.labels[a:b], sr.kinds[a:b], sr.lumi[a:b], sr.edges)
    x, reco = lumi_model.reconstruct(trained, block)
    kind = str(sr.kinds[i])
    return {"run": int(m.run[i]), "lumisection": int(m.lumisection[i]), "score": float(s[i]),
            "label": int(sr.labels[i]), "kind": kind, "x": x[i - a], "reco": reco[i - a],
            "windows": trained.settings.window if trained.settings.is_lstm else 0}


# ---------------------------------------------------------------- text outputs


def _pm(value, error) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" + (f" ± {error:.3f}" if error is not None and math.isfinite(error) else "")


def _rule(e: dict) -> str:
    r = e.get("threshold_rule") or {}
    if r.get("rule") == "false_alarm":
        return f"false alarm {r.get('rate'):g}"
    if r.get("rule") == "percentile":
        return f"{r.get('q'):g}th pct"
    return "–"


def markdown(summary: dict) -> str:
    """The per-tag table: AUC ± σ overall and per kind (count of test LS), the threshold and what it flags."""
    kinds = [k for k in lg.KINDS if summary["counts"]["test_by_kind"].get(k)]
    head = (["tag", "model", "bits", "AUC"] + [f"AUC {k} ({summary['counts']['test_by_kind'][k]})" for k in kinds]
            + ["threshold", "flagged", "flagged ∩ anomalous", "false alarms"]
            + [f"{k} flagged" for k in kinds])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for tag, e in summary["per_tag"].items():
        bits = (e.get("settings") or {}).get("bits")
        thr = "–" if e["threshold"] is None else f"{e['threshold']:.4g} ({_rule(e)})"
        cells = ([escape.markdown(tag), escape.markdown(str(e.get("model"))), "float" if bits is None else str(bits), _pm(e["auc"], e["auc_error"])]
                 + [_pm(e["by_kind"].get(k, {}).get("auc"), e["by_kind"].get(k, {}).get("auc_error")) for k in kinds]
                 + [thr, str(e["n_flagged_test"]), str(e["n_flagged_anomalous"]), str(e["n_false_alarms"])]
                 + [str(e["by_kind"].get(k, {}).get("n_flagged", "–")) for k in kinds])
        lines.append("| " + " | ".join(cells) + " |")
    c = summary["counts"]
    return (f"Test split: {c['test_good']} good and {c['test_anomalous']} anomalous LS of {c['ls']} "
            f"({c['train']} train, {c['val']} val, {c['test']} test, in LS order). AUC: Mann-Whitney, good vs "
            "anomalous test LS (per kind: that kind's LS vs the good ones); ± = half the bootstrap 68 % interval. "
            "Flagged: test LS above the tag's threshold.\n\n" + "\n".join(lines) + "\n")


def result_lines(summary: dict) -> list[str]:
    lines = []
    for tag, e in summary["per_tag"].items():
        kinds = ", ".join(f"{k} {v['auc']:.3f} ({v['n']}, {v['n_flagged']} flagged)" for k, v in e["by_kind"].items())
        lines.append(f"{tag} [{e.get('model')}]: AUC {_pm(e['auc'], e['auc_error'])}; by kind: {kinds or '–'}; "
                     f"{e['n_flagged_test']} test LS flagged, {e['n_flagged_anomalous']} anomalous, "
                     f"{e['n_false_alarms']} false alarms")
    return lines


def page(summary: dict, table: str) -> str:
    """index.html: the table and every figure; relative links only, so the directory opens from anywhere."""
    rows = [r for r in table.splitlines() if r.startswith("|") and not r.startswith("|---")]
    cells = [[re.sub(r"\\(.)", r"\1", c.strip()) for c in r.strip("|").split(" | ")] for r in rows]
    return pages.render("dqm/lumisections.html", kind=KIND, s=summary, intro=table.split("\n")[0], rows=cells,
                        figs=summary["figures"])
