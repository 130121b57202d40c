"""A search run directory as its readers (report, export) see it: settings, space and finished trials.

Only files are read (`search.json` and `trials/*.json`), never the Optuna database, so a
report works on a study that is still running (it shows what has finished), on a study
whose storage was PostgreSQL, and on a run directory copied from another machine.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from codesign.errors import CodesignError, ConfigError
from codesign.merit import Merit
from codesign.plotting import signal_label
from codesign.search import records
from codesign.search.rundir import RunDir
from codesign.search.settings import Settings
from codesign.search.space import Space
from codesign.search.trial import TrialRecord


class StudyError(CodesignError):
    """A run directory that holds no readable study."""


_MERIT_KEYS = ("tpr", "rms")  # what a reference may give: a signal efficiency or a residual RMS
_REFERENCE_KEYS = {*_MERIT_KEYS, *(f"{k}_error" for k in _MERIT_KEYS), "lut", "dsp", "ff", "latency_ns"}


@dataclass(frozen=True)
class Reference:
    """A point to mark on the Pareto plots: a trial of this study, or a published/external design."""

    label: str
    trial: int | None = None
    values: dict[str, float] = field(default_factory=dict)  # tpr or rms, its _error, lut, dsp, ff, latency_ns

    @property
    def merit_key(self) -> str | None:
        """The figure of merit an external design gives ('tpr' or 'rms'); a trial has its study's."""
        return next((k for k in _MERIT_KEYS if k in self.values), None)

    @classmethod
    def parse(cls, text: str) -> "Reference":
        """'12' (trial 12) or 'LABEL: lut=60000, tpr=0.02[, tpr_error=.., dsp=.., latency_ns=..]' (rms= for RMS)."""
        text = text.strip()
        if text.isdigit():
            return cls(label=f"trial {int(text)}", trial=int(text))
        label, sep, rest = text.rpartition(":")
        values = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = item.partition("=")
            try:
                values[key.strip()] = float(value)
            except ValueError:
                values = {}
                break
            if not eq or key.strip() not in _REFERENCE_KEYS:
                values = {}
                break
        merits = [k for k in _MERIT_KEYS if k in values]
        errors = {k.removesuffix("_error") for k in values if k.endswith("_error")}
        if (not sep or not label.strip() or len(merits) != 1 or not errors <= set(merits)
                or not values.keys() & {"lut", "dsp", "latency_ns"}):
            raise ConfigError(f"--reference {text!r}: expected a trial number or 'LABEL: tpr=X, lut=N' "
                              "(rms=X for a residual-RMS study; keys tpr or rms, tpr_error or rms_error, lut, dsp, "
                              "ff, latency_ns)")
        return cls(label=label.strip(), values=values)


@dataclass
class StudyView:
    run_dir: Path
    space: Space
    settings: Settings
    provenance: dict
    records: list[TrialRecord]  # every readable trial record, by number
    skipped: list[str]  # one line per unreadable trial file
    n_inputs: int
    updated: str = ""  # when the newest trial record was written (UTC): how fresh a running study's report is

    @property
    def complete(self) -> list[TrialRecord]:
        """Finished at full fidelity and not a re-use of an earlier trial's record."""
        return [r for r in self.records if r.complete and r.reused_from is None]

    @property
    def merit(self) -> Merit:
        """What the study optimises: signal efficiency (anomaly tasks) or residual RMS (compression)."""
        return self.settings.merit

    @property
    def signals(self) -> list[str]:
        """The merit's components: signals of an anomaly study, reconstructed variables of a compression."""
        for r in self.complete:
            return list(self.merit.components(r))
        return []

    def counts(self) -> dict[str, int]:
        out = {"finished": len(self.records)}
        for r in self.records:
            status = "reused" if r.reused_from is not None else r.status.value
            if status == "pruned" and r.reason.startswith("not a model"):
                status = "not_a_model"  # its threshold is the inputs alone's (search.objective.NOT_A_MODEL)
            out[status] = out.get(status, 0) + 1
        out["feasible"] = sum(1 for r in self.complete if r.feasible)
        return out

    def front(self) -> list[TrialRecord]:
        return records.front(self.records, self.settings)

    @property
    def references(self) -> list[TrialRecord]:
        """The space's reference designs as scored on this study's events (`references/*.json`)."""
        return RunDir(self.run_dir).read_references()

    def baseline(self) -> TrialRecord | None:
        base = self.space.baseline
        return next((r for r in self.complete if base and r.params == base), None)

    def trial(self, number: int, what: str = "--reference") -> TrialRecord:
        """A complete trial's record; `what` names the option in the error."""
        for r in self.records:
            if r.number == number:
                if not r.complete:
                    raise ConfigError(f"{what} {number}: trial {number} is {r.status} "
                                      f"({r.reason or 'no result'}), not a complete candidate")
                return r
        raise ConfigError(f"{what} {number}: no trial {number} in {self.run_dir} "
                          f"(finished trials: {len(self.records)})")

    def describe(self, params: dict) -> str:
        """'57-32-16-3, 8-bit weights / 8-bit activations, 75 % pruned, raw inputs, latency RF 1' ('VAE ' first
        for a variational autoencoder, the latent code's bits after the weights' for a compression)."""
        base = self.settings.base_config.get("model", {})
        depth = int(params.get("depth", len(base.get("encoder", []))))
        encoder = list(base.get("encoder") or [])
        widths = [params.get(f"width_{i}", encoder[i - 1] if i <= len(encoder) else "?") for i in range(1, depth + 1)]
        latent = params.get("latent", base.get("latent"))
        quant = base.get("quantization") or {}
        wbits = params.get("weight_bits", (quant.get("weight") or {}).get("bits"))
        abits = params.get("activation_bits", (quant.get("activation") or {}).get("bits"))
        sparsity = params.get("sparsity", (base.get("pruning") or {}).get("sparsity", 0.0))
        parts = ["-".join(str(w) for w in [self.n_inputs, *widths, latent])]
        if str(params.get("model", base.get("kind", ""))).lower() == "vae":
            parts[0] = f"VAE {parts[0]}"
        hgq = params.get("quantizer", base.get("quantizer")) == "hgq"
        if hgq:  # widths learned per weight and activation; pruned by learning zero-bit weights
            beta = params.get("beta", ((self.settings.base_config.get("training") or {}).get("hgq") or {}).get("beta"))
            parts.append(f"HGQ β {float(beta):.1e}" if beta is not None else "HGQ")
            wbits, sparsity = None, 0.0
        if wbits:
            parts.append(f"{wbits}-bit weights / {abits}-bit activations" if abits else f"{wbits}-bit weights")
        code = None if hgq else params.get("code_bits", (base.get("code") or {}).get("bits"))  # shipped per value
        if code:
            parts.append(f"{code}-bit code")
        if sparsity:
            parts.append(f"{100 * float(sparsity):.0f} % pruned")
        pre = params.get("preprocessing", self.settings.base_config.get("preprocessing", "none"))
        parts.append(INPUT_WORDS.get(pre, f"{pre} inputs"))
        strategy = params.get("strategy", "latency")
        parts.append("distributed arithmetic" if strategy == "da" else
                     f"{strategy} RF {params.get('reuse_factor', 1)}")
        return ", ".join(parts)


# How each preprocessing reads in a design's one-line description.
INPUT_WORDS = {"none": "raw inputs", "standard": "standardised inputs", "bounded": "bounded inputs (per quantity)",
               "bounded_slot": "bounded inputs (per slot)"}


def objective_label(tpr: str, tex: bool = False) -> str:
    """How a study's `--objective` reads in titles: 'geomean', 'min', 'mean', or a signal's label."""
    words = {"average": "mean", "per-signal": "geomean"}
    return words.get(tpr, tpr) if tpr in (*words, "geomean", "min", "mean") else signal_label(tpr, tex)


def load(run_dir: str | Path) -> StudyView:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StudyError(f"{run_dir}: no such directory (give the --out directory of a `codesign search` run)")
    settings_file = RunDir(run_dir).settings_file
    if not settings_file.is_file():
        hint = " (it looks like a `codesign train` run)" if (run_dir / "metrics.json").is_file() else ""
        raise StudyError(f"{run_dir}: no search study here{hint}: {settings_file.name} is missing; "
                          "give the --out directory of a `codesign search` run")
    try:
        saved = json.loads(settings_file.read_text())
        space = Space.model_validate(saved["space"])
        settings = Settings.model_validate(saved["settings"])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"{settings_file}: corrupt study file ({exc}); expected the JSON written by "
                          "`codesign search`") from None
    except (KeyError, TypeError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise StudyError(f"{settings_file}: not a codesign search study file ({first})") from None

    try:
        merit = settings.merit
    except ConfigError as exc:
        raise StudyError(f"{settings_file}: {exc}") from None
    recs, skipped, newest = [], [], 0.0
    trials_dir = RunDir(run_dir).trials
    for path in sorted(trials_dir.glob("*.json")) if trials_dir.is_dir() else []:
        try:
            newest = max(newest, path.stat().st_mtime)
            rec = TrialRecord.from_json(json.loads(path.read_text()))
            _check_record(rec, merit)
        except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
            skipped.append(f"{path}: corrupt trial record, skipped ({_short(exc)})")
            continue
        recs.append(rec)
    if not recs:
        detail = f"; {len(skipped)} unreadable" if skipped else ""
        raise StudyError(f"{run_dir}: the study has no finished trials yet ({trials_dir} is empty{detail})")
    n_inputs = _n_inputs(run_dir, merit, recs)
    updated = datetime.datetime.fromtimestamp(newest, datetime.timezone.utc).isoformat(timespec="seconds")
    return StudyView(run_dir, space, settings, saved.get("provenance", {}), sorted(recs, key=lambda r: r.number),
                     skipped, n_inputs, updated)


def _n_inputs(run_dir: Path, merit: Merit, records: list[TrialRecord]) -> int:
    """From the study's data manifest; without it (a copied run directory), the ADC2021 inputs of an anomaly
    study, the reconstructed variables of a compression."""
    try:
        return int(json.loads((RunDir(run_dir).data / "manifest.json").read_text())["shapes"]["x_test"][1])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        if merit.is_efficiency:
            return 57
        return max((len(merit.components(r)) for r in records if r.complete), default=0)


def _check_record(rec: TrialRecord, merit: Merit) -> None:
    """Enough of a trial record to draw it; a half-written or foreign file (or another task's) fails here."""
    int(rec.number)
    if rec.complete:
        merit.value(rec)
        for key in ("lut", "dsp", "latency_ns"):
            rec.resource(key)
        for entry in rec.scored[merit.per].values():
            merit.component(entry)


def _short(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyError) else str(exc)
    return re.sub(r"\s+", " ", text)[:120]

