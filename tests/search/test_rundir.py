"""RunDir: the run directory's layout, a study's identity on resume, records saved whole and read back."""

import json

import pytest

from codesign.errors import ConfigError
from codesign.search.rundir import RunDir
from codesign.search.settings import Settings
from codesign.search.space import Space
from codesign.search.trial import Status, TrialRecord

SPACE = {"task": "l1-anomaly", "dimensions": {"latent": {"choice": [2, 3]}}}


def _settings(**kw):
    return Settings(task="l1-anomaly", target="xcvu9p", **kw)


def test_a_resumed_study_must_be_the_same_study(tmp_path):
    rd = RunDir(tmp_path / "run")
    space = Space.model_validate(SPACE)
    rd.start(_settings(n_trials=3), space)
    saved = json.loads(rd.settings_file.read_text())
    assert saved["settings"]["task"] == "l1-anomaly" and "versions" in json.dumps(saved["provenance"])
    rd.start(_settings(n_trials=50, jobs=2), space)  # how it runs may change
    with pytest.raises(ConfigError, match="holds a study with different settings \\(seed\\)"):
        rd.start(_settings(seed=7), space)
    with pytest.raises(ConfigError, match="holds a study with different space \\(dimensions\\)"):
        rd.start(_settings(), Space.model_validate({**SPACE, "dimensions": {"latent": {"choice": [4]}}}))


def test_records_are_saved_whole_and_read_back_typed(tmp_path, caplog):
    rd = RunDir(tmp_path)
    trial = TrialRecord(Status.COMPLETE, {"latent": 2}, number=12, feasible=True, scored={"tpr": 0.1},
                        estimate={"lut": 5.0})
    ref = TrialRecord(Status.FAILED, {}, reference="Seed-004 as published (8-bit)", reason="worker lost")
    rd.save(trial)
    rd.save(ref)
    assert rd.trial_path(12) == tmp_path / "trials" / "00012.json" and rd.trial_path(12).is_file()
    assert rd.reference_path(ref.reference).name == "seed-004-as-published-8-bit.json"
    assert rd.read_trials() == {12: trial} and rd.read_references() == [ref]
    assert not list(tmp_path.rglob("*.tmp"))  # written to a temporary file, renamed into place
    rd.trial_path(13).write_text('{"params": {}, "status": "compl')  # a record cut short by a kill
    assert rd.read_trials() == {12: trial} and "corrupt trial record, ignored" in caplog.text
