"""`codesign dqm assess`: how well do the trained DQM algorithms find bad runs? (AutoDQM_ML's assess.py)

From a table extended by `codesign dqm train` it writes, into one output directory that appears
complete or not at all: score diagnostics, score distributions, original vs reconstructed
histograms, ROC curves with bootstrap bands (good = label 0, bad = label 1, test split only),
false-alarm tables at fixed TPR (Markdown, LaTeX), the run-level aggregation of the AutoDQM paper
(a run flagged by how many of its histograms are over threshold), optionally ROCs against a
generator's truth, `summary.json` with every number, and with `make_webpage` a static page.

Differences from AutoDQM_ML, on purpose: the AUC is the Mann-Whitney statistic of the scores
(AutoDQM integrated independently sorted FPR and TPR arrays); an empty histogram (+inf) ranks above
every finite score instead of breaking the curve; unscored runs (NaN) are left out and counted; the
page links only to files inside the output directory, so it opens from anywhere.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign import escape, metrics, outdir, provenance
from codesign.data.dqm_table import SPLIT, Table, read
from codesign.dqm import figures, page, roc
from codesign.dqm import tags as dqm_tags
from codesign.dqm.figures import stem
from codesign.drawing import Drawing
from codesign.errors import ConfigError, DataError

log = logging.getLogger("codesign")
MARKER = "summary.json"
KIND = "codesign dqm assess"
COMMAND = "dqm assess"
FORMATS = ("png", "pdf", "svg")
SPLITS = ("train", "val", "test", "low_stat", "missing")
MAX_SWEEP = 500  # points of the run-level sweep over the false-flag fraction


@dataclass(frozen=True)
class AssessResult:
    out: Path
    summary: dict
    lines: list[str]  # what the CLI prints
    n_figures: int
    seconds: float


def assess(table_path, output_dir, histograms=None, tags=None, runs=None, n_runs: int = 3, n_top: int = 5,
           tprs=(0.5, 0.8, 0.9, 0.95, 0.99), n_bootstrap: int = 100, seed: int = 0, make_webpage: bool = False,
           flag_counts=(1, 3, 5), truth=None, formats=("png",), force: bool = False) -> AssessResult:
    start = time.perf_counter()
    table_path, out = Path(table_path), Path(output_dir)
    histograms, tags, runs = (_as_list(v) for v in (histograms, tags, runs))
    formats = _check_settings(formats, make_webpage, tprs, flag_counts, n_runs, n_top, n_bootstrap)
    tprs, flag_counts = tuple(float(t) for t in tprs), tuple(sorted({int(n) for n in flag_counts}))
    where = {"force": force, "inputs": [table_path, truth], "flag": "--output_dir"}
    outdir.check(out, COMMAND, **where)
    table = read(table_path)
    tags = _select_tags(table, tags)
    hists = _select_histograms(table, histograms, tags)
    plot_runs = _select_runs(table, hists, runs, n_runs, seed)
    notes: list[str] = []
    truth_map = _read_truth(truth, table, hists, notes) if truth is not None else None

    ctx = _Context(table, hists, tags, {t: _splits(table, t, notes) for t in tags}, tprs, n_bootstrap, seed)
    summary: dict = {"kind": KIND, "input": str(table_path.resolve()), "histograms": hists, "tags": tags,
                     "settings": {"n_runs": n_runs, "n_top": n_top, "tprs": list(tprs), "n_bootstrap": n_bootstrap,
                                  "seed": seed, "flag_counts": list(flag_counts), "formats": list(formats),
                                  "truth": None if truth is None else str(Path(truth).resolve()),
                                  "bootstrap_seeds": "crc32 of 'seed/histogram/tag[/truth]'"},
                     "counts": {t: ctx.counts(t) for t in tags},
                     "runs_plotted": [int(table.runs[i]) for i in plot_runs]}
    summary["scores"], lines = _diagnostics(ctx, n_top)
    labelled = table.labels is not None and any(c["test_good"] and c["test_bad"] for c in summary["counts"].values())
    if not labelled:
        notes.append("no labelled test runs (label 0 and 1 in a test split): ROC, false-alarm and run-level "
                     "results skipped; fetch with good_runs/bad_runs in the datasets JSON to get them")
    for note in notes:
        log.warning(note)
    for line in lines:
        log.debug(line)

    with outdir.staged(out, COMMAND, **where) as tmp:
        (tmp / "img").mkdir()
        (tmp / "tables").mkdir()
        with Drawing(_workers(len(hists) * (3 + len(plot_runs)), formats)) as d:
            _draw_scores(d, ctx, tmp / "img", formats)
            _draw_reconstructions(d, ctx, plot_runs, tmp / "img", formats)
            if labelled:
                summary["roc"], summary["false_alarm"] = _roc_all(d, ctx, tmp / "img", formats)
                summary["run_level"] = _run_level(d, ctx, flag_counts, tmp / "img", formats)
            if truth_map is not None:
                summary["truth"] = _truth_all(d, ctx, truth_map, tmp / "img", formats)
            figs = d.results()
        summary["figures"] = figs
        summary["warnings"] = notes
        lines += _result_lines(summary)
        if labelled:
            (tmp / "tables" / "false_alarm.md").write_text(false_alarm_markdown(summary, hists, tags, tprs))
            (tmp / "tables" / "false_alarm.tex").write_text(false_alarm_latex(summary, hists, tags, tprs))
        summary["seconds"] = round(time.perf_counter() - start, 2)
        summary["provenance"] = provenance.record(seed=seed)
        (tmp / MARKER).write_text(json.dumps(jsonable(summary), indent=1, allow_nan=False))
        if make_webpage:
            page.write(tmp, summary, table.infos)
    seconds = time.perf_counter() - start
    lines.append(f"assess: {len(figs)} figures in {seconds:.1f} s -> {out}"
                 + (f" (open {out / 'index.html'})" if make_webpage else ""))
    return AssessResult(out, summary, lines, len(figs), seconds)


# ---------------------------------------------------------------- inputs


def _as_list(value) -> list | None:
    """One name or run number, or several: a bare string is one histogram, not a list of characters."""
    if value is None:
        return None
    return [value] if isinstance(value, (str, int, np.integer)) else list(value)


def _check_settings(formats, make_webpage, tprs, flag_counts, n_runs, n_top, n_bootstrap) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(str(f).lower() for f in formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"figure format {bad[0]!r}: expected some of {', '.join(FORMATS)}")
    if make_webpage and "png" not in formats:
        formats = ("png", *formats)  # the page shows PNGs
    if not tprs or any(not 0 < float(t) <= 1 for t in tprs):
        raise ConfigError(f"tprs {list(tprs)}: expected efficiencies in (0, 1]")
    if not flag_counts or any(int(n) < 1 for n in flag_counts):
        raise ConfigError(f"flag_counts {list(flag_counts)}: expected numbers of histograms >= 1")
    for name, value in (("n_runs", n_runs), ("n_top", n_top), ("n_bootstrap", n_bootstrap)):
        if int(value) < 0:
            raise ConfigError(f"{name} {value}: expected a number >= 0")
    return formats


def _select_tags(table: Table, tags) -> list[str]:
    known = table.tags()
    if not known:
        raise DataError("the table has no score columns ('<histogram>_score_<tag>'); run 'codesign dqm train' "
                        "on it first")
    return dqm_tags.select(known, tags, "algorithm tag(s)", "the table")


def _select_histograms(table: Table, histograms, tags: list[str]) -> list[str]:
    scored = [h for h in table.histograms if any(table.has_score(h, t) for t in tags)]
    if not histograms:
        return scored
    hists = list(dict.fromkeys(str(h) for h in histograms))
    unknown = [h for h in hists if h not in table.infos]
    if unknown:
        raise DataError(f"unknown histogram(s) {', '.join(map(repr, unknown))}; the table has: "
                        f"{'; '.join(table.histograms)}")
    unscored = [h for h in hists if h not in scored]
    if unscored:
        raise DataError(f"histogram(s) {', '.join(map(repr, unscored))} have no scores for {', '.join(tags)}; "
                        f"scored histograms: {'; '.join(scored)}")
    return hists


def _select_runs(table: Table, hists: list[str], runs, n_runs: int, seed: int) -> np.ndarray:
    """Row indices of the runs whose histograms are drawn: the given run numbers, or `n_runs` random ones."""
    numbers = table.runs
    if runs:
        wanted = [int(r) for r in runs]
        unknown = [r for r in wanted if r not in set(numbers.tolist())]
        if unknown:
            raise DataError(f"run(s) {', '.join(map(str, unknown))} not in the table (it holds {len(numbers)} runs, "
                            f"{numbers.min()} to {numbers.max()})")
        return np.array([int(np.flatnonzero(numbers == r)[0]) for r in dict.fromkeys(wanted)], dtype=np.int64)
    present = np.flatnonzero(np.any([~np.all(np.isnan(table.arrays[h]), axis=1) for h in hists], axis=0))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(present, size=min(n_runs, len(present)), replace=False)).astype(np.int64)


def _splits(table: Table, tag: str, notes: list[str]) -> np.ndarray:
    column = f"{SPLIT}{tag}"
    if column not in table.frame:
        notes.append(f"no {column} column: every run counts as a test run for {tag!r}")
        return np.full(len(table), "test")
    return table.frame[column].fillna("missing").astype(str).to_numpy()


def _read_truth(path, table: Table, hists: list[str], notes: list[str]) -> dict[int, list[tuple[str, set]]] | None:
    """{run: [(kind, affected histograms)]} from a generator's truth.json; None (with a note) if it does not fit."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"truth file {path}: cannot be read ({exc.strerror or exc}); expected the generator's "
                        "truth.json") from None
    except ValueError as exc:
        raise DataError(f"truth file {path}: not JSON ({exc}); expected the generator's truth.json") from None
    try:
        entries = [(int(a["run"]), str(a["kind"]), {str(h) for h in a["histograms"]}) for a in data["anomalies"]]
    except (KeyError, TypeError, ValueError) as exc:
        notes.append(f"truth file {path}: unexpected layout ({type(exc).__name__}: {exc}); expected "
                     '{"anomalies": [{"run", "kind", "histograms"}]}; truth-based ROCs skipped')
        return None
    known = set(table.runs.tolist())
    out: dict[int, list[tuple[str, set]]] = {}
    for run, kind, affected in entries:
        if run in known:
            out.setdefault(run, []).append((kind, affected))
    missing = len({e[0] for e in entries} - known)
    if missing:
        notes.append(f"truth file {path}: {missing} anomalous run(s) are not in the table and are ignored")
    if not out or not any(h in a for v in out.values() for _, a in v for h in hists):
        notes.append(f"truth file {path}: no anomaly in the table's runs touches the assessed histograms; "
                     "truth-based ROCs skipped")
        return None
    return out


# ---------------------------------------------------------------- numbers


@dataclass
class _Context:
    table: Table
    hists: list[str]
    tags: list[str]
    splits: dict[str, np.ndarray]
    tprs: tuple[float, ...]
    n_bootstrap: int
    seed: int

    def labels(self) -> np.ndarray:
        labels = self.table.labels
        return np.full(len(self.table), -1) if labels is None else labels

    def test(self, tag: str) -> np.ndarray:
        return self.splits[tag] == "test"

    def good_bad(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        test, labels = self.test(tag), self.labels()
        return test & (labels == 0), test & (labels == 1)

    def counts(self, tag: str) -> dict[str, int]:
        split, labels = self.splits[tag], self.labels()
        test = split == "test"
        out = {"runs": len(split), **{s: int(np.sum(split == s)) for s in SPLITS}}
        other = ~np.isin(split, SPLITS)
        if other.any():
            out["other"] = int(other.sum())
        out.update(test_good=int(np.sum(test & (labels == 0))), test_bad=int(np.sum(test & (labels == 1))),
                   test_unlabelled=int(np.sum(test & (labels != 0) & (labels != 1))))
        return out

    def seed_for(self, *keys: str) -> int:
        return zlib.crc32("/".join([str(self.seed), *keys]).encode())


def _num(v: float) -> str:
    return "+inf" if np.isposinf(v) else "nan" if np.isnan(v) else f"{v:.3g}"


def _diagnostics(c: _Context, n_top: int) -> tuple[dict, list[str]]:
    """Mean ± std of the finite scores and the runs with the highest scores (+inf first), per histogram x tag."""
    out: dict = {}
    lines: list[str] = []
    runs = c.table.runs
    for h in c.hists:
        for tag in c.tags:
            if not c.table.has_score(h, tag):
                continue
            s = c.table.score(h, tag)
            finite = s[np.isfinite(s)]
            key = np.where(np.isnan(s), -np.inf, s)
            order = [i for i in np.argsort(-key, kind="stable") if not np.isnan(s[i])][:n_top]
            entry = {"mean": float(finite.mean()) if finite.size else None,
                     "std": float(finite.std()) if finite.size else None,
                     "n_finite": int(finite.size), "n_inf": int(np.isinf(s).sum()), "n_nan": int(np.isnan(s).sum()),
                     "top_runs": [{"run": int(runs[i]), "score": float(s[i])} for i in order]}
            out.setdefault(h, {})[tag] = entry
            stats = (f"{entry['mean']:.3g} ± {entry['std']:.3g}" if finite.size else "no finite score")
            lines.append(f"{h} [{tag}]: score {stats} (mean ± std of {entry['n_finite']} finite; "
                         f"{entry['n_inf']} +inf = empty, {entry['n_nan']} NaN = not scored)")
            if order:
                lines.append("    highest: " + ", ".join(f"run {runs[i]} ({_num(s[i])})" for i in order))
    return out, lines


def _roc_entry(c: _Context, good: np.ndarray, bad: np.ndarray, seed: int) -> dict:
    """AUC with bootstrap σ, the exact ROC, its ±1σ band on `roc.GRID` and the false-alarm rates at c.tprs."""
    r = roc.with_band(good, bad, c.n_bootstrap, seed)
    entry = {"auc": r["auc"], "auc_error": r["auc_error"], "auc_interval": r["auc_interval"], "n_good": int(good.size),
             "n_bad": int(bad.size), "n_inf_good": int(np.isinf(good).sum()), "n_inf_bad": int(np.isinf(bad).sum()),
             "seed": seed, "curve": {"fpr": r["fpr"], "tpr": r["tpr"]}, "band": r["band"]}
    far = metrics.false_alarm_at_tpr(good, bad, c.tprs)
    far_err = [None] * len(c.tprs)
    if c.n_bootstrap:
        boot = metrics.bootstrap_false_alarm(good, bad, c.tprs, c.n_bootstrap, seed + 1)
        f_lo, f_hi = np.percentile(boot, metrics.ONE_SIGMA, axis=0)
        far_err = ((f_hi - f_lo) / 2).tolist()
    entry["false_alarm"] = {f"{t:g}": {"fpr": float(f), "error": e} for t, f, e in zip(c.tprs, far, far_err)}
    return entry


def _curve_for_plot(e: dict) -> dict:
    return roc.for_plot({**e["curve"], "band": e["band"], "auc": e["auc"], "auc_error": e["auc_error"]}, e["n_good"],
                        e["n_bad"])


def _split_scores(s: np.ndarray, good: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    nan = np.isnan(s)
    return s[good & ~nan], s[bad & ~nan], {"n_nan_good": int(np.sum(good & nan)), "n_nan_bad": int(np.sum(bad & nan))}


def _roc_all(d: Drawing, c: _Context, img: Path, formats) -> tuple[dict, dict]:
    """Per histogram x tag, test split, good = label 0 vs bad = label 1; one figure per histogram."""
    rocs: dict = {}
    far: dict = {}
    for h in c.hists:
        curves = {}
        for tag in c.tags:
            if not c.table.has_score(h, tag):
                continue
            good_mask, bad_mask = c.good_bad(tag)
            good, bad, nans = _split_scores(c.table.score(h, tag), good_mask, bad_mask)
            if good.size == 0 or bad.size == 0:
                rocs.setdefault(h, {})[tag] = {"skipped": f"{good.size} good and {bad.size} bad scored test runs",
                                               **nans}
                continue
            e = {**_roc_entry(c, good, bad, c.seed_for(h, tag)), **nans}
            rocs.setdefault(h, {})[tag] = e
            far.setdefault(h, {})[tag] = e["false_alarm"]
            curves[tag] = _curve_for_plot(e)
        if curves and formats:
            d.draw(f"roc/{h}", figures.roc, curves, "test runs: good vs bad", img, f"roc_{stem(h)}", formats, title=h)
    return rocs, far


def _run_level(d: Drawing, c: _Context, flag_counts: tuple[int, ...], img: Path, formats) -> dict:
    """The AutoDQM paper's aggregation per tag: histogram-flag ROC and run-flag ROCs, swept over q."""
    out: dict = {}
    curves: dict = {}
    for tag in c.tags:
        hs = [h for h in c.hists if c.table.has_score(h, tag)]
        good_mask, bad_mask = c.good_bad(tag)
        scores = np.column_stack([c.table.score(h, tag) for h in hs])
        good, bad = scores[good_mask], scores[bad_mask]
        if len(good) == 0 or len(bad) == 0:
            out[tag] = {"skipped": f"{len(good)} good and {len(bad)} bad test runs"}
            continue
        q = np.linspace(0.0, 1.0, min(len(good), MAX_SWEEP) + 1)
        thresholds = metrics.flag_thresholds(good, q)
        g, b = metrics.count_flags(good, thresholds), metrics.count_flags(bad, thresholds)
        hx, hy = metrics.histogram_flag_roc(g, b)
        entry = {"histograms": hs, "n_good": len(good), "n_bad": len(bad), "q": q.tolist(),
                 "histogram_flags": {"area": metrics.curve_area(hx, hy, scale=len(hs)), "x": hx.tolist(),
                                     "y": hy.tolist()},
                 "run_flags": {}}
        for n in flag_counts:
            if n > len(hs):
                continue
            rx, ry = metrics.run_flag_roc(g, b, n)
            entry["run_flags"][str(n)] = {"area": metrics.curve_area(rx, ry), "x": rx.tolist(), "y": ry.tolist()}
        rx, ry = metrics.run_flag_roc(g, b, 1)
        entry["false_alarm_n1"] = {f"{t:g}": v for t, v in zip(c.tprs, metrics.fpr_at_tpr_on_curve(rx, ry, c.tprs))}
        out[tag] = entry
        curves[tag] = {"n_hist": len(hs), "hist_x": hx, "hist_y": hy, "hist_area": entry["histogram_flags"]["area"],
                       "run": {k: {"x": np.asarray(v["x"]), "y": np.asarray(v["y"]), "area": v["area"]}
                               for k, v in entry["run_flags"].items()}}
    shown = tuple(n for n in flag_counts if any(str(n) in cv["run"] for cv in curves.values()))
    if curves and formats:
        d.draw("run_level", figures.run_level, curves, shown, img, "run_level", formats)
    return out


def _truth_all(d: Drawing, c: _Context, truth: dict[int, list[tuple[str, set]]], img: Path, formats) -> dict:
    """ROCs where bad = test runs whose histogram was actually changed, good = test runs with no anomaly."""
    runs = c.table.runs
    anomalous = np.isin(runs, list(truth))
    labels = c.labels()
    kinds = sorted({k for v in truth.values() for k, _ in v})
    out: dict = {"by_histogram": {}, "by_kind": {}, "n_anomalous_runs": int(anomalous.sum())}
    for h in c.hists:
        affected = np.array([any(h in a for _, a in truth.get(int(r), [])) for r in runs])
        by_kind = {kind: np.array([any(k == kind and h in a for k, a in truth.get(int(r), [])) for r in runs])
                   for kind in kinds}
        curves = {}
        for tag in c.tags:
            if not c.table.has_score(h, tag):
                continue
            test = c.test(tag)
            good_mask = test & ~anomalous & (labels != 1)
            good, bad, nans = _split_scores(c.table.score(h, tag), good_mask, test & affected)
            if good.size and bad.size:
                e = {**_roc_entry(c, good, bad, c.seed_for(h, tag, "truth")), **nans}
                curves[tag] = _curve_for_plot(e)
                out["by_histogram"].setdefault(h, {})[tag] = e
            for kind, of_kind in by_kind.items():
                _, kind_bad, _ = _split_scores(c.table.score(h, tag), good_mask, test & of_kind)
                if good.size and kind_bad.size:
                    rb, rs = metrics.joint_ranks(good, kind_bad)
                    out["by_kind"].setdefault(kind, {}).setdefault(tag, {})[h] = {
                        "auc": metrics.auc(rb, rs), "n_bad": int(kind_bad.size), "n_good": int(good.size)}
        if curves and formats:
            d.draw(f"roc_truth/{h}", figures.roc, curves, "truth: changed vs clean runs", img,
                   f"roc_truth_{stem(h)}", formats, title=h, ylabel="Fraction of changed runs flagged (TPR)")
    for kind, per_tag in out["by_kind"].items():
        for tag, per_hist in per_tag.items():
            per_tag[tag] = {"mean_auc": float(np.mean([v["auc"] for v in per_hist.values()])),
                            "histograms": per_hist}
    return out


# ---------------------------------------------------------------- figures


def _draw_scores(d: Drawing, c: _Context, img: Path, formats) -> None:
    """Per histogram: algorithm basis (tags overlaid per run category) and runs basis (categories per tag)."""
    if not formats:
        return
    labels = c.labels()
    for h in c.hists:
        tags = [t for t in c.tags if c.table.has_score(h, t)]
        cats: dict[str, dict[str, np.ndarray]] = {}
        for tag in tags:
            s, split = c.table.score(h, tag), c.splits[tag]
            test = split == "test"
            cats[tag] = {"train": s[split == "train"], "test": s[test]}
            if c.table.labels is not None:
                cats[tag].update({"test, good": s[test & (labels == 0)], "test, bad": s[test & (labels == 1)]})
        by_category = {f"{cat} runs": {t: cats[t][cat] for t in tags} for cat in next(iter(cats.values()))}
        by_tag = {t: {cat: v for cat, v in cats[t].items() if cat != "test" or c.table.labels is None} for t in tags}
        d.draw(f"scores_algorithms/{h}", figures.score_panels, h, by_category, "algorithms compared", img,
               f"scores_algorithms_{stem(h)}", formats)
        d.draw(f"scores_runs/{h}", figures.score_panels, h, by_tag, "run categories compared", img,
               f"scores_runs_{stem(h)}", formats)


def _draw_reconstructions(d: Drawing, c: _Context, rows: np.ndarray, img: Path, formats) -> None:
    if not formats:
        return
    for i in rows:
        run = int(c.table.runs[i])
        for h in c.hists:
            original = c.table.arrays[h][i]
            if np.all(np.isnan(original)):
                log.info("run %d has no %s; not drawn", run, h)
                continue
            tags = [t for t in c.tags if c.table.has_score(h, t)]
            recos = {t: c.table.arrays[f"{h}_reco_{t}"][i] for t in tags if f"{h}_reco_{t}" in c.table.arrays}
            recos = {t: r for t, r in recos.items() if not np.all(np.isnan(r))}
            scores = {t: float(c.table.score(h, t)[i]) for t in tags}
            d.draw(f"reco/{run}/{h}", figures.reconstruction, c.table.info(h), run, original, recos, scores, img,
                   f"reco_{run}_{stem(h)}", formats)


def _workers(n_figures: int, formats) -> int:
    """A pool only pays for itself with enough figures: spawning a worker costs ~2 s of imports."""
    return min(os.cpu_count() or 1, 4) if formats and n_figures >= 12 else 1


# ---------------------------------------------------------------- text outputs


def _result_lines(summary: dict) -> list[str]:
    lines = []
    for h, per_tag in summary.get("roc", {}).items():
        for tag, e in per_tag.items():
            if "auc" in e:
                err = f" ± {e['auc_error']:.3f}" if e["auc_error"] is not None else ""
                far = ", ".join(f"{t}: {v['fpr']:.3f}" for t, v in e["false_alarm"].items())
                lines.append(f"{h} [{tag}]: AUC {e['auc']:.3f}{err} ({e['n_good']} good, {e['n_bad']} bad test runs);"
                             f" FPR at TPR {far}")
    for tag, e in summary.get("run_level", {}).items():
        if "histogram_flags" in e:
            runs = ", ".join(f"N>={n}: {v['area']:.3f}" for n, v in e["run_flags"].items())
            lines.append(f"run level [{tag}]: {len(e['histograms'])} histograms; histogram-flag area "
                         f"{e['histogram_flags']['area']:.3f}; run-flag areas {runs}")
    for kind, per_tag in summary.get("truth", {}).get("by_kind", {}).items():
        lines.append(f"truth [{kind}]: mean AUC over changed histograms "
                     + ", ".join(f"{t} {v['mean_auc']:.3f}" for t, v in per_tag.items()))
    return lines


def _far_rows(summary: dict, hists: list[str], tags: list[str], tprs) -> list[tuple[str, str, str, list]]:
    """(histogram, tag, AUC text, [(fpr, error) per TPR]) for every assessed pair."""
    rows = []
    for h in hists:
        for tag in tags:
            e = summary.get("roc", {}).get(h, {}).get(tag)
            if not e or "auc" not in e:
                continue
            auc = (e["auc"], e["auc_error"])
            rows.append((h, tag, auc, [(e["false_alarm"][f"{t:g}"]["fpr"], e["false_alarm"][f"{t:g}"]["error"])
                                       for t in tprs]))
    return rows


def _pm(value: float, error: float | None, tex: bool = False) -> str:
    if error is None or not math.isfinite(error):
        return f"{value:.3f}"
    return f"${value:.3f} \\pm {error:.3f}$" if tex else f"{value:.3f} ± {error:.3f}"


def false_alarm_markdown(summary: dict, hists: list[str], tags: list[str], tprs) -> str:
    head = ["Histogram", "Algorithm", "AUC"] + [f"FPR @ TPR {t:g}" for t in tprs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for h, tag, auc, fars in _far_rows(summary, hists, tags, tprs):
        cells = [escape.markdown(h), escape.markdown(tag), _pm(*auc)] + [_pm(f, e) for f, e in fars]
        lines.append("| " + " | ".join(cells) + " |")
    return ("False-alarm rate (fraction of good test runs flagged) at the threshold keeping each fraction of bad "
            "test runs; ± = half the bootstrap 68 % interval\n\n" + "\n".join(lines) + "\n")


def false_alarm_latex(summary: dict, hists: list[str], tags: list[str], tprs) -> str:
    head = ["Histogram", "Algorithm", "AUC"] + [f"FPR @ TPR {t:g}" for t in tprs]
    body = [" & ".join([escape.tex(h), escape.tex(tag), _pm(*auc, tex=True)] + [_pm(f, e, tex=True) for f, e in fars])
            + r" \\" for h, tag, auc, fars in _far_rows(summary, hists, tags, tprs)]
    return "\n".join([
        "% False-alarm rates of codesign dqm assess; needs \\usepackage{booktabs}",
        r"\begin{tabular}{p{6cm} l " + "c" * (len(head) - 2) + "}",
        r"\toprule",
        " & ".join(escape.tex(x) for x in head) + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        ""])


def jsonable(value):
    """Strict JSON: NaN -> null, ±inf -> "inf"/"-inf", numpy scalars and arrays -> Python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else v
    return value
