"""A search run directory: the one place that knows its file layout.

    search.json          the study's space, settings and provenance (written once; a resume must match)
    study.db             the Optuna storage (the embedded default; `--storage URL` elsewhere)
    data/                the study's events (`studydata`), written once, memory-mapped by every worker
    firmware/            every candidate's hls4ml project and emulator program, cached by content
    trials/NNNNN.json    one record per finished trial
    references/*.json    one record per reference design

The driver writes; the report and the export read through `RunDir` as well, so a run directory
copied from another machine (records only) is read the same way.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from codesign import provenance
from codesign.errors import ConfigError
from codesign.search.settings import Settings
from codesign.search.space import Space
from codesign.search.trial import TrialRecord

log = logging.getLogger("codesign")
SETTINGS_FILE = "search.json"
TRIALS_DIR = "trials"
REFERENCES_DIR = "references"
DATA_DIR = "data"
FIRMWARE_DIR = "firmware"
# Settings a resumed study may change: how it runs, not what it is.
RUN_ONLY = {"n_trials", "jobs", "scheduler", "tf_threads"}


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def settings_file(self) -> Path:
        return self.path / SETTINGS_FILE

    @property
    def data(self) -> Path:
        return self.path / DATA_DIR

    @property
    def firmware(self) -> Path:
        return self.path / FIRMWARE_DIR

    @property
    def trials(self) -> Path:
        return self.path / TRIALS_DIR

    @property
    def database(self) -> Path:
        return self.path / "study.db"

    def has_data(self) -> bool:
        return (self.data / "manifest.json").is_file()

    def trial_path(self, number: int) -> Path:
        return self.trials / f"{number:05d}.json"

    def reference_path(self, label: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower() or "reference"
        return self.path / REFERENCES_DIR / f"{slug}.json"

    # ------------------------------------------------------------ the study's identity
    def start(self, settings: Settings, space: Space) -> None:
        """Write search.json, or check that a resumed study is the same study (space, task, target, budget, base)."""
        current = {"space": space.model_dump(mode="json", by_alias=True),
                   "settings": settings.model_dump(mode="json", exclude=RUN_ONLY)}
        if self.settings_file.is_file():
            saved = json.loads(self.settings_file.read_text())
            # reference designs are scored beside the study, not part of it: a resumed study may add some
            saved, current = ({**d, "space": {k: v for k, v in d.get("space", {}).items() if k != "references"}}
                              for d in (saved, current))
            for key in ("space", "settings"):
                if saved.get(key) != current[key]:
                    changed = sorted(k for k in set(saved.get(key, {})) | set(current[key])
                                     if saved.get(key, {}).get(k) != current[key].get(k))
                    raise ConfigError(f"{self.path}: holds a study with different {key} ({', '.join(changed)}); "
                                      "use another --out to start a new study")
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self.settings_file.write_text(json.dumps({**current, "provenance": provenance.record(seed=settings.seed)},
                                                 indent=1, default=str))

    # ------------------------------------------------------------ records
    def read_trials(self) -> dict[int, TrialRecord]:
        """Every readable trial record by number (a corrupt one is skipped: the trial will be evaluated again)."""
        out = {}
        for path in sorted(self.trials.glob("*.json")):
            try:
                rec = TrialRecord.from_json(json.loads(path.read_text()))
                number = int(rec.number)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("%s: corrupt trial record, ignored (the trial will be evaluated again)", path)
                continue
            out[number] = rec
        return out

    def read_references(self) -> list[TrialRecord]:
        """The study's scored reference designs (`references/*.json`), in the order the space lists them."""
        out = []
        for path in sorted((self.path / REFERENCES_DIR).glob("*.json")):
            try:
                out.append(TrialRecord.from_json(json.loads(path.read_text())))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("%s: corrupt reference record, ignored (it will be scored again)", path)
        return out

    def save(self, record: TrialRecord) -> None:
        """A trial's or a reference's record, written whole (temporary file, then renamed into place)."""
        path = self.reference_path(record.reference) if record.reference is not None else \
            self.trial_path(record.number)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record.to_json(), indent=1, default=str))
        tmp.replace(path)
