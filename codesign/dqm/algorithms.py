"""DQM anomaly-detection algorithms behind one estimator interface: fit, score, save, load.

Every algorithm takes `Runs` (raw bin counts per histogram, one row per run) and returns per
histogram a score per run (higher = more anomalous) and, for the reconstructing ones, the
reconstruction normalised to unit sum. The caller sees no difference between a PCA, an
autoencoder or a statistical test (scikit-learn's habit), and the same contract tests hold for all.

Conventions every algorithm keeps:
- an empty histogram (no entries) cannot be described by any shape: its score is +inf;
- a missing histogram (NaN row) is not scored: NaN;
- fitting ignores empty rows and refuses with too few left;
- `save` writes JSON / NPZ / Keras-h5 only (never pickle), into a directory that must not exist yet.
"""

from __future__ import annotations

import json
import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from codesign.config import Frozen, parse
from codesign.core.hgq import HGQTraining
from codesign.core.models import build
from codesign.core.persistence import load_keras, save_model
from codesign.core.spec import QUANTIZER_DESCRIPTION, DenseAE, Pruning, Quantization
from codesign.core.trainer import Training, fit, seed_everything
from codesign.data.dqm_table import HistogramInfo
from codesign.dqm import comparisons as cmp
from codesign.errors import CodesignError, ConfigError, DataError

log = logging.getLogger("codesign")
STATE_FILE = "algorithm.json"


@dataclass(frozen=True)
class Runs:
    """Raw bin counts of some runs: histograms[name] has shape (n_runs, *infos[name].shape)."""

    runs: np.ndarray
    histograms: dict[str, np.ndarray]
    infos: dict[str, HistogramInfo]

    def __len__(self) -> int:
        return len(self.runs)

    def subset(self, mask: np.ndarray) -> "Runs":
        return Runs(self.runs[mask], {k: v[mask] for k, v in self.histograms.items()}, self.infos)


@dataclass(frozen=True)
class Scored:
    score: np.ndarray  # (n_runs,)
    reco: np.ndarray | None = None  # (n_runs, n_bins), unit sum, or None for tests without a reconstruction


def file_stem(histogram: str) -> str:
    """A file name for a histogram: letters and digits only (no '/', no '..'), plus a short hash
    so that names differing only in punctuation cannot collide."""
    import hashlib

    readable = re.sub(r"[^A-Za-z0-9]+", "", histogram)[-60:] or "histogram"
    return f"{readable}_{hashlib.sha1(histogram.encode()).hexdigest()[:8]}"


def fractions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows normalised to unit sum, flattened; empty mask). Empty rows stay zero, NaN rows stay NaN."""
    flat = np.asarray(counts, dtype=np.float64).reshape(len(counts), -1)
    totals = flat.sum(axis=1)
    empty = totals <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(empty[:, None], 0.0, flat / np.where(empty, 1.0, totals)[:, None])
    return out, empty


class BinMerge:
    """Merge low-occupancy bins (contiguous in C order) until each group holds >= `min_fraction` of
    the training entries on average; fitted on training runs only, inverted for reconstructions by
    sharing a group's content in the training proportions."""

    def __init__(self, groups: np.ndarray, weights: np.ndarray):
        self.groups = np.asarray(groups, dtype=np.int64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.n_groups = int(self.groups.max()) + 1 if len(self.groups) else 0

    @classmethod
    def identity(cls, n_bins: int) -> "BinMerge":
        return cls(np.arange(n_bins), np.ones(n_bins))

    @classmethod
    def fit(cls, train_fractions: np.ndarray, min_fraction: float) -> "BinMerge":
        mean = train_fractions.mean(axis=0)
        n_bins = len(mean)
        if min_fraction <= 0:
            return cls.identity(n_bins)
        groups, g, acc = np.zeros(n_bins, np.int64), 0, 0.0
        for i, value in enumerate(mean):
            groups[i] = g
            acc += value
            if acc >= min_fraction and i < n_bins - 1:
                g, acc = g + 1, 0.0
        if acc < min_fraction and g > 0:  # a thin last group joins its neighbour
            groups[groups == g] = g - 1
        sums = np.bincount(groups, weights=mean)
        weights = np.where(sums[groups] > 0, mean / np.where(sums[groups] > 0, sums[groups], 1.0),
                           1.0 / np.bincount(groups)[groups])
        return cls(groups, weights)

    def apply(self, flat: np.ndarray) -> np.ndarray:
        if self.n_groups == flat.shape[1]:
            return flat
        out = np.zeros((flat.shape[0], self.n_groups))
        np.add.at(out.T, self.groups, flat.T)
        return out

    def invert(self, merged: np.ndarray) -> np.ndarray:
        if self.n_groups == len(self.groups):
            return merged
        return merged[:, self.groups] * self.weights

    def to_dict(self) -> dict:
        return {"groups": self.groups.tolist(), "weights": self.weights.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "BinMerge":
        return cls(np.asarray(data["groups"]), np.asarray(data["weights"]))


class Common(Frozen):
    merge_bins: float = Field(0.0, ge=0.0, lt=0.5, description="merge bins below this mean fraction (0 = off)")


class Algorithm(ABC):
    """fit(train[, val]) -> score(runs) -> save(dir) / load(dir); registered by `name`."""

    name: ClassVar[str]
    reconstructs: ClassVar[bool]
    Config: ClassVar[type[Frozen]]

    def __init__(self, config: Frozen, seed: int = 0):
        self.config = config
        self.seed = seed
        self.histograms: list[str] = []
        self.infos: dict[str, HistogramInfo] = {}
        self.merges: dict[str, BinMerge] = {}

    # -- the interface
    def fit(self, train: Runs, val: Runs | None = None) -> "Algorithm":
        self.histograms, self.infos = list(train.histograms), dict(train.infos)
        usable = {}
        for name, counts in train.histograms.items():
            frac, empty = fractions(counts)
            keep = ~empty & ~np.isnan(frac).any(axis=1)
            if keep.sum() < self.min_runs:
                raise DataError(f"{name}: {int(keep.sum())} non-empty training runs, {self.__class__.name} needs "
                                f"at least {self.min_runs}")
            self.merges[name] = BinMerge.fit(frac[keep], self.config.merge_bins)
            usable[name] = keep
        self._fit(train, val, usable)
        return self

    def score(self, data: Runs) -> dict[str, Scored]:
        missing = [h for h in self.histograms if h not in data.histograms]
        if missing:
            raise DataError(f"cannot score: histogram {missing[0]!r} was fitted but is not in the data")
        return self._score(data)

    @property
    def min_runs(self) -> int:
        return 2

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        if directory.exists():
            raise CodesignError(f"{directory}: already exists; a trained model is never overwritten "
                                "(use a new tag, or delete the directory to retrain)")
        directory.mkdir(parents=True)
        state = {"name": self.name, "config": self.config.model_dump(mode="json"), "seed": self.seed,
                 "histograms": {h: {"file": file_stem(h), "info": self.infos[h].to_dict(),
                                    "merge": self.merges[h].to_dict()} for h in self.histograms}}
        state.update(self._save(directory))
        (directory / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Algorithm":
        return load(directory)

    # -- what each algorithm provides
    @abstractmethod
    def _fit(self, train: Runs, val: Runs | None, usable: dict[str, np.ndarray]) -> None: ...

    @abstractmethod
    def _score(self, data: Runs) -> dict[str, Scored]: ...

    @abstractmethod
    def _save(self, directory: Path) -> dict: ...

    @abstractmethod
    def _load(self, directory: Path, state: dict) -> None: ...

    # -- shared helpers
    def _inputs(self, name: str, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(merged unit-sum inputs, empty mask, missing mask) of one histogram."""
        frac, empty = fractions(counts)
        missing = np.isnan(frac).any(axis=1)
        frac = np.where(missing[:, None], 0.0, frac)
        return self.merges[name].apply(frac), empty & ~missing, missing

    def _finish(self, name: str, x: np.ndarray, reco: np.ndarray, empty: np.ndarray, missing: np.ndarray) -> Scored:
        """SSE in the space the model sees (merged bins); the reconstruction returned on the original bins."""
        sse = np.sum((reco - x) ** 2, axis=1)
        sse = np.where(empty, np.inf, np.where(missing, np.nan, sse))
        full = np.where(missing[:, None], np.nan, self.merges[name].invert(reco))
        return Scored(sse, full)


# ---------------------------------------------------------------------------------------------- PCA


class PCAConfig(Common):
    n_components: int = Field(2, ge=1)


class PCA(Algorithm):
    """Principal components of the unit-sum histograms; score = SSE of the projection back."""

    name = "pca"
    reconstructs = True
    Config = PCAConfig

    @property
    def min_runs(self) -> int:
        return self.config.n_components + 1

    def _fit(self, train, val, usable):
        from sklearn.decomposition import PCA as SkPCA

        self.means, self.components, self.explained = {}, {}, {}
        for name in self.histograms:
            x, _, _ = self._inputs(name, train.histograms[name][usable[name]])
            k = min(self.config.n_components, x.shape[1])
            pca = SkPCA(n_components=k, random_state=self.seed).fit(x)
            self.means[name], self.components[name] = pca.mean_, pca.components_
            self.explained[name] = pca.explained_variance_ratio_.tolist()
            log.debug("PCA %s: %d components explain %.4f of the variance (%d runs)", name, k,
                      float(np.sum(pca.explained_variance_ratio_)), len(x))

    def _score(self, data):
        out = {}
        for name in self.histograms:
            x, empty, missing = self._inputs(name, data.histograms[name])
            c, mu = self.components[name], self.means[name]
            reco = (x - mu) @ c.T @ c + mu
            out[name] = self._finish(name, x, reco, empty, missing)
        return out

    def _save(self, directory):
        for name in self.histograms:
            (directory / f"{file_stem(name)}.json").write_text(json.dumps({
                "histogram": name, "mean": self.means[name].tolist(), "components": self.components[name].tolist(),
                "explained_variance_ratio": self.explained[name]}) + "\n")
        return {}

    def _load(self, directory, state):
        self.means, self.components, self.explained = {}, {}, {}
        for name in self.histograms:
            data = _read_json(directory / f"{file_stem(name)}.json")
            self.means[name] = np.asarray(data["mean"], dtype=np.float64)
            self.components[name] = np.asarray(data["components"], dtype=np.float64)
            self.explained[name] = data.get("explained_variance_ratio", [])


# -------------------------------------------------------------------------------------- autoencoder

CONV_OPTIONS = ("kernel_1d", "kernel_2d", "strides_1d", "strides_2d", "n_filters")


class AutoencoderConfig(Common):
    """AutoDQM_ML's option names, mapped onto the shared core's dense autoencoder (QKeras/tfmot ready)."""

    mode: Literal["individual", "simultaneous"] = "individual"
    n_hidden_layers: int = Field(2, ge=0)
    n_nodes: int = Field(25, ge=1)
    n_components: int = Field(3, ge=1)
    batch_size: int = Field(16, ge=1)
    n_epochs: int = Field(1000, ge=1)
    early_stopping: bool = True
    early_stopping_rounds: int = Field(3, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    batch_norm: bool = False
    activation: Literal["relu", "leaky_relu", "tanh"] = "relu"
    dropout: float = Field(0.0, ge=0.0, le=0.0, description="not supported: hls4ml firmware has no dropout")
    quantizer: Literal["qkeras", "hgq"] = Field("qkeras", description=QUANTIZER_DESCRIPTION)
    quantization: Quantization | None = None
    pruning: Pruning | None = None
    hgq: HGQTraining = HGQTraining()

    @model_validator(mode="after")
    def _buildable(self):
        self.spec()  # the model's own rules (e.g. hgq with relu, without QKeras formats), at the boundary
        return self

    @model_validator(mode="before")
    @classmethod
    def _conv_options(cls, data):
        if isinstance(data, dict):
            conv = [k for k in CONV_OPTIONS if k in data]
            if conv:
                raise ValueError(f"{', '.join(conv)}: convolutional options; codesign's histogram autoencoder is "
                                 "dense (the form hls4ml turns into firmware) — drop them")
            data = {k: v for k, v in data.items() if k != "val_batch_size"}  # Keras validates in one batch
        return data

    def spec(self):
        return DenseAE(encoder=(self.n_nodes,) * self.n_hidden_layers, latent=self.n_components,
                       activation=self.activation, leaky_alpha=0.25, batchnorm=self.batch_norm,
                       input_batchnorm=False, quantizer=self.quantizer, quantization=self.quantization,
                       pruning=self.pruning)

    def training(self):
        patience = self.early_stopping_rounds if self.early_stopping else self.n_epochs
        return Training(epochs=self.n_epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                        early_stopping_patience=patience, lr_patience=max(patience, 2) * 2, hgq=self.hgq)


class Autoencoder(Algorithm):
    """Dense autoencoder(s) from the shared training core; score = SSE of the reconstruction.

    Inputs are the unit-sum histograms minus the training mean, times their number of (merged) bins:
    centred (the network learns deviations from the average shape, and starts from it) and of order 1
    whatever the binning (what quantized activations need). `individual`: one network per histogram;
    `simultaneous`: one network over all histograms side by side, SSE per histogram from its slice.
    """

    name = "autoencoder"
    reconstructs = True
    Config = AutoencoderConfig

    def _groups(self) -> dict[str, list[str]]:
        if self.config.mode == "simultaneous":
            return {"simultaneous": list(self.histograms)}
        return {file_stem(h): [h] for h in self.histograms}

    def _stack(self, names: list[str], data: Runs):
        parts, empties, missings = [], [], []
        for name in names:
            x, empty, missing = self._inputs(name, data.histograms[name])
            parts.append((x - self.offsets[name]) * x.shape[1])
            empties.append(empty)
            missings.append(missing)
        return np.concatenate(parts, axis=1).astype(np.float32), empties, missings

    def _fit(self, train, val, usable):
        if val is None or len(val) == 0:  # the caller's validation runs are preferred; else 20 % of training
            order = np.random.default_rng(self.seed).permutation(len(train))
            cut = max(1, len(train) // 5)
            val, train = train.subset(np.isin(np.arange(len(train)), order[:cut])), \
                train.subset(np.isin(np.arange(len(train)), order[cut:]))
            usable = {k: v[np.isin(np.arange(len(v)), order[cut:])] for k, v in usable.items()}
        self.models, self.history = {}, {}
        self.offsets = {n: self._inputs(n, train.histograms[n][usable[n]])[0].mean(axis=0) for n in self.histograms}
        for key, names in self._groups().items():
            keep = np.logical_and.reduce([usable[n] for n in names])
            x, _, _ = self._stack(names, train.subset(keep))
            xv, empty_v, missing_v = self._stack(names, val)
            ok_v = ~np.logical_or.reduce(empty_v + missing_v)
            xv = xv[ok_v] if ok_v.any() else x
            seed_everything(self.seed)
            model = build(self.config.spec(), (x.shape[1],), self.config.training().hgq)
            fitted = fit(model, x, x, xv, xv, self.config.training(), self.config.pruning, self.seed)
            self.models[key] = fitted.model
            self.history[key] = {"epochs_run": fitted.epochs_run, "train_runs": len(x), "val_runs": len(xv),
                                 "loss": fitted.history.get("loss", [])[-1:], "val_loss":
                                 fitted.history.get("val_loss", [])[-1:], "sparsity": fitted.sparsity,
                                 "ebops": fitted.ebops}
            log.debug("autoencoder %s: %d epochs on %d runs (%d validation)", key, fitted.epochs_run, len(x), len(xv))

    def _score(self, data):
        out = {}
        for key, names in self._groups().items():
            x, empties, missings = self._stack(names, data)
            reco = self.models[key].predict(x, batch_size=4096, verbose=0).astype(np.float64)
            start = 0
            for name, empty, missing in zip(names, empties, missings):
                n = self.merges[name].n_groups
                offset = self.offsets[name]
                out[name] = self._finish(name, x[:, start:start + n] / n + offset,
                                         reco[:, start:start + n] / n + offset, empty, missing)
                start += n
        return out

    def _save(self, directory):
        for key, model in self.models.items():
            save_model(directory / f"{key}.h5", model)
        return {"models": sorted(self.models), "history": self.history,
                "offsets": {h: self.offsets[h].tolist() for h in self.histograms}}

    def _load(self, directory, state):
        self.history = state.get("history", {})
        self.offsets = {h: np.asarray(state["offsets"][h], dtype=np.float64) for h in self.histograms}
        self.models = {key: load_keras(directory / f"{key}.h5") for key in self._groups()}


# ------------------------------------------------------------------------------- statistical tests


class StatisticalConfig(Common):
    test: Literal["ks", "chi2", "modified_chi2", "beta_binomial"] = "ks"
    n_references: int = Field(1, ge=1, description="earlier good runs compared against (1, 4, 8 ...)")
    reference: int | None = Field(None, description="one fixed reference run instead of the earlier good runs")
    statistic: Literal["chi2", "max_pull"] = Field("chi2", description="beta_binomial: which number is the score")
    tol: float = Field(0.01, ge=0.0, description="beta_binomial: relative systematic tolerance of the reference")


class StatisticalTest(Algorithm):
    """A run against reference runs: the `n_references` good training runs taken just before it
    (or one fixed `reference`). Fitting only remembers the training runs' raw counts."""

    name = "statistical_tester"
    reconstructs = False
    Config = StatisticalConfig

    @property
    def min_runs(self) -> int:
        return 1

    def _fit(self, train, val, usable):
        self.reference_runs, self.reference_counts = {}, {}
        for name in self.histograms:
            keep = usable[name]
            order = np.argsort(train.runs[keep], kind="stable")
            self.reference_runs[name] = train.runs[keep][order]
            self.reference_counts[name] = np.asarray(train.histograms[name][keep][order], dtype=np.float64)
        if self.config.reference is not None:
            for name, runs in self.reference_runs.items():
                if self.config.reference not in runs:
                    raise DataError(f"reference run {self.config.reference} is not a usable training run for "
                                    f"{name} (bad, low statistics, missing, or not in the table)")

    def references(self, name: str, run: int) -> np.ndarray:
        """Indices of the reference runs for `run`: the n good runs just before it, else the nearest after."""
        runs = self.reference_runs[name]
        if self.config.reference is not None:
            return np.flatnonzero(runs == self.config.reference)
        candidates = np.flatnonzero(runs != run)
        before = candidates[runs[candidates] < run]
        n = self.config.n_references
        if len(before) >= n:
            return before[-n:]
        after = candidates[runs[candidates] > run]
        return np.concatenate([before, after[: n - len(before)]])

    def _statistic(self, data: np.ndarray, refs: np.ndarray) -> float:
        test = self.config.test
        if test == "ks":
            return cmp.ks_distance(data, refs)
        if test == "chi2":
            return cmp.chi2_per_ndf(data, refs)[0]
        if test == "modified_chi2":
            return cmp.modified_chi2(data, refs)
        chi2, max_pull = cmp.beta_binomial(data, refs, self.config.tol)
        return chi2 if self.config.statistic == "chi2" else max_pull

    def _score(self, data):
        out = {}
        for name in self.histograms:
            info, merge = self.infos[name], self.merges[name]
            counts = np.asarray(data.histograms[name], dtype=np.float64).reshape(len(data), -1)
            refs_all = self.reference_counts[name].reshape(len(self.reference_counts[name]), -1)
            merged = merge.n_groups != len(merge.groups)
            if merged:  # merged bins lose the 2D layout: compare the merged 1D sequence
                counts = merge.apply(np.nan_to_num(counts)) * np.where(np.isnan(counts).any(1), np.nan, 1.0)[:, None]
                refs_all = merge.apply(refs_all)
            shape = (-1,) if merged else info.shape
            scores = np.empty(len(data))
            for i, run in enumerate(data.runs):
                row = counts[i]
                if np.isnan(row).any():
                    scores[i] = np.nan
                    continue
                scores[i] = self._statistic(row.reshape(shape), refs_all[self.references(name, int(run))]
                                            .reshape((-1, *shape)))
            out[name] = Scored(scores)
        return out

    def _save(self, directory):
        arrays = {"runs_" + file_stem(h): self.reference_runs[h] for h in self.histograms}
        arrays.update({"counts_" + file_stem(h): self.reference_counts[h] for h in self.histograms})
        np.savez_compressed(directory / "references.npz", **arrays)
        return {}

    def _load(self, directory, state):
        with np.load(directory / "references.npz", allow_pickle=False) as f:
            self.reference_runs = {h: f["runs_" + file_stem(h)] for h in self.histograms}
            self.reference_counts = {h: f["counts_" + file_stem(h)] for h in self.histograms}


# ------------------------------------------------------------------------------------ the registry

ALGORITHMS: dict[str, type[Algorithm]] = {cls.name: cls for cls in (PCA, Autoencoder, StatisticalTest)}
ALIASES = {"ae": "autoencoder", "statistical_test": "statistical_tester", "ks_test": "statistical_tester"}


def get(name: str) -> type[Algorithm]:
    key = ALIASES.get(name, name)
    if key not in ALGORITHMS:
        raise ConfigError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[key]


def make(name: str, options: dict | None = None, seed: int = 0, source: str = "algorithm config") -> Algorithm:
    cls = get(name)
    return cls(parse(cls.Config, options or {}, source), seed)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: missing from the saved model directory") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: corrupt JSON ({exc})") from None


def load(directory: str | Path) -> Algorithm:
    """An algorithm saved by `Algorithm.save` (JSON state, then each algorithm's own files)."""
    directory = Path(directory)
    state = _read_json(directory / STATE_FILE)
    try:
        algo = make(state["name"], state["config"], int(state.get("seed", 0)), str(directory / STATE_FILE))
        algo.histograms = list(state["histograms"])
        algo.infos = {h: HistogramInfo.from_dict(h, d["info"]) for h, d in state["histograms"].items()}
        algo.merges = {h: BinMerge.from_dict(d["merge"]) for h, d in state["histograms"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{directory / STATE_FILE}: not a saved DQM algorithm ({exc})") from None
    algo._load(directory, state)
    return algo
