"""The figures of `codesign dqm assess` (and the ROC of `codesign dqm lumisections assess`), in the house HEP
style (`codesign.plotting`).

Each function takes plain data (score arrays, bin contents, computed curves), draws one figure,
saves it in every requested format and closes it; nothing here reads the table, so the functions
run as well in a spawned worker as in-process. Anomaly scores span decades: distributions use
log-spaced bins and a log y axis, and +inf (an empty histogram) is drawn as an overflow bin.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from codesign.plotting import PALETTE, experiment_label, save, save_fixed, style

COLORS = PALETTE
CATEGORY_COLORS = {"train": "0.55", "test": PALETTE[0], "test, good": PALETTE[6], "test, bad": PALETTE[2]}


def stem(histogram: str) -> str:
    """A file name for a histogram: letters and digits plus a short hash (no '/', no '..', no collisions)."""
    readable = re.sub(r"[^A-Za-z0-9]+", "", histogram)[-60:] or "histogram"
    return f"{readable}_{zlib.crc32(histogram.encode()):08x}"


def _label(ax, right: str) -> None:
    experiment_label(ax, right, "DQM", fontsize=16)


def _text(s: str) -> str:
    """A histogram name or ROOT title as literal text (no mathtext surprises from '$')."""
    return s.replace("$", r"\$")


def _short(name: str, width: int = 60) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def log_bins(samples: list[np.ndarray], n_bins: int = 40) -> np.ndarray:
    """Log-spaced edges from the smallest positive to the largest finite score of all samples together."""
    values = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in samples] or [np.zeros(0)])
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return np.geomspace(1e-6, 1.0, n_bins + 1)
    lo, hi = float(positive.min()), float(positive.max())
    if hi <= lo * 1.001:
        lo, hi = lo / 3.0, hi * 3.0
    return np.geomspace(lo, hi * (1 + 1e-9), n_bins + 1)


def binned_density(scores: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(density over `edges` plus one overflow bin for +inf, those edges, n scores): unit area.

    Scores at or below the first edge (zeros included) fall in the first bin; NaN is left out.
    """
    s = np.asarray(scores, dtype=np.float64)
    s = s[~np.isnan(s)]
    ratio = edges[-1] / edges[-2]
    full = np.concatenate([edges, [edges[-1] * ratio ** 2]])
    finite = np.clip(s[np.isfinite(s)], edges[0], edges[-1] * (1 - 1e-12))
    counts = np.histogram(finite, bins=edges)[0].astype(np.float64)
    counts = np.concatenate([counts, [np.sum(np.isposinf(s))]])
    counts[0] += np.sum(np.isneginf(s))
    widths = np.diff(full)
    return (counts / (max(len(s), 1) * widths)), full, len(s)


def score_panels(hist: str, panels: dict[str, dict[str, np.ndarray]], right: str, out_dir: Path, name: str,
                 formats) -> dict[str, str]:
    """Score distributions: one panel per entry of `panels`, its series overlaid (density, log-log)."""
    import mplhep as hep

    edges = log_bins([s for series in panels.values() for s in series.values()])
    n = len(panels)
    ncol = min(n, 2)
    nrow = int(np.ceil(n / ncol))
    with style() as plt:
        width, height = 8.5 * ncol, 6 * nrow
        fig, axes = plt.subplots(nrow, ncol, figsize=(width, height), squeeze=False)
        fig.subplots_adjust(left=1.2 / width, right=1 - 0.25 / width, bottom=0.9 / height, top=1 - 0.7 / height,
                            wspace=0.3, hspace=0.45)
        for ax, (title, series) in zip(axes.flat, panels.items()):
            drawn, low = 0, np.inf
            for i, (label, scores) in enumerate(series.items()):
                density, full, n_runs = binned_density(scores, edges)
                if n_runs == 0:
                    continue
                n_inf = int(np.sum(np.isposinf(scores)))
                color = CATEGORY_COLORS.get(label, COLORS[i % len(COLORS)])
                text = f"{label} ({n_runs} runs" + (f", {n_inf} = +inf" if n_inf else "") + ")"
                hep.histplot(density, full, histtype="step", color=color, linewidth=2, label=text, ax=ax, flow=None)
                positive = density[density > 0]
                low = min(low, positive.min()) if positive.size else low
                drawn += 1
            ax.axvspan(edges[-1], edges[-1] * (edges[-1] / edges[-2]) ** 2, color="0.9", zorder=0)
            ax.text(edges[-1], 0.97, " +inf", transform=ax.get_xaxis_transform(), fontsize=12, va="top", color="0.4")
            ax.set_xscale("log")
            ax.set_yscale("log")
            if np.isfinite(low):
                ax.set_ylim(low / 3, None)
            ax.set_xlabel("Anomaly score", fontsize=18)
            ax.set_ylabel("Density of runs", fontsize=18)
            ax.set_title(title, fontsize=16, loc="left")
            if drawn:
                ax.legend(loc="best", fontsize=12, frameon=True, framealpha=0.85)
            else:
                ax.text(0.5, 0.5, "no runs", transform=ax.transAxes, ha="center", fontsize=16, color="0.4")
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        fig.suptitle(f"codesign DQM — {_text(_short(hist, 90))} — {right}", fontsize=15)
        return save_fixed(fig, out_dir, name, formats)


def _unit(values: np.ndarray) -> np.ndarray:
    total = np.nansum(values)
    return values / total if total > 0 else np.zeros_like(values)


def reconstruction(info, run: int, original: np.ndarray, recos: dict[str, np.ndarray], scores: dict[str, float],
                   out_dir: Path, name: str, formats) -> dict[str, str]:
    """One run's histogram, normalised to unit sum, against each algorithm's reconstruction.

    1D: the original filled, reconstructions as lines. 2D: a row per algorithm of original /
    reconstruction / original - reconstruction. Algorithms without a reconstruction (statistical
    tests) appear with their score only.
    """
    entries = float(np.nansum(original))
    orig = _unit(np.asarray(original, dtype=np.float64))
    score_text = {t: ("+inf (empty)" if np.isposinf(v) else "not scored" if np.isnan(v) else f"{v:.3g}")
                  for t, v in scores.items()}
    title = f"run {run}: {_text(_short(info.name, 70))}"
    if info.ndim == 1:
        return _reco_1d(info, orig, entries, recos, score_text, title, out_dir, name, formats)
    return _reco_2d(info, orig, recos, score_text, title, out_dir, name, formats)


def _reco_1d(info, orig, entries, recos, score_text, title, out_dir, name, formats):
    import mplhep as hep

    edges = np.asarray(info.edges[0])
    with style() as plt:
        fig, ax = plt.subplots(figsize=(10, 7))
        hep.histplot(orig, edges, histtype="fill", color="0.8", label=f"original ({entries:,.0f} entries)", ax=ax,
                     flow=None)
        for i, (tag, reco) in enumerate(recos.items()):
            hep.histplot(reco, edges, histtype="step", color=COLORS[i % len(COLORS)], linewidth=2,
                         label=f"{tag} (score {score_text[tag]})", ax=ax, flow=None)
        for tag in score_text:
            if tag not in recos:
                ax.plot([], [], " ", label=f"{tag}: score {score_text[tag]} (no reconstruction)")
        ax.set_xlabel(_text(info.axis_labels[0]) if info.axis_labels else "bin", fontsize=18)
        ax.set_ylabel("Fraction of entries", fontsize=18)
        ax.set_ylim(0, max(float(np.max(orig, initial=0)), *(float(np.nanmax(r, initial=0)) for r in recos.values()),
                           1e-9) * 1.35)
        ax.legend(loc="upper right", fontsize=12, frameon=True, framealpha=0.85)
        ax.set_title(title, fontsize=14, loc="left", pad=28)
        _label(ax, info.cls)
        return save(fig, out_dir, name, formats)


def _reco_2d(info, orig, recos, score_text, title, out_dir, name, formats):
    xe, ye = (np.asarray(e) for e in info.edges[:2])
    rows = list(recos.items()) or [(None, None)]
    ncol = 3 if recos else 1
    with style() as plt:
        width, height = 7 * ncol, 5.4 * len(rows)
        fig, axes = plt.subplots(len(rows), ncol, figsize=(width, height), squeeze=False)
        fig.subplots_adjust(left=1.0 / width, right=1 - 0.2 / width, bottom=0.8 / height, top=1 - 0.8 / height,
                            wspace=0.35, hspace=0.4)
        vmax = max(float(np.max(orig, initial=0)), 1e-12)
        for row, (tag, reco) in zip(axes, rows):
            panels = [("original", orig, "viridis", (0, vmax))]
            if tag is not None:
                diff = orig - reco
                lim = max(float(np.nanmax(np.abs(diff), initial=0)), 1e-12)
                panels += [(f"{tag} (score {score_text[tag]})", reco, "viridis", (0, vmax)),
                           ("original - reconstruction", diff, "RdBu_r", (-lim, lim))]
            for ax, (label, values, cmap, (lo, hi)) in zip(row, panels):
                mesh = ax.pcolormesh(xe, ye, values.reshape(info.shape).T, cmap=cmap, vmin=lo, vmax=hi)
                fig.colorbar(mesh, ax=ax, pad=0.01)
                ax.set_title(label, fontsize=14, loc="left")
                ax.set_xlabel(_text(info.axis_labels[0]) if info.axis_labels else "x bin", fontsize=15)
                ax.set_ylabel(_text(info.axis_labels[1]) if len(info.axis_labels) > 1 else "y bin", fontsize=15)
                ax.tick_params(labelsize=12)
        others = [f"{t}: {s}" for t, s in score_text.items() if t not in recos]
        fig.suptitle(title + (f"   (no reconstruction: {', '.join(others)})" if others else ""), fontsize=14)
        return save_fixed(fig, out_dir, name, formats)


def roc(curves: dict[str, dict], right: str, out_dir: Path, name: str, formats, *, title: str | None = None,
        xlabel: str = "Fraction of good runs flagged (FPR)", ylabel: str = "Fraction of bad runs flagged (TPR)",
        counted: str = "bad test runs") -> dict[str, str]:
    """ROC per algorithm (or tag) with its bootstrap ±1σ band; AUC ± σ in the legend.

    A curve: fpr, tpr (the exact points), grid, lo, hi (the band on the grid), auc, auc_error, n_good, n_bad.
    `counted` names the bad entries in the legend's title ('12 good, 3 bad test runs').
    """
    with style() as plt:
        fig, ax = plt.subplots(figsize=(9, 8))
        for i, (tag, c) in enumerate(curves.items()):
            color = COLORS[i % len(COLORS)]
            if c.get("lo") is not None:
                ax.fill_between(c["grid"], c["lo"], c["hi"], color=color, alpha=0.25, linewidth=0, step=None)
            err = c.get("auc_error")
            auc_text = f"{c['auc']:.3f}" + (f" ± {err:.3f}" if err is not None and np.isfinite(err) else "")
            ax.plot(c["fpr"], c["tpr"], color=color, linewidth=2, drawstyle="default",
                    label=f"{tag}: AUC {auc_text}")
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="random")
        n = next(iter(curves.values()))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel, fontsize=18)
        ax.set_ylabel(ylabel, fontsize=18)
        if title is not None:
            ax.set_title(_text(_short(title, 70)), fontsize=13, loc="left", pad=28)
        ax.legend(loc="lower right", fontsize=13, frameon=True, framealpha=0.9,
                  title=f"{n['n_good']} good, {n['n_bad']} {counted}; band ±1σ", title_fontsize=12)
        _label(ax, right)
        return save(fig, out_dir, name, formats)


def run_level(curves: dict[str, dict], flag_counts: tuple[int, ...], out_dir: Path, name: str,
              formats) -> dict[str, str]:
    """Run-level aggregation per algorithm: the histogram-flag ROC and the run-flag ROC for each N.

    A curve: n_hist, hist_x, hist_y, hist_area, and run[N] = {x, y, area} for the N it reached.
    """
    n = 1 + len(flag_counts)
    with style() as plt:
        width = 7.5 * n
        fig, axes = plt.subplots(1, n, figsize=(width, 7), squeeze=False)
        fig.subplots_adjust(left=1.1 / width, right=1 - 0.2 / width, bottom=0.12, top=0.88, wspace=0.3)
        ax0 = axes[0, 0]
        h_max = 1
        for i, (tag, c) in enumerate(curves.items()):
            color = COLORS[i % len(COLORS)]
            h = c["n_hist"]  # drawn through 'flag nothing' and 'flag everything', as the areas are
            ax0.plot(np.r_[0, c["hist_x"], h], np.r_[0, c["hist_y"], h], color=color, linewidth=2,
                     label=f"{tag} ({c['n_hist']} hists; area {c['hist_area']:.3f})")
            h_max = max(h_max, c["n_hist"])
            for ax, flags in zip(axes[0, 1:], flag_counts):
                r = c["run"].get(str(flags))
                if r is not None:
                    ax.plot(np.r_[0, r["x"], 1], np.r_[0, r["y"], 1], color=color, linewidth=2,
                            label=f"{tag} (area {r['area']:.3f})")
        ax0.plot([0, h_max], [0, h_max], color="0.6", linestyle="--", linewidth=1)
        ax0.set_xlabel("Mean flags per good run", fontsize=17)
        ax0.set_ylabel("Mean flags per bad run", fontsize=17)
        ax0.set_title("histogram flags", fontsize=15, loc="left")
        for ax, flags in zip(axes[0, 1:], flag_counts):
            ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel(f"Good runs with ≥ {flags} flags", fontsize=17)
            ax.set_ylabel(f"Bad runs with ≥ {flags} flags", fontsize=17)
            ax.set_title(f"run flagged at ≥ {flags} histogram{'s' if flags > 1 else ''}", fontsize=15, loc="left")
        for ax in axes.flat:
            ax.tick_params(labelsize=13)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="lower right", fontsize=12, frameon=True, framealpha=0.9)
        fig.suptitle("Run-level aggregation: one false-flag fraction q for all histograms, swept", fontsize=16)
        return save_fixed(fig, out_dir, name, formats)
