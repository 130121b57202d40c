"""Jet compression (seed 002): an autoencoder squeezes each jet's (pT, eta, phi, m) into 3 numbers on detector.

The encoder runs in the front-end firmware and ships the latent code; the decoder runs
offline and unpacks it. So the firmware deployed and estimated is the encoder alone
(`deployed`), and a candidate's fidelity is measured as the physics would see it: the
firmware-exact latent codes (bit-exact emulator, cross-checked against hls4ml C-simulation)
decoded by the float decoder, against the original jets (`score_firmware`). The figure of
merit is the mean over variables of the residual RMS (`codesign.residuals`: relative for pT
and m, absolute for eta, wrapped for phi), minimised against LUTs.

Inputs are pT and m as log10 (HEPAutoencoders' "custom normalisation": both span decades and
their errors are relative), eta and phi as they are, then standardised with the training
means and widths (the firmware does the same with one exact-constant BatchNormalization).
A front-end would hand the encoder log10 pT from a lookup table; `representation: linear`
feeds GeV instead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from codesign import compression_figures as figs
from codesign import evaluation, firmware, provenance, residuals
from codesign.config import Frozen, dump
from codesign.core import persistence
from codesign.core.models import build, decoder, encoder, mean_reconstruction
from codesign.core.preprocessing import Preprocessor, Scheme
from codesign.core.pruning import overall_sparsity
from codesign.core.spec import VAE, DenseAE, ModelSpec
from codesign.core.trainer import Training, fit, seed_everything
from codesign.data import jet_generator
from codesign.errors import DataError
from codesign.firmware import fixed
from codesign.merit import RESIDUAL_RMS
from codesign.plotting import signal_label
from codesign.tasks.base import Dataset, Metrics, Scoring, Task, TaskConfig

log = logging.getLogger("codesign")
NAME = "jet-compression"
VARIABLES = ("pt", "eta", "phi", "m")
LOG_VARIABLES = ("pt", "m")


class Data(Frozen):
    n_train: int = Field(100_000, ge=100, description="generated training jets")
    n_val: int = Field(20_000, ge=100, description="generated validation jets")
    n_test: int = Field(50_000, ge=100, description="generated test jets (residuals are measured on them)")
    file: str | None = Field(None, description="parquet/HDF5 table of jets (pt, eta, phi, m); split "
                                               "train/val/test in the proportions above after a seeded shuffle")
    representation: Literal["log", "linear"] = "log"


class Config(TaskConfig):
    task: Literal["jet-compression"] = NAME
    data: Data = Data()
    preprocessing: Scheme = "standard"
    # The seed's (HEPAutoencoders AE_3D_200) network: 4-200-100-50-3-50-100-200-4, tanh, no batch norm.
    model: ModelSpec = DenseAE(encoder=(200, 100, 50), latent=3, activation="tanh", batchnorm=False,
                               input_batchnorm=False)
    training: Training = Training(epochs=60, batch_size=256, learning_rate=1e-3, early_stopping_patience=6)
    metrics: Metrics = Metrics(n_bootstrap=100)

    @model_validator(mode="after")
    def _compresses(self):
        if not isinstance(self.model, (DenseAE, VAE)):
            raise ValueError("model must be a dense autoencoder (kind: dense_ae) or a VAE (kind: vae)")
        if self.model.latent >= len(VARIABLES):
            raise ValueError(f"model.latent must be below {len(VARIABLES)} (the jet's variables) to compress, "
                             f"got {self.model.latent}")
        return self


def input_names(representation: str) -> list[str]:
    return [f"log10_{v}" if representation == "log" and v in LOG_VARIABLES else v for v in VARIABLES]


def input_groups(names: list[str]) -> list[str]:
    """Each input is its own quantity with its own firmware units."""
    return list(names)


def to_inputs(jets: dict[str, np.ndarray], representation: str) -> np.ndarray:
    """(jets, 4) network inputs in VARIABLES order."""
    cols = [np.log10(jets[v]) if representation == "log" and v in LOG_VARIABLES else jets[v] for v in VARIABLES]
    return np.column_stack(cols).astype(np.float32)


def to_physical(x: np.ndarray, representation: str) -> np.ndarray:
    """Inverse of `to_inputs`: (jets, 4) in GeV / rad, VARIABLES order."""
    out = np.array(x, dtype=np.float64, copy=True)
    if representation == "log":
        for i, v in enumerate(VARIABLES):
            if v in LOG_VARIABLES:
                out[:, i] = 10.0 ** out[:, i]
    return out


def _jets(config: Config) -> tuple[dict, dict, dict, dict]:
    d, seed = config.data, config.seed
    if d.file is None:
        log.info("generating jets: %d train, %d val, %d test (seed %d)", d.n_train, d.n_val, d.n_test, seed)
        return (jet_generator.generate(d.n_train, seed * 10 + 1), jet_generator.generate(d.n_val, seed * 10 + 2),
                jet_generator.generate(d.n_test, seed * 10 + 3),
                {"kind": "synthetic", "generator": "codesign.data.jet_generator", "seed": seed})
    jets = jet_generator.read(d.file)
    n = len(jets["pt"])
    if n < 300:
        raise DataError(f"{d.file}: {n} jets; need at least 300 to split into train/val/test")
    total = d.n_train + d.n_val + d.n_test
    cuts = np.cumsum([round(n * d.n_train / total), round(n * d.n_val / total)])
    parts = np.split(np.random.default_rng(seed).permutation(n), cuts)
    pick = [{v: jets[v][idx] for v in VARIABLES} for idx in parts]
    return (*pick, {"kind": "file", "file": str(d.file), "n_jets": n, "seed": seed})


def load_data(config: Config, train_limit: int | None = None, store=None) -> Dataset:
    train, val, test, sources = _jets(config)
    rep = config.data.representation
    x_train = to_inputs(train, rep)
    if train_limit is not None:
        x_train = x_train[:train_limit]
    return Dataset(x_train, to_inputs(val, rep), to_inputs(test, rep), {}, input_names(rep),
                   sources={**sources, "representation": rep, "variables": list(VARIABLES)})


# ---------------------------------------------------------------- training and fidelity


@dataclass
class Compression:
    """A trained compression: the model, its input scaling, and its residuals on the test jets (Keras, float)."""

    model: object
    preprocessor: Preprocessor
    metadata: dict
    residuals: dict[str, np.ndarray]  # per variable, per test jet
    original: np.ndarray  # (jets, 4) physical test jets
    reconstructed: np.ndarray  # (jets, 4) physical

    @property
    def summary(self) -> dict:
        return self.metadata["residuals"]


def reconstruct(model, pre: Preprocessor, x: np.ndarray, representation: str) -> np.ndarray:
    """Physical jets reconstructed by a (float or QKeras) autoencoder from network inputs `x`."""
    y = model.predict(pre.transform(x), batch_size=16384, verbose=0).astype(np.float64)
    return to_physical(y * pre.scale + pre.offset, representation)


def fidelity(original: np.ndarray, reconstructed: np.ndarray, n_bootstrap: int, seed: int):
    """(residual arrays, per-variable summaries with intervals, {rms, rms_error, ...}) of physical jets."""
    res = residuals.residuals(original, reconstructed, list(VARIABLES))
    summary, merit = residuals.with_intervals(res, n_bootstrap, seed)
    return res, summary, merit


def train(config: Config, data: Dataset, verbose: int = 0, tensorboard: str | Path | None = None) -> Compression:
    """Fit the input scaling on training jets, train the autoencoder, measure residuals on the test jets."""
    rep = config.data.representation
    pre = Preprocessor.fit(config.preprocessing, data.x_train)
    x_train, x_val = pre.transform(data.x_train), pre.transform(data.x_val)
    start = time.perf_counter()
    seed_everything(config.seed)
    model = build(config.model, x_train.shape[1:], config.training.hgq)
    fitted = fit(model, x_train, x_train, x_val, x_val, config.training, config.model.pruning, config.seed,
                 verbose=verbose, tensorboard=str(tensorboard) if tensorboard else None)
    seconds = time.perf_counter() - start
    x_test = np.asarray(data.x_test)
    original = to_physical(x_test, rep)
    reco = reconstruct(fitted.model, pre, x_test, rep)
    res, summary, merit = fidelity(original, reco, config.metrics.n_bootstrap, config.seed)
    metadata = {
        "task": NAME,
        "config": config.model_dump(mode="json"),
        "provenance": provenance.record(seed=config.seed),
        "data": {**data.sources, "n_train": len(data.x_train), "n_val": len(data.x_val), "n_test": len(x_test)},
        "input_names": data.input_names,
        "preprocessing": pre.to_dict(),
        "training": {"epochs_run": fitted.epochs_run, "seconds": round(seconds, 1), "history": fitted.history},
        "sparsity": {"per_layer": fitted.sparsity, "overall": overall_sparsity(fitted.model)},
        "ebops": fitted.ebops,  # HGQ's effective bit operations (None: not an HGQ model)
        "parameters": int(fitted.model.count_params()),
        "residuals": summary,
        **merit,
    }
    return Compression(fitted.model, pre, metadata, res, original, reco)


# ---------------------------------------------------------------- firmware (the search's hooks)


def deployed(model, spec: ModelSpec):
    """What runs on detector: the encoder, returning the latent code (no score head)."""
    return encoder(model, spec), None, False


def decode(decoder, pre: Preprocessor, codes: np.ndarray, representation: str) -> np.ndarray:
    """Offline: physical jets from latent codes (the firmware's outputs as floats) through the Keras decoder."""
    y = decoder.predict(np.asarray(codes, dtype=np.float32), batch_size=16384, verbose=0)
    return to_physical(y.astype(np.float64) * pre.scale + pre.offset, representation)


def save_decoder(directory: Path, decoder, pre: Preprocessor, representation: str) -> None:
    """decoder.h5 and decoder.json (standardisation and representation to undo) beside the encoder's firmware:
    what an offline consumer of the codes needs (`codesign export` ships both)."""
    import json


    persistence.save_model(Path(directory) / "decoder.h5", decoder)
    (Path(directory) / "decoder.json").write_text(json.dumps({
        "variables": list(VARIABLES), "inputs": input_names(representation), "representation": representation,
        "preprocessing": pre.to_dict(),
        "physical": "x = decoder(code) * scale + offset; then 10**x for log10_ inputs (pt, m in GeV)"}, indent=1))


def firmware_codes(fw, x: np.ndarray) -> np.ndarray:
    """The encoder firmware's latent codes for inputs `x`, as floats (emulator; identical to C-sim)."""
    (out,) = fw.emulate(x)
    return fixed.to_float(out, fw.output_types[0].frac)


def score_firmware(fw, cfg: Config, data: Dataset, result: Compression) -> dict:
    """Residuals of test jets compressed by the firmware encoder and decoded offline; Keras figures beside them."""
    rep = cfg.data.representation
    x_test = np.asarray(data.x_test)
    original = to_physical(x_test, rep)
    dec = decoder(result.model, cfg.model)
    reco = decode(dec, result.preprocessor, firmware_codes(fw, x_test), rep)
    save_decoder(fw.directory, dec, result.preprocessor, rep)
    res, summary, merit = fidelity(original, reco, cfg.metrics.n_bootstrap, cfg.seed)
    names, corr = residuals.correlations(res)
    keras = {k: result.metadata[k] for k in ("rms", "rms_error")}
    return {**merit, "residuals": summary, "histograms": residuals.histograms(res, summary),
            "correlations": {"names": names, "matrix": np.nan_to_num(corr).tolist()},
            "keras": {**keras, "residuals": result.summary}}


# ---------------------------------------------------------------- runs (`codesign train` / `codesign emulate`)


def format_residuals(columns: dict[str, dict]) -> str:
    """Per variable: residual RMS and 68 % half-width, one column pair per label (e.g. Keras, firmware)."""
    labels = list(columns)
    head = f"{'variable':<10} {'residual':<9}" + "".join(f" | {label[:30]:^30}" for label in labels)
    sub = f"{'':<20}" + "".join(f" | {'RMS':^14} {'68 % half-width':^15}" for _ in labels)
    lines = [head, sub, "-" * len(sub)]
    first = next(iter(columns.values()))
    for var in VARIABLES:
        kind = first["residuals"][var]["kind"]
        row = f"{var:<10} {kind:<9}"
        for label in labels:
            s = columns[label]["residuals"][var]
            lo, hi = s.get("rms_interval", (s["rms"], s["rms"]))
            row += f" | {s['rms']:7.4f} ± {(hi - lo) / 2:5.4f} {s['half_width_68']:^15.4f}"
        lines.append(row)
    lines.append(f"{'mean RMS':<20}" + "".join(f" | {c['rms']:7.4f} ± {c['rms_error']:5.4f} {'':15}"
                                               for c in columns.values()))
    lines.append(f"(relative residuals (reco - orig) / orig for pT and m, absolute for eta and phi (wrapped); "
                 f"{first['n']:,} test jets; ± = bootstrap 68 % interval)")
    return "\n".join(lines)


def save_run(out: Path, config: Config, result: Compression, formats=("png", "pdf")) -> dict[str, dict]:
    """model/, config.yaml, residuals.json/.csv and the figures (plots/) of a trained compression."""
    import json


    persistence.save(out / "model", result.model, result.metadata)
    (out / "config.yaml").write_text(dump(config))
    summary = result.summary
    (out / "residuals.json").write_text(json.dumps({"rms": result.metadata["rms"],
                                                    "rms_error": result.metadata["rms_error"],
                                                    "n": result.metadata["n"], "residuals": summary}, indent=2))
    rows = ["variable,kind,n,mean,rms,rms_low,rms_high,half_width_68," + ",".join(f"q{q}" for q in residuals.QUANTILES)]
    for var, s in summary.items():
        rows.append(",".join(str(v) for v in [var, s["kind"], s["n"], s["mean"], s["rms"], *s["rms_interval"],
                                              s["half_width_68"], *s["quantiles"].values()]))
    (out / "residuals.csv").write_text("\n".join(rows) + "\n")
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    right = f"{result.metadata['data']['n_test']:,} test jets"
    names, matrix = residuals.correlations(result.residuals)
    drawn = {
        "residuals": figs.residual_histograms(residuals.histograms(result.residuals, summary), summary,
                                         [(v, signal_label(v, tex=True)) for v in VARIABLES], right, plots,
                                         "residuals", formats),
        "correlations": figs.correlations(result.residuals, summary, matrix, right, plots, "residual_correlations",
                                          formats),
        "losses": figs.losses(result.metadata["training"]["history"], config.model.kind, plots, "losses", formats),
        "distributions": figs.distributions(result.original, result.reconstructed, list(VARIABLES), right, plots,
                                            "distributions", formats),
    }
    return drawn


def emulate(model, config: Config, pre: Preprocessor, data: Dataset, options, target, out: Path,
            csim_check: int) -> int:
    """`codesign emulate RUN_DIR` for a compression: encoder and whole AE in firmware, bit-exact, with residuals.

    The encoder alone is what runs on detector (decoded offline in float); the whole AE in
    firmware shows what a fixed-point decoder would add. Each is checked bit for bit against
    C-simulation on `csim_check` jets plus edge inputs.
    """
    import json


    rep = config.data.representation
    x_test = np.asarray(data.x_test)
    original = to_physical(x_test, rep)
    parts = {"encoder": deployed(model, config.model)[0], "autoencoder": mean_reconstruction(model, config.model)}
    columns = {"Keras": fidelity(original, reconstruct(model, pre, x_test, rep), config.metrics.n_bootstrap,
                                 config.seed)}
    checks = {}
    for name, net in parts.items():
        fw = firmware.build(net, None, pre, data.x_train, options.model_copy(update={"score_head": False}),
                            target.part, target.clock_period_ns, cache_dir=out / "firmware",
                            input_groups=input_groups(data.input_names))
        checks[name] = {**evaluation.check_bit_exact(fw, x_test, csim_check, config.seed).to_dict(),
                        "firmware": str(fw.directory.relative_to(out)) if out in fw.directory.parents else
                        str(fw.directory), "output": str(fw.output_types[0])}
        if name == "encoder":
            reco = decode(decoder(model, config.model), pre, firmware_codes(fw, x_test), rep)
            label = "encoder fw + float decoder"
        else:
            (y,) = fw.emulate(x_test)
            reco = to_physical(fixed.to_float(y, fw.output_types[0].frac) * pre.scale + pre.offset, rep)
            label = "firmware autoencoder"
        columns[label] = fidelity(original, reco, config.metrics.n_bootstrap, config.seed)
    table = {label: {**merit, "residuals": summary} for label, (_, summary, merit) in columns.items()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "residuals.json").write_text(json.dumps(table, indent=1))
    (out / "bit_exact.json").write_text(json.dumps(checks, indent=1))
    print(format_residuals(table))
    exact = all(c["n_exact"] == c["n_events"] for c in checks.values())
    for name, c in checks.items():
        print(f"{name}: {c['n_exact']}/{c['n_events']} jets bit-exact C-sim vs emulator ({c['n_edge']} edge cases); "
              f"output {c['output']}; firmware in {c['firmware']}")
    return 0 if exact else 1


class JetCompression(Task):
    """Jet compression as a task: the encoder on chip, the residuals of the offline-decoded jets its merit."""

    name = NAME
    Config = Config
    merit = RESIDUAL_RMS
    data_file_field = "file"
    load_data = staticmethod(load_data)
    input_groups = staticmethod(input_groups)
    train = staticmethod(train)
    save_run = staticmethod(save_run)
    deployed = staticmethod(deployed)

    def format_results(self, columns: dict[str, Compression]) -> str:
        return format_residuals({label: c.metadata for label, c in columns.items()})

    def score_firmware(self, fw, config, data, trained: Compression, scoring: Scoring) -> dict:
        return score_firmware(fw, config, data, trained)

    def emulate(self, model, config, preprocessor, data, options, target, out, csim_check, run_dir=None) -> int:
        return emulate(model, config, preprocessor, data, options, target, out, csim_check)
