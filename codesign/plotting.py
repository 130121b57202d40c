"""The house plotting style, shared by the report, the DQM commands and the compression figures.

One place for what every figure has in common: the mplhep (CMS) style with codesign's font sizes,
the experiment label, the palette, how a figure is saved, and the labels physicists expect
(signals, jet variables, false-positive rates). matplotlib and mplhep are imported inside the
functions, so importing this module (as the CLI does for `--help`) costs nothing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from codesign.data.adc2021 import SIGNAL_LABELS

EXPERIMENT = "codesign"
# mplhep's colour-blind-friendly cycle (Petroff 2021), in the order the figures use it
PALETTE = ("#5790fc", "#f89c20", "#e42536", "#964a8b", "#9c9ca1", "#7a21dd", "#2a9d3c", "#a96b59")
VARIABLE_LABELS = {"pt": ("pT", r"$p_T$"), "eta": ("η", r"$\eta$"), "phi": ("φ", r"$\phi$"), "m": ("m", r"$m$")}


@contextlib.contextmanager
def style():
    """The house style for the figures drawn inside it; yields `matplotlib.pyplot` (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    with plt.style.context(hep.style.CMS), plt.rc_context({"legend.fontsize": 15, "axes.labelsize": 22,
                                                           "xtick.labelsize": 17, "ytick.labelsize": 17,
                                                           "savefig.bbox": "tight"}):
        yield plt


def experiment_label(ax, right: str, left: str | None = None, fontsize: float = 18) -> None:
    """The experiment label above the axes: 'codesign' (and `left`, e.g. 'DQM') on the left, `right` on the right."""
    import mplhep as hep

    hep.label.exp_label(exp=EXPERIMENT, llabel=left, rlabel=right, ax=ax, loc=0, fontsize=fontsize)


def figure_title(right: str) -> str:
    """The title of a multi-panel figure, where each panel has no label of its own."""
    return f"{EXPERIMENT} Simulation — {right}"


def save(fig, out_dir: Path, name: str, formats: tuple[str, ...]) -> dict[str, str]:
    """Save `fig` as out_dir/name.<fmt> for every format (PNG at 100 dpi), close it; {format: file name}."""
    import matplotlib.pyplot as plt

    paths = {}
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, dpi=100 if fmt == "png" else None)
        paths[fmt] = path.name
    plt.close(fig)
    return paths


def save_fixed(fig, out_dir: Path, name: str, formats) -> dict[str, str]:
    """`save` without the tight bounding box, for figures whose margins are set by hand: a tight box
    draws the whole figure twice."""
    import matplotlib.pyplot as plt

    with plt.rc_context({"savefig.bbox": None}):
        return save(fig, out_dir, name, formats)


def fpr_text(fpr: float) -> str:
    """1e-05 -> '1e-5', as physicists write it."""
    return f"{fpr:g}".replace("e-0", "e-")


def signal_label(name: str, tex: bool = False) -> str:
    """A signal's or a jet variable's label: 'A→4ℓ' / '$A\\rightarrow 4\\ell$', 'pT' / '$p_T$'."""
    labels = SIGNAL_LABELS.get(name) or VARIABLE_LABELS.get(name)
    return (labels[1] if tex else labels[0]) if labels else name
