"""The report's figures, in HEP style (mplhep, `codesign.plotting`): Pareto fronts, ROC curves, score
distributions, search insight (a compression's residual figures are in `codesign.compression_figures`).

Each function takes plain data (a `Points` table, a trial record's curves or histograms),
draws one figure and saves it in every requested format; nothing here reads files. The
figure of merit (an efficiency, or a compression's residual RMS) is on a log axis, as trigger
physicists plot efficiencies; an efficiency of zero (no signal event above the threshold) is
drawn as an upper limit at one signal event, never dropped. An RMS is never zero.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.plotting import PALETTE, experiment_label, figure_title, fpr_text, save, style

AXES = {  # x axis of a Pareto plot: (column, label, scale)
    "lut": ("lut", "LUTs (estimated, Vivado synthesis)", "log"),
    "dsp": ("dsp", "DSPs (estimated)", "symlog"),
    "latency": ("latency_ns", "Latency [ns] (estimated)", "linear"),
}
BUDGET_KEYS = {"lut": "lut", "dsp": "dsp", "latency": "latency_ns"}
COLORS = {"front": PALETTE[2], "feasible": PALETTE[0], "infeasible": PALETTE[4], "baseline": "black",
          "reference": PALETTE[6]}
TINY = 1e-9  # the floor of a merit that is never zero (an RMS): a positive number for the log axis, never reached


@dataclass(frozen=True)
class Points:
    """One row per complete trial; merit columns (TPR or RMS) per signal or variable ('' = the objective)."""

    number: np.ndarray
    feasible: np.ndarray
    front: np.ndarray
    columns: dict[str, np.ndarray]  # lut, dsp, ff, latency_ns, y/<sig>, lo/<sig>, hi/<sig>, floor/<sig>

    def y(self, signal: str = ""):
        """(value, error down, error up, floor) of the merit of one signal or variable."""
        c = self.columns
        return c[f"y/{signal}"], c[f"lo/{signal}"], c[f"hi/{signal}"], c[f"floor/{signal}"]


@dataclass(frozen=True)
class Compared:
    """Another study's front, drawn beside this one's (`codesign report --compare`)."""

    label: str
    points: Points  # its front only


COMPARED_STYLES = [(PALETTE[5], "P"), (PALETTE[3], "X"), (PALETTE[1], "v")]


@dataclass(frozen=True)
class Marker:
    """A marked design: the baseline or a reference (x columns and merit columns as for `Points`)."""

    label: str
    values: dict[str, float]
    kind: str = "reference"  # or 'baseline'


# ---------------------------------------------------------------- Pareto plots


def _merit_points(ax, x, y, lo, hi, floor, **kw):
    """Points with asymmetric error bars; zeros as upper limits at the floor (the one-event efficiency)."""
    zero = y <= 0
    label = kw.pop("label", None)
    if (~zero).any():
        ax.errorbar(x[~zero], y[~zero], yerr=[np.minimum(lo[~zero], y[~zero] * 0.999), hi[~zero]], label=label,
                    **kw)
        label = None
    if zero.any():
        marker_kw = {k: v for k, v in kw.items() if k not in ("marker", "markersize", "capsize", "elinewidth")}
        ax.errorbar(x[zero], floor[zero], yerr=[0.5 * floor[zero], np.zeros(zero.sum())], uplims=True,
                    marker="_", markersize=10, label=label, **marker_kw)


def _pareto_axes(ax, points: Points, axis: str, signal: str, budget: dict, markers: list[Marker],
                 labels: bool, connect: bool, compared: tuple[Compared, ...] = ()) -> None:
    col, xlabel, scale = AXES[axis]
    x = points.columns[col]
    common = dict(linestyle="none", capsize=0, elinewidth=1)
    for other, (color, shape) in zip(compared, itertools.cycle(COMPARED_STYLES)):
        ox = other.points.columns[col]
        oy, olo, ohi, ofloor = other.points.y(signal)
        order = np.argsort(ox)
        if connect:
            ax.step(ox[order], np.maximum(oy, ofloor)[order], where="post", color=color, linewidth=1.5, alpha=0.6)
        _merit_points(ax, ox, oy, olo, ohi, ofloor, marker=shape, markersize=11, color=color, label=other.label,
                      zorder=4, **common)
    x = np.concatenate([x, *[o.points.columns[col] for o in compared]]) if compared else x  # for the limits
    if scale == "symlog" and (x > 0).all():  # symlog only to show zeros (DSP-free designs)
        scale = "log"
    all_x, x = x, points.columns[col]
    y, lo, hi, floor = points.y(signal)
    infeasible = ~points.feasible
    _merit_points(ax, x[infeasible], y[infeasible], lo[infeasible], hi[infeasible], floor[infeasible], marker="o",
                  markersize=6, markerfacecolor="none", color=COLORS["infeasible"], alpha=0.7,
                  label="over budget", **common)
    rest = points.feasible & ~points.front
    _merit_points(ax, x[rest], y[rest], lo[rest], hi[rest], floor[rest], marker="o", markersize=7,
                  color=COLORS["feasible"], alpha=0.8, label="within budget", **common)
    front = points.front
    if front.any():
        order = np.argsort(x[front])
        if connect:  # best merit within x resources, either direction (a front sorted by x only improves)
            fx, fy = x[front][order], np.maximum(y[front][order], floor[front][order])
            ax.step(fx, fy, where="post", color=COLORS["front"], linewidth=1.5, alpha=0.6)
        _merit_points(ax, x[front], y[front], lo[front], hi[front], floor[front], marker="*", markersize=16,
                      color=COLORS["front"], label="Pareto front" + (" (this study)" if compared else ""), zorder=5,
                      **common)
        if labels:
            for xi, yi, fl, n in zip(x[front], y[front], floor[front], points.number[front]):
                ax.annotate(f"#{n}", (xi, max(yi, fl)), xytext=(6, 6), textcoords="offset points", fontsize=13,
                            color=COLORS["front"])
    lines = itertools.cycle([":", "-.", (0, (6, 2)), (0, (1, 3))])
    for m in markers:
        if f"y/{signal}" not in m.values:
            continue
        v = m.values
        if col not in v:  # a design without this resource (a float model): its merit as a line, named on it
            level = max(v[f"y/{signal}"], v.get(f"floor/{signal}", 0.0))
            ax.axhline(level, color=COLORS[m.kind], linestyle=next(lines), linewidth=1.5, zorder=1)
            ax.annotate(m.label, (0.99, level), xycoords=ax.get_yaxis_transform(), xytext=(0, 3),
                        textcoords="offset points", ha="right", va="bottom", fontsize=11, color=COLORS[m.kind])
            continue
        shape = "D" if m.kind == "baseline" else "s"
        face = COLORS[m.kind] if m.kind == "baseline" or "trial" in v else "none"
        _merit_points(ax, np.array([v[col]]), np.array([v[f"y/{signal}"]]), np.array([v.get(f"lo/{signal}", 0.0)]),
                      np.array([v.get(f"hi/{signal}", 0.0)]), np.array([v.get(f"floor/{signal}", 1e-5)]),
                      marker=shape, markersize=10, color=COLORS[m.kind], markerfacecolor=face, label=m.label, zorder=6,
                      **common)
    limit = budget.get(BUDGET_KEYS[axis])
    if limit:
        ax.axvline(limit, color="0.3", linestyle="--", linewidth=1.5, label=f"budget ({limit:,.0f})")
        ax.axvspan(limit, ax.get_xlim()[1] * 10 if scale != "linear" else limit * 10, color="0.85", alpha=0.4,
                   zorder=0)
    ax.set_xscale(scale, **({"linthresh": 10} if scale == "symlog" else {}))
    finite = np.concatenate([all_x, [limit or np.nan]])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        lo_x, hi_x = finite.min(), finite.max()
        if scale == "log":
            ax.set_xlim(max(lo_x / 1.6, 1), hi_x * 1.6)
        elif scale == "symlog":
            ax.set_xlim(0, hi_x * 1.6 + 10)
        else:
            ax.set_xlim(0, hi_x * 1.15 + 1)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)


def pareto(points: Points, axis: str, budget: dict, markers: list[Marker], ylabel: str, right: str,
           resource_axis: str, maximize: bool, out_dir: Path, formats, compared: tuple[Compared, ...] = ()
           ) -> dict[str, str]:
    with style() as plt:
        fig, ax = plt.subplots(figsize=(10, 7.5))
        _pareto_axes(ax, points, axis, "", budget, markers, labels=True, connect=axis == resource_axis,
                     compared=compared)
        ax.set_ylabel(ylabel)
        ax.legend(loc=_corner(maximize), frameon=True, framealpha=0.9, fontsize=12)
        experiment_label(ax, right)
        return save(fig, out_dir, f"pareto_{axis}", formats)


def _corner(maximize: bool) -> str:
    """A corner the front never reaches: below it for an efficiency (rising with resources), above for an RMS."""
    return "lower right" if maximize else "upper right"


def pareto_signals(points: Points, panels: list[tuple[str, str, str]], axis: str, budget: dict,
                   markers: list[Marker], right: str, resource_axis: str, out_dir: Path, formats,
                   compared: tuple[Compared, ...] = ()) -> dict[str, str]:
    """One panel per signal or variable; `panels` holds (name, title, y label)."""
    ncol = 2 if len(panels) > 1 else 1
    nrow = int(np.ceil(len(panels) / ncol))
    with style() as plt:
        fig, axes = plt.subplots(nrow, ncol, figsize=(8 * ncol, 6 * nrow), squeeze=False, sharex=True)
        for ax, (name, title, ylabel) in zip(axes.flat, panels):
            _pareto_axes(ax, points, axis, name, budget, markers, labels=True, connect=axis == resource_axis,
                         compared=compared)
            ax.set_title(title, fontsize=22, loc="right")
            ax.set_ylabel(ylabel)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False,
                   bbox_to_anchor=(0.5, -0.04))
        fig.suptitle(figure_title(right), fontsize=20, x=0.5, y=1.0)
        fig.tight_layout()
        return save(fig, out_dir, f"pareto_signals_{axis}", formats)


# ---------------------------------------------------------------- one candidate


def roc(curves: dict, scores: dict, signals: list[tuple[str, str]], fpr: float, right: str, out_dir: Path,
        name: str, formats, baseline: dict | None = None) -> dict[str, str]:
    """TPR vs FPR per signal (log-log); the candidate solid, the baseline dotted; operating points with errors."""
    with style() as plt:
        fig, ax = plt.subplots(figsize=(10, 8))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for (sig, tex), color in zip(signals, colors):
            c = curves["roc"][sig]
            f, t = np.asarray(c["fpr"]), np.asarray(c["tpr"])
            keep = (f > 0) & (t > 0)
            s = scores[sig]
            ax.plot(f[keep], t[keep], color=color, linewidth=2, label=f"{tex}  (AUC {s['auc']:.3f})")
            if baseline and sig in baseline["curves"]["roc"]:
                b = baseline["curves"]["roc"][sig]
                bf, bt = np.asarray(b["fpr"]), np.asarray(b["tpr"])
                bk = (bf > 0) & (bt > 0)
                ax.plot(bf[bk], bt[bk], color=color, linewidth=1.5, linestyle=":", alpha=0.9)
            lo, hi = s["tpr_interval"]
            if s["tpr"] > 0:
                ax.errorbar([s["fpr"]], [s["tpr"]], yerr=[[s["tpr"] - lo], [hi - s["tpr"]]], marker="o", color=color,
                            markersize=8, capsize=4)
        grid = np.geomspace(1e-7, 1, 50)
        ax.plot(grid, grid, color="0.6", linestyle="--", linewidth=1, label="random")
        if baseline:
            ax.plot([], [], color="0.3", linestyle=":", label=f"baseline (trial {baseline['number']})")
        ax.axvline(fpr, color="0.3", linestyle="-.", linewidth=1.5, label=f"FPR = {fpr_text(fpr)}")
        n_b = next(iter(scores.values()))["n_background"]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(max(0.5 / n_b, 1e-7), 1)
        n_s = min(s["n_signal"] for s in scores.values())
        ax.set_ylim(0.5 / n_s, 1.5)
        ax.set_xlabel("Background efficiency (FPR)")
        ax.set_ylabel("Signal efficiency (TPR)")
        ax.legend(loc="lower right", frameon=True, framealpha=0.9)
        experiment_label(ax, right)
        return save(fig, out_dir, name, formats)


def score_distributions(curves: dict, scores: dict, signals: list[tuple[str, str]], fpr: float, right: str,
                        out_dir: Path, name: str, formats) -> dict[str, str]:
    """Firmware anomaly-score distributions (log bins, unit area): background filled, signals as lines."""
    import mplhep as hep

    h = curves["histogram"]
    edges = np.asarray(h["edges"])
    with style() as plt:
        fig, ax = plt.subplots(figsize=(10, 7.5))
        bkg = np.asarray(h["background"]["counts"], dtype=float)
        hep.histplot(bkg / h["background"]["n"], edges, histtype="fill", color="0.8", label="background",
                     ax=ax, flow=None)
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for (sig, tex), color in zip(signals, colors):
            counts = np.asarray(h[sig]["counts"], dtype=float)
            hep.histplot(counts / h[sig]["n"], edges, histtype="step", color=color, linewidth=2, label=tex,
                         ax=ax, flow=None)
        threshold = next(iter(scores.values()))["threshold"]
        ax.axvline(threshold, color="0.2", linestyle="--", linewidth=1.5, label=f"threshold at FPR {fpr_text(fpr)}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Anomaly score (firmware output)")
        ax.set_ylabel("Fraction of events per bin")
        ax.legend(loc="upper right", frameon=True, framealpha=0.9)
        experiment_label(ax, right)
        return save(fig, out_dir, name, formats)


# ---------------------------------------------------------------- search insight


def history(numbers: dict[str, np.ndarray], values: dict[str, np.ndarray], best: tuple[np.ndarray, np.ndarray],
            floor: float, ylabel: str, maximize: bool, right: str, out_dir: Path, formats) -> dict[str, str]:
    """The objective per trial in the order they finished; pruned and failed trials as ticks on the floor."""
    with style() as plt:
        fig, ax = plt.subplots(figsize=(12, 6.5))
        style_of = {"infeasible": dict(marker="o", markerfacecolor="none", color=COLORS["infeasible"]),
                    "feasible": dict(marker="o", color=COLORS["feasible"]),
                    "front": dict(marker="*", markersize=16, color=COLORS["front"])}
        for kind, kw in style_of.items():
            n, y = numbers.get(kind, np.array([])), values.get(kind, np.array([]))
            if n.size:
                ax.plot(n, np.maximum(y, floor), linestyle="none", label={"front": "Pareto front"}.get(
                    kind, "within budget" if kind == "feasible" else "over budget"), **{"markersize": 8, **kw})
        if best[0].size:
            ax.step(best[0], np.maximum(best[1], floor), where="post", color=COLORS["front"], linewidth=1.5,
                    label="best within budget so far")
        for kind, marker, color in (("pruned", "|", "0.5"), ("failed", "x", "#bd1f01")):
            n = numbers.get(kind, np.array([]))
            if n.size:
                ax.plot(n, np.full(n.size, floor), linestyle="none", marker=marker, markersize=12, color=color,
                        label=f"{kind} ({n.size})")
        ax.set_yscale("log")
        ax.set_xlabel("Trial")
        ax.set_ylabel(ylabel)
        ax.legend(loc=_corner(maximize), frameon=True, framealpha=0.9, ncol=2)
        experiment_label(ax, right)
        return save(fig, out_dir, "history", formats)


def importance(importances: dict[str, dict[str, float]], right: str, out_dir: Path, formats) -> dict[str, str]:
    """Hyperparameter importance (fANOVA) for each objective, side by side."""
    names = sorted({p for imp in importances.values() for p in imp},
                   key=lambda p: -max(imp.get(p, 0.0) for imp in importances.values()))
    with style() as plt:
        fig, axes = plt.subplots(1, len(importances), figsize=(7 * len(importances), 0.55 * len(names) + 3),
                                 sharey=True, squeeze=False)
        for ax, (target, imp) in zip(axes.flat, importances.items()):
            values = [imp.get(p, 0.0) for p in names]
            ax.barh(np.arange(len(names)), values, color=COLORS["feasible"])
            ax.set_yticks(np.arange(len(names)), names, fontsize=15)
            ax.set_xlabel(f"importance for {target}", fontsize=18)
            ax.set_xlim(0, 1)
        axes.flat[0].invert_yaxis()  # shared: once inverts them all
        fig.suptitle(figure_title(right), fontsize=18)
        fig.tight_layout()
        return save(fig, out_dir, "importance", formats)


def bit_widths(layers: list[dict], right: str, out_dir: Path, stem: str, formats) -> dict[str, str]:
    """Per dense layer: how many weights and input elements have each width (HGQ learns one per element;
    a QKeras layer has one bar each). Zero bits: pruned weights, inputs held at 0."""
    dense = [la for la in layers if la.get("weight_bits") is not None and la["name"] != "score"]  # the network's
    with style() as plt:
        fig, axes = plt.subplots(len(dense), 2, figsize=(12, 2.6 * len(dense) + 1.5), squeeze=False)
        for row, la in zip(axes, dense):
            for ax, key, what, color in ((row[0], "weight_bits", "weights", PALETTE[0]),
                                         (row[1], "input_bits", "input elements", PALETTE[1])):
                counts = np.asarray(la[key])
                ax.bar(np.arange(len(counts)), counts, color=color, width=0.8)
                ax.set_xlim(-0.7, max(len(counts), 2) - 0.3)
                ax.set_ylabel(la["name"], fontsize=14)
                ax.set_title(f"{what}: mean {np.average(np.arange(len(counts)), weights=counts):.1f} bits, "
                             f"{counts[0] if len(counts) else 0} at 0" if counts.sum() else what, fontsize=13,
                             loc="right")
        for ax, what in zip(axes[-1], ("weight bits", "input bits")):
            ax.set_xlabel(what, fontsize=16)
        fig.suptitle(figure_title(right), fontsize=16)
        fig.tight_layout()
        return save(fig, out_dir, stem, formats)


def ebops_vs_lut(groups: dict[str, tuple[np.ndarray, np.ndarray]], right: str, out_dir: Path, formats
                 ) -> dict[str, str]:
    """Estimated LUTs against EBOPs (HGQ's resource proxy) for every complete trial, one colour per quantizer,
    with the median LUTs per EBOP of each."""
    with style() as plt:
        fig, ax = plt.subplots(figsize=(10, 7.5))
        for (name, (ebops, luts)), color in zip(sorted(groups.items()), itertools.cycle(PALETTE)):
            ratio = float(np.median(luts / ebops))
            trials = f"{len(ebops)} trial{'s' if len(ebops) != 1 else ''}"
            ax.scatter(ebops, luts, color=color, s=45, alpha=0.8, label=f"{name}: {trials}, median {ratio:.2f} LUT per EBOP")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("EBOPs (effective bit operations)")
        ax.set_ylabel("LUTs (estimated, Vivado synthesis)")
        ax.legend(loc="upper left", frameon=True, framealpha=0.9, fontsize=12)
        experiment_label(ax, right)
        return save(fig, out_dir, "ebops", formats)


def _encode(values: list) -> tuple[np.ndarray, list[str] | None]:
    """Numbers as they are; anything else as the index of its (sorted) category."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else float(v) for v in values]), None
    cats = sorted({str(v) for v in present})
    return np.array([np.nan if v is None else cats.index(str(v)) for v in values], dtype=float), cats


def parallel(params: dict[str, list], objectives: dict[str, np.ndarray], front: np.ndarray, right: str,
             out_dir: Path, formats) -> dict[str, str]:
    """Parallel coordinates: every complete trial a line through its parameters and objectives."""
    columns = {**params, **{k: list(v) for k, v in objectives.items()}}
    names = list(columns)
    scaled, ticks = [], []
    for name in names:
        v, cats = _encode(columns[name])
        log = name in objectives
        if log:
            v = np.log10(np.maximum(v, 1e-7))
        lo, hi = np.nanmin(v), np.nanmax(v)
        scaled.append((v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5))
        ticks.append((cats, lo, hi, log))
    data = np.array(scaled)
    color_by = data[names.index(next(iter(objectives)))]
    with style() as plt:
        fig, ax = plt.subplots(figsize=(max(12, 1.5 * len(names)), 7))
        cmap = plt.get_cmap("viridis")
        for j in np.argsort(color_by):
            ok = np.isfinite(data[:, j])
            xs = np.arange(len(names))[ok]
            if front[j]:
                continue
            ax.plot(xs, data[ok, j], color=cmap(color_by[j]), alpha=0.55, linewidth=1.2)
        for j in np.flatnonzero(front):
            ok = np.isfinite(data[:, j])
            ax.plot(np.arange(len(names))[ok], data[ok, j], color=COLORS["front"], linewidth=3, zorder=5)
        for i, (cats, lo, hi, log) in enumerate(ticks):
            ax.axvline(i, color="0.4", linewidth=1)
            if cats:
                text = [(0.0 if len(cats) == 1 else k / (len(cats) - 1), c) for k, c in enumerate(cats)]
            else:
                fmt = (lambda v: f"{10 ** v:.2g}") if log else (lambda v: f"{v:.3g}")
                text = [(0.0, fmt(lo)), (1.0, fmt(hi))]
            for y, t in text:
                ax.text(i + 0.04, y, t, fontsize=11, va="center", color="0.2")
        ax.set_xticks(np.arange(len(names)), names, rotation=35, ha="right", fontsize=14)
        ax.set_yticks([])
        ax.set_xlim(-0.2, len(names) - 0.5)
        ax.set_ylim(-0.05, 1.05)
        sm = plt.cm.ScalarMappable(cmap=cmap)
        fig.colorbar(sm, ax=ax, pad=0.01, label=f"{next(iter(objectives))} (log, scaled)")
        experiment_label(ax, right)
        return save(fig, out_dir, "parallel", formats)


def slices(params: dict[str, list], y: np.ndarray, resource: np.ndarray, front: np.ndarray, floor: float,
           ylabel: str, resource_label: str, right: str, out_dir: Path, formats) -> dict[str, str]:
    """The objective against each parameter, coloured by the resource (log)."""
    from matplotlib.colors import LogNorm

    names = list(params)
    ncol = 4
    nrow = int(np.ceil(len(names) / ncol))
    with style() as plt:
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.5 * ncol, 3.8 * nrow), squeeze=False, sharey=True)
        norm = LogNorm(vmin=max(np.nanmin(resource), 1), vmax=max(np.nanmax(resource), 2))
        sc = None
        for ax, name in zip(axes.flat, names):
            v, cats = _encode(params[name])
            ok = np.isfinite(v)
            sc = ax.scatter(v[ok], np.maximum(y[ok], floor), c=np.maximum(resource[ok], 1), cmap="viridis",
                            norm=norm, s=30, alpha=0.85)
            f = ok & front
            ax.scatter(v[f], np.maximum(y[f], floor), marker="*", s=220, facecolor="none",
                       edgecolor=COLORS["front"], linewidth=1.5)
            ax.set_yscale("log")
            ax.set_xlabel(name, fontsize=15)
            ax.tick_params(labelsize=12)
            if cats:
                ax.set_xticks(range(len(cats)), cats, fontsize=12)
        for ax in axes[:, 0]:
            ax.set_ylabel(ylabel, fontsize=15)
        for ax in axes.flat[len(names):]:
            ax.set_visible(False)
        fig.suptitle(figure_title(right), fontsize=18)
        fig.tight_layout()
        if sc is not None:
            fig.colorbar(sc, ax=axes, pad=0.01, label=resource_label)
        return save(fig, out_dir, "slices", formats)
