"""Figures of a jet-compression run (`codesign train --task jet-compression`), in the house HEP style.

The seed asks for the difference between original and decompressed variables divided by the
original, per variable, and the reconstruction loss. The residual distributions are the
report's (`report.figures.residual_histograms`, also drawn per search candidate); here the
residuals' pairwise 2D distributions with their correlation, original vs reconstructed
distributions, and the MSE (and a VAE's KL) curves. Each function takes plain arrays, draws
one figure and saves it in every requested format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.plotting import PALETTE, experiment_label, figure_title, save, style

LABELS = {"pt": ("$p_T$", "GeV"), "eta": (r"$\eta$", ""), "phi": (r"$\phi$", "rad"), "m": ("$m$", "GeV")}
COLORS = PALETTE[:4]


def _label(ax, right: str) -> None:
    experiment_label(ax, right, "jet compression", fontsize=14)


def residual_axis(name: str, kind: str) -> str:
    tex = LABELS.get(name, (name, ""))[0]
    if kind == "relative":
        return rf"({tex}$_{{reco}}$ $-$ {tex}$_{{orig}}$) / {tex}$_{{orig}}$"
    return rf"{tex}$_{{reco}}$ $-$ {tex}$_{{orig}}$" + (" (wrapped)" if name == "phi" else "")


def _core_range(values: np.ndarray, half_width: float) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    lo, hi = np.quantile(v, (0.005, 0.995)) if v.size else (-1.0, 1.0)
    lo, hi = min(lo, -3 * half_width), max(hi, 3 * half_width)
    return (lo - 1e-9, hi + 1e-9) if hi <= lo else (float(lo), float(hi))


def correlations(res: dict[str, np.ndarray], summary: dict[str, dict], matrix: np.ndarray, right: str,
                 out_dir: Path, name: str, formats) -> dict[str, str]:
    """Pairwise 2D residual distributions (lower triangle, log colour) with Pearson r; matrix on the diagonal side."""
    from matplotlib.colors import LogNorm

    names = list(res)
    n = len(names)
    with style() as plt:
        fig, axes = plt.subplots(n, n, figsize=(4.2 * n, 4.2 * n))
        finite = np.all([np.isfinite(res[v]) for v in names], axis=0)
        ranges = {v: _core_range(res[v], summary[v]["half_width_68"]) for v in names}
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                ax = axes[i, j]
                if j > i:
                    ax.axis("off")
                    ax.text(0.5, 0.5, f"r = {matrix[i, j]:+.2f}", ha="center", va="center", fontsize=20,
                            transform=ax.transAxes, color=plt.cm.coolwarm(0.5 + 0.5 * matrix[i, j]))
                    continue
                if i == j:
                    lo, hi = ranges[a]
                    ax.hist(np.clip(res[a][finite], lo, hi), np.linspace(lo, hi, 61), histtype="stepfilled",
                            color=COLORS[0], alpha=0.6)
                    ax.set_yscale("log")
                else:
                    (xl, xh), (yl, yh) = ranges[b], ranges[a]
                    ax.hist2d(np.clip(res[b][finite], xl, xh), np.clip(res[a][finite], yl, yh), bins=50,
                              range=[[xl, xh], [yl, yh]], norm=LogNorm(), cmap="viridis")
                if i == n - 1:
                    ax.set_xlabel(residual_axis(b, summary[b].get("kind", "absolute")), fontsize=11)
                if j == 0 and i > 0:
                    ax.set_ylabel(residual_axis(a, summary[a].get("kind", "absolute")), fontsize=11)
                ax.tick_params(labelsize=10)
        fig.suptitle(f"Residual correlations ({right})", fontsize=18)
        fig.tight_layout()
        return save(fig, out_dir, name, formats)


def distributions(original: np.ndarray, reconstructed: np.ndarray, names: list[str], right: str, out_dir: Path,
                  name: str, formats) -> dict[str, str]:
    """Original vs reconstructed distribution per variable (pT and m on log axes)."""
    with style() as plt:
        fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 6))
        for k, (ax, var) in enumerate(zip(np.atleast_1d(axes), names)):
            o, r = original[:, k], reconstructed[:, k]
            tex, unit = LABELS.get(var, (var, ""))
            if var in ("pt", "m"):
                pos = np.concatenate([o[o > 0], r[r > 0]])
                edges = np.geomspace(np.quantile(pos, 0.001), np.quantile(pos, 0.999), 61)
                ax.set_xscale("log")
            else:
                edges = np.linspace(np.quantile(o, 0.001), np.quantile(o, 0.999), 61)
            ax.hist(o, edges, histtype="stepfilled", color="0.8", label="original")
            ax.hist(r, edges, histtype="step", linewidth=2, color=COLORS[2], label="reconstructed")
            ax.set_yscale("log")
            ax.set_xlabel(f"{tex} [{unit}]" if unit else tex)
            ax.set_ylabel("Jets per bin")
            ax.legend(fontsize=13)
            _label(ax, right)
        fig.tight_layout()
        return save(fig, out_dir, name, formats)


def losses(history: dict[str, list[float]], right: str, out_dir: Path, name: str, formats) -> dict[str, str]:
    """Training and validation loss per epoch; a VAE's KL term on its own axis."""
    kl = "kl" in history
    with style() as plt:
        fig, axes = plt.subplots(1, 2 if kl else 1, figsize=(16 if kl else 9, 6.5))
        axes = np.atleast_1d(axes)
        epochs = np.arange(1, len(history.get("loss", [])) + 1)
        for key, ls in (("loss", "-"), ("val_loss", "--")):
            if key in history:
                axes[0].plot(epochs, history[key], ls, linewidth=2, label={"loss": "training", "val_loss":
                                                                                "validation"}[key])
        axes[0].set_yscale("log")
        axes[0].set_xlabel("Epoch")
        axes[0].set_ylabel("Loss (MSE of standardised inputs" + (" + β KL)" if kl else ")"))
        axes[0].legend()
        _label(axes[0], right)
        if kl:
            for key, ls in (("kl", "-"), ("val_kl", "--")):
                if key in history:
                    axes[1].plot(epochs, history[key], ls, linewidth=2, color=COLORS[1],
                                 label={"kl": "training", "val_kl": "validation"}[key])
            axes[1].set_xlabel("Epoch")
            axes[1].set_ylabel("KL(q(z|x) || N(0, 1)) per jet")
            axes[1].legend()
            _label(axes[1], right)
        fig.tight_layout()
        return save(fig, out_dir, name, formats)


def residual_histograms(histograms: dict, residuals: dict, variables: list[tuple[str, str]], right: str,
                        out_dir: Path, name: str, formats, baseline: dict | None = None) -> dict[str, str]:
    """Residual distributions of a compression, one panel per variable (fraction of jets per bin, log);
    the candidate solid with its RMS and 68 % half-width, the baseline dotted."""
    import mplhep as hep

    ncol = 2 if len(variables) > 1 else 1
    nrow = int(np.ceil(len(variables) / ncol))

    def fractions(h: dict) -> np.ndarray:
        counts = np.asarray(h["counts"], dtype=float)
        return counts / max(counts.sum() + h["underflow"] + h["overflow"], 1)

    with style() as plt:
        fig, axes = plt.subplots(nrow, ncol, figsize=(8 * ncol, 6 * nrow), squeeze=False)
        color = plt.rcParams["axes.prop_cycle"].by_key()["color"][0]
        for ax, (var, tex) in zip(axes.flat, variables):
            e = residuals.get(var, {})
            h = histograms.get(var)
            if h is not None:
                label = (f"RMS {e['rms']:.3g}, 68 % half-width {e['half_width_68']:.3g}" if e.get("n")
                         else "no finite residual")
                hep.histplot(fractions(h), np.asarray(h["edges"]), histtype="step", color=color, linewidth=2,
                             label=label, ax=ax, flow=None)
            if baseline is not None and var in baseline["histograms"]:
                b = baseline["histograms"][var]
                be = baseline.get("residuals", {}).get(var, {})
                hep.histplot(fractions(b), np.asarray(b["edges"]), histtype="step", color="0.2", linewidth=1.5,
                             linestyle=":", ax=ax, flow=None,
                             label=f"baseline (trial {baseline['number']})"
                                   + (f", RMS {be['rms']:.3g}" if "rms" in be else ""))
            ax.axvline(0, color="0.6", linewidth=1)
            ax.set_yscale("log")
            ax.set_ylim(top=ax.get_ylim()[1] * 10)  # room for the legend above the peak
            what = {"relative": ": (reco − orig) / orig", "absolute": ": reco − orig"}.get(e.get("kind"), "")
            ax.set_xlabel(f"{tex} residual{what}", fontsize=18)
            ax.set_ylabel("Fraction of jets per bin", fontsize=18)
            ax.tick_params(labelsize=14)
            ax.legend(loc="upper right", frameon=True, framealpha=0.9, fontsize=12)
        for ax in axes.flat[len(variables):]:
            ax.set_visible(False)
        fig.suptitle(figure_title(right), fontsize=20, x=0.5, y=1.0)
        fig.tight_layout()
        return save(fig, out_dir, name, formats)


def residual_correlations(matrix: list[list[float]], labels: list[str], right: str, out_dir: Path, name: str,
                          formats) -> dict[str, str]:
    """Pearson correlations of the residuals between variables, each cell annotated (a compression that trades
    one variable's error for another's shows up off the diagonal)."""
    m = np.asarray(matrix, dtype=float)
    with style() as plt:
        fig, ax = plt.subplots(figsize=(8.5, 7.5))
        image = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=16,
                        color="white" if abs(m[i, j]) > 0.6 else "black")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.minorticks_off()
        ax.tick_params(length=0)
        fig.colorbar(image, ax=ax, pad=0.02, label="correlation of residuals")
        experiment_label(ax, right)
        return save(fig, out_dir, name, formats)
