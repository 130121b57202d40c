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

import html
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign import escape, metrics, outdir, provenance
from codesign.data import lumi_generator as lg
from codesign.dqm import assess as assess_mod
from codesign.dqm import lumisections as L
from codesign.drawing import Drawing
from codesign.errors import ConfigError, DataError

log = logging.getLogger("codesign")
MARKER = "summary.json"
KIND = "codesign dqm lumisections assess"
COMMAND = "dqm lumisections assess"
FORMATS = ("png", "pdf", "svg")
GRID = np.linspace(0.0, 1.0, 101)
COLORS = ("#5790fc", "#f89c20", "#e42536", "#964a8b", "#9c9ca1", "#7a21dd", "#2a9d3c", "#a96b59")
KIND_COLORS = {"empty": "#e42536", "noisy": "#964a8b", "shifted": "#f89c20", "burst": "#7a21dd"}


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
    frame, meta = L.read_scores(scores_file)
    tags = _select_tags(frame, tags)
    series_path = Path(series_file) if series_file else Path((meta.get("series") or {}).get("file", ""))
    if not series_file and not series_path.name:
        raise ConfigError(f"{scores_file}: names no series file; pass --series")
    m = L.read(series_path, (meta.get("series") or {}).get("histogram"))
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
                     "counts": {"ls": len(frame), **{s: int(np.sum(split == s)) for s in L.SPLITS},
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
        with Drawing(min(os.cpu_count() or 1, 2) if n_fig >= 8 else 1, _draw) as d:
            curves = {t: e["roc"] for t, e in summary["per_tag"].items() if e.get("roc")}
            if curves:
                d.draw("roc", "roc_figure", curves, m.histogram, img, "roc", formats)
            counts = m.series.counts
            for tag in tags:
                e = summary["per_tag"][tag]
                s = frame[f"score_{tag}"].to_numpy(dtype=np.float64)
                flags = frame[f"flag_{tag}"].to_numpy(dtype=bool)
                d.draw(f"mae/{tag}", "mae_figure", tag, s, e["threshold"], split, kinds, flags, img, f"mae_{tag}",
                       formats)
                d.draw(f"cleaned/{tag}", "cleaned_figure", tag, m.series.edges, m.histogram, counts[test],
                       flags[test], labels[test] == 1, img, f"cleaned_{tag}", formats)
                if recos[tag] is not None:
                    d.draw(f"reco/{tag}", "reco_figure", tag, m.series.edges, m.histogram, recos[tag], img,
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
        (tmp / MARKER).write_text(json.dumps(assess_mod.jsonable(summary), indent=1, allow_nan=False) + "\n")
        table = markdown(summary)
        (tmp / "summary.md").write_text(table)
        (tmp / "index.html").write_text(page(summary, table))
    lines = result_lines(summary)
    seconds = time.perf_counter() - start
    lines.append(f"assess: {len(figs)} figures in {seconds:.1f} s -> {out} (open {out / 'index.html'})")
    return AssessResult(out, summary, lines, len(figs), seconds)


# ---------------------------------------------------------------- inputs


def _select_tags(frame, tags) -> list[str]:
    known = L.tags_of(frame)
    if not known:
        raise DataError("the scores file has no score_<tag> column; run 'codesign dqm lumisections train' first")
    if not tags:
        return known
    tags = list(dict.fromkeys(str(t) for t in tags))
    unknown = [t for t in tags if t not in known]
    if unknown:
        raise DataError(f"unknown tag(s) {', '.join(map(repr, unknown))}; the scores file has: {', '.join(known)}")
    return tags


# ---------------------------------------------------------------- numbers


def _interval(values: np.ndarray) -> tuple[float, list[float]]:
    lo, hi = np.percentile(values, metrics.ONE_SIGMA)
    return float(hi - lo) / 2, [float(lo), float(hi)]


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
        fpr, tpr, _ = metrics.roc_curve(s[good], s[bad])
        e["auc"] = metrics.auc(s[good], s[bad])
        roc = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": e["auc"], "auc_error": None, "grid": None,
               "lo": None, "hi": None, "n_good": e["n_good"], "n_bad": e["n_anomalous"]}
        if n_bootstrap:
            tprs, aucs = metrics.bootstrap_roc(s[good], s[bad], GRID, n_bootstrap, seed)
            lo, hi = np.percentile(tprs, metrics.ONE_SIGMA, axis=0)
            e["auc_error"], e["auc_interval"] = _interval(aucs)
            roc.update(auc_error=e["auc_error"], grid=GRID.tolist(), lo=lo.tolist(), hi=hi.tolist())
        e["roc"] = roc
        for k in lg.KINDS:
            of_kind = test & scored & (kinds == k)
            if not of_kind.any():
                continue
            entry = {"auc": metrics.auc(s[good], s[of_kind]), "auc_error": None, "n": int(of_kind.sum()),
                     "n_flagged": int(np.sum(flags & of_kind))}
            if n_bootstrap:  # each class resampled on its own: a kind of a few LS never vanishes
                _, aucs = metrics.bootstrap_roc(s[good], s[of_kind], GRID[:1], n_bootstrap, seed + 1000)
                entry["auc_error"] = _interval(aucs)[0]
            e["by_kind"][k] = entry
    return e


def _reconstruction(directory: Path, tag: str, m: L.Monitored, frame, test, notes: list[str]) -> dict | None:
    """Input and reconstruction of the highest-scoring test LS, from the tag's model next to the scores file."""
    s = frame[f"score_{tag}"].to_numpy(dtype=np.float64)
    candidates = np.flatnonzero(test & ~np.isnan(s))
    if not candidates.size:
        return None
    mdir = L.model_dir(directory, tag)
    if not L.TAG.match(tag) or not (mdir / L.SETTINGS_FILE).is_file():
        notes.append(f"{tag}: no model in {mdir}: input-vs-reconstruction figure skipped")
        return None
    trained = L.load(mdir)
    i = int(candidates[np.argmax(s[candidates])])
    segments = L.segments_of(m.run, frame["split"].astype(str).to_numpy())
    a, b = next((a, b) for a, b in L.blocks(segments) if a <= i < b)
    sr = m.series
    block = lg.Series(sr.counts[a:b], sr.labels[a:b], sr.kinds[a:b], sr.lumi[a:b], sr.edges)
    x, reco = L.reconstruct(trained, block)
    kind = str(sr.kinds[i])
    return {"run": int(m.run[i]), "lumisection": int(m.lumisection[i]), "score": float(s[i]),
            "label": int(sr.labels[i]), "kind": kind, "x": x[i - a], "reco": reco[i - a],
            "windows": trained.settings.window if trained.settings.is_lstm else 0}


# ---------------------------------------------------------------- figures (module level: spawned workers)


def _draw(name: str, args: tuple) -> dict[str, str]:
    return globals()[name](*args)


def _cms(ax, right: str) -> None:
    import mplhep as hep

    hep.label.exp_label(exp="codesign", llabel="DQM", rlabel=right, ax=ax, loc=0, fontsize=16)


def roc_figure(curves: dict, histogram: str, out_dir: Path, name: str, formats) -> dict[str, str]:
    """Every tag's ROC on the test LS with its bootstrap ±1σ band; AUC ± σ in the legend."""
    from codesign.report.figures import save, style

    with style() as plt:
        fig, ax = plt.subplots(figsize=(9, 8))
        for i, (tag, c) in enumerate(curves.items()):
            color = COLORS[i % len(COLORS)]
            if c.get("lo") is not None:
                ax.fill_between(c["grid"], c["lo"], c["hi"], color=color, alpha=0.25, linewidth=0)
            err = c.get("auc_error")
            text = f"{c['auc']:.3f}" + (f" ± {err:.3f}" if err is not None and math.isfinite(err) else "")
            ax.plot(c["fpr"], c["tpr"], color=color, linewidth=2, label=f"{tag}: AUC {text}")
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="random")
        first = next(iter(curves.values()))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Fraction of good LS flagged (false-alarm rate)", fontsize=18)
        ax.set_ylabel("Fraction of anomalous LS flagged", fontsize=18)
        ax.legend(loc="lower right", fontsize=13, frameon=True, framealpha=0.9,
                  title=f"{first['n_good']} good, {first['n_bad']} anomalous test LS; band ±1σ", title_fontsize=12)
        _cms(ax, f"{histogram} per lumisection")
        return save(fig, out_dir, name, formats)


def mae_figure(tag: str, scores, threshold, split, kinds, flags, out_dir: Path, name: str,
               formats) -> dict[str, str]:
    """Score (MAE) vs LS index over the whole series: splits shaded, threshold, true anomalous LS by kind."""
    from codesign.report.figures import save, style

    scores = np.asarray(scores, dtype=np.float64)
    idx = np.arange(len(scores))
    with style() as plt:
        fig, ax = plt.subplots(figsize=(14, 6.5))
        ax.plot(idx, scores, color="0.35", linewidth=0.7, label="MAE")
        for name_, color in (("train", "0.93"), ("val", "0.85")):
            where = np.flatnonzero(np.asarray(split) == name_)
            if where.size:
                ax.axvspan(where[0] - 0.5, where[-1] + 0.5, color=color, zorder=0, label=f"{name_} LS")
        for k in lg.KINDS:
            sel = (np.asarray(kinds) == k) & np.isfinite(scores)
            if sel.any():
                ax.scatter(idx[sel], scores[sel], s=28, color=KIND_COLORS[k], zorder=3, label=f"{k} ({int(sel.sum())})")
        f = np.asarray(flags, dtype=bool)
        if f.any():
            ax.scatter(idx[f], scores[f], s=110, facecolors="none", edgecolors="k", linewidths=1.2, zorder=4,
                       label=f"flagged ({int(f.sum())})")
        if threshold is not None:
            ax.axhline(threshold, color="#e42536", linestyle="--", linewidth=1.5, label=f"threshold {threshold:.3g}")
        positive = scores[np.isfinite(scores) & (scores > 0)]
        if positive.size:
            ax.set_yscale("log")
        ax.set_xlim(-0.5, len(scores) - 0.5)
        ax.set_xlabel("Lumisection (index in the series)", fontsize=18)
        ax.set_ylabel("MAE (scaled bins)", fontsize=18)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=12, ncol=5, frameon=False)
        _cms(ax, tag)
        return save(fig, out_dir, name, formats)


def cleaned_figure(tag: str, edges, histogram: str, counts, flags, anomalous, out_dir: Path, name: str,
                   formats) -> dict[str, str]:
    """Seed 000's check: the histogram summed over the test LS before and after dropping the flagged LS."""
    from codesign.report.figures import save, style

    counts = np.asarray(counts, dtype=np.float64)
    flags = np.asarray(flags, dtype=bool)
    anomalous = np.asarray(anomalous, dtype=bool)
    centres = 0.5 * (np.asarray(edges[1:]) + np.asarray(edges[:-1]))
    with style() as plt:
        fig, ax = plt.subplots(figsize=(10, 7))
        ax.plot(centres, counts.sum(axis=0), drawstyle="steps-mid", linewidth=1.5, color=COLORS[0],
                label=f"uncleaned ({len(counts)} test LS)")
        ax.plot(centres, counts[~flags].sum(axis=0), drawstyle="steps-mid", linewidth=1.5, color=COLORS[2],
                label=f"cleaned: {int(flags.sum())} flagged LS removed")
        ax.plot(centres, counts[~anomalous].sum(axis=0), drawstyle="steps-mid", linewidth=1.2, color="0.3",
                linestyle=":", label=f"reference: {int(anomalous.sum())} labelled anomalous LS removed")
        ax.set_yscale("log")
        ax.set_xlabel(histogram, fontsize=18)
        ax.set_ylabel("Entries summed over test LS", fontsize=18)
        ax.legend(loc="upper right", fontsize=12, frameon=True, framealpha=0.9)
        _cms(ax, tag)
        return save(fig, out_dir, name, formats)


def reco_figure(tag: str, edges, histogram: str, r: dict, out_dir: Path, name: str, formats) -> dict[str, str]:
    """Seed 000's input vs output for the highest-scoring test LS (min-max scaled units)."""
    from codesign.report.figures import save, style

    centres = 0.5 * (np.asarray(edges[1:]) + np.asarray(edges[:-1]))
    with style() as plt:
        fig, ax = plt.subplots(figsize=(10, 7))
        ax.plot(centres, r["x"], drawstyle="steps-mid", linewidth=1.5, color=COLORS[0], label="input")
        how = f"mean over the {r['windows']}-LS windows covering it" if r["windows"] else "dense AE"
        ax.plot(centres, r["reco"], drawstyle="steps-mid", linewidth=1.5, color=COLORS[2], label=f"output ({how})")
        what = r["kind"] or ("good" if r["label"] == 0 else "unlabelled")
        ax.set_title(f"run {r['run']} LS {r['lumisection']}: {what}, MAE {r['score']:.3g}", fontsize=14, loc="left",
                     pad=28)
        ax.set_xlabel(histogram, fontsize=18)
        ax.set_ylabel("Min-max scaled bin content", fontsize=18)
        ax.legend(loc="upper right", fontsize=12, frameon=True, framealpha=0.9)
        _cms(ax, tag)
        return save(fig, out_dir, name, formats)


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


def _md_to_html(table: str) -> str:
    rows = [r for r in table.splitlines() if r.startswith("|") and not r.startswith("|---")]
    cells = [[html.escape(re.sub(r"\\(.)", r"\1", c.strip())) for c in r.strip("|").split(" | ")] for r in rows]
    if not cells:
        return ""
    head = "".join(f"<th>{c}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
       "table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
       "th{background:#f3f3f3}td:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}"
       "figure{margin:1em 0}figcaption{font-size:14px;color:#555}.note{color:#a60}")


def page(summary: dict, table: str) -> str:
    """index.html: the table and every figure; relative links only, so the directory opens from anywhere."""
    figs = summary["figures"]
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(KIND)}</title><style>{CSS}</style>"
             f"</head><body><h1>Per-lumisection monitoring: {esc(summary['histogram'])}</h1>",
             f"<p>{esc(table.split(chr(10))[0])}</p>", _md_to_html(table),
             "<p><a href='summary.json'>summary.json</a> · <a href='summary.md'>summary.md</a></p>"]
    for note in summary.get("warnings", []):
        parts.append(f"<p class='note'>{esc(note)}</p>")
    captions = {"roc": "ROC on the test LS, all tags; band = bootstrap ±1σ"}
    if "roc" in figs:
        parts.append(f"<figure><img src='img/{esc(figs['roc']['png'])}' alt='ROC'>"
                     f"<figcaption>{captions['roc']}</figcaption></figure>")
    for tag in summary["tags"]:
        parts.append(f"<h2 id='tag-{esc(tag)}'>{esc(tag)}</h2>")
        for key, caption in ((f"mae/{tag}", "MAE per lumisection: threshold (dashed), labelled anomalies by kind, "
                                            "flagged LS circled; train and validation LS shaded"),
                             (f"cleaned/{tag}", "Histogram summed over the test LS, before and after removing the "
                                                "flagged LS (seed 000's cleaned vs uncleaned)"),
                             (f"reco/{tag}", "Input vs reconstruction of the highest-scoring test LS")):
            if key in figs:
                parts.append(f"<figure><img src='img/{esc(figs[key]['png'])}' alt='{esc(key)}'>"
                             f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
