"""The figures of `codesign dqm lumisections assess` (the ROC is `codesign.dqm.figures.roc`), in the house
style (`codesign.plotting`); module-level functions, so that spawned workers can draw them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.data import lumi_generator as lg
from codesign.plotting import PALETTE, experiment_label, save, style

COLORS = PALETTE
KIND_COLORS = {"empty": PALETTE[2], "noisy": PALETTE[3], "shifted": PALETTE[1], "burst": PALETTE[5]}


def mae_figure(tag: str, scores, threshold, split, kinds, flags, out_dir: Path, name: str,
               formats) -> dict[str, str]:
    """Score (MAE) vs LS index over the whole series: splits shaded, threshold, true anomalous LS by kind."""
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
        experiment_label(ax, tag, "DQM", fontsize=16)
        return save(fig, out_dir, name, formats)


def cleaned_figure(tag: str, edges, histogram: str, counts, flags, anomalous, out_dir: Path, name: str,
                   formats) -> dict[str, str]:
    """Seed 000's check: the histogram summed over the test LS before and after dropping the flagged LS."""
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
        experiment_label(ax, tag, "DQM", fontsize=16)
        return save(fig, out_dir, name, formats)


def reco_figure(tag: str, edges, histogram: str, r: dict, out_dir: Path, name: str, formats) -> dict[str, str]:
    """Seed 000's input vs output for the highest-scoring test LS (min-max scaled units)."""
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
        experiment_label(ax, tag, "DQM", fontsize=16)
        return save(fig, out_dir, name, formats)
