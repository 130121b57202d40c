"""TrialRecord: the typed record every reader reads; the JSON on disk is unchanged by a round trip."""

import json

import pytest

from codesign.evaluation import BitExactCheck
from codesign.merit import EFFICIENCY, RESIDUAL_RMS
from codesign.search.trial import Status, TrialRecord

# a trial record as the objective writes it, then numbered and judged by the driver
TRIAL = {"params": {"depth": 1, "width_1": 8, "latent": 2}, "status": "complete", "reason": "",
         "seconds": {"train": 3.2, "total": 9.1}, "key": "0123456789abcdef", "tpr": 2e-3, "tpr_error": 1e-4,
         "auc": 0.81, "keras": {"tpr": 2.1e-3}, "scores": {"Ato4l": {"tpr": 2e-3, "auc": 0.9, "n_signal": 1000}},
         "curves": {"roc": {}}, "tail": {"index": [3, 1]}, "tail_shared_with_inputs": 0.4, "tail_setting_events": 10,
         "estimate": {"lut": 9872, "ff": 3000, "dsp": 0, "bram18": 0, "latency_ns": 25.0, "ii": 1,
                      "method": "analytic"},
         "bit_exact": {"n_events": 1061, "n_exact": 1061, "n_edge": 61, "fraction": 1.0, "csim_seconds": 0.2,
                       "emulator_seconds": 0.01},
         "layers": [{"name": "dense_1", "kind": "dense"}], "firmware": "firmware/525ea81617d77eb7f79b",
         "sparsity": 0.5, "epochs_run": 12, "number": 3, "feasible": True, "violations": {"lut": -0.2}}
REFERENCE = {"reference": "inputs alone", "params": {}, "config": "inputs alone (bounded)", "status": "complete",
             "reason": "", "seconds": {"score": 1.0}, "inputs": "bounded", "tpr": 1e-3, "tpr_error": 1e-4,
             "auc": 0.7, "scores": {"Ato4l": {"tpr": 1e-3}}, "tail": {"index": [1]}}


@pytest.mark.parametrize("data", [TRIAL, REFERENCE], ids=["trial", "reference"])
def test_json_round_trip_keeps_every_field(data):
    rec = TrialRecord.from_json(json.loads(json.dumps(data)))
    again = rec.to_json()
    assert again == data  # every key and value, nothing invented
    assert json.loads(json.dumps(again)) == data and TrialRecord.from_json(again) == rec


def test_fields_are_typed():
    rec = TrialRecord.from_json(TRIAL)
    assert rec.status is Status.COMPLETE and rec.complete and rec.status == "complete" and str(rec.status) == "complete"
    assert rec.number == 3 and rec.label == "3" and rec.feasible and rec.violations == {"lut": -0.2}
    assert rec.bit_exact == BitExactCheck(1061, 1061, 61, 0.2, 0.01) and rec.bit_exact.fraction == 1.0
    assert rec.resource("lut") == 9872.0 and rec.layers[0]["kind"] == "dense"
    assert rec.run == {"sparsity": 0.5, "epochs_run": 12}  # how it ran, apart from what it scored
    assert EFFICIENCY.value(rec) == 2e-3 and EFFICIENCY.error(rec) == 1e-4
    assert list(EFFICIENCY.components(rec)) == ["Ato4l"] and rec.get("auc") == 0.81
    ref = TrialRecord.from_json(REFERENCE)
    assert ref.number is None and ref.label == "inputs alone" and ref.run["inputs"] == "bounded"
    assert ref.estimate is None and ref.bit_exact is None and not ref.feasible


def test_a_compression_reads_through_its_merit():
    rec = TrialRecord(Status.COMPLETE, {}, number=0, scored={"rms": 0.05, "rms_error": 0.001,
                                                             "residuals": {"pt": {"rms": 0.04}}})
    assert RESIDUAL_RMS.value(rec) == 0.05 and RESIDUAL_RMS.goodness(rec) == -0.05
    assert RESIDUAL_RMS.components(rec) == {"pt": {"rms": 0.04}} and EFFICIENCY.components(rec) == {}


def test_a_failed_or_foreign_record_is_refused_or_kept_as_failed():
    failed = TrialRecord.from_json({"params": {"depth": 9}, "status": "failed", "reason": "invalid parameters: x",
                                    "seconds": {}, "number": 4, "feasible": False})
    assert failed.status is Status.FAILED and not failed.complete and failed.reason.startswith("invalid")
    with pytest.raises(ValueError, match="'done' is not a valid Status"):
        TrialRecord.from_json({**TRIAL, "status": "done"})
    with pytest.raises(TypeError, match="params is not a mapping"):
        TrialRecord.from_json({**TRIAL, "params": [1, 2]})
    with pytest.raises(KeyError):
        TrialRecord.from_json({"params": {}})


def test_with_changes_typed_fields_only():
    rec = TrialRecord.from_json(TRIAL)
    reused = rec.with_(number=9, reused_from=3)
    assert (reused.number, reused.reused_from, rec.number) == (9, 3, 3)
    assert reused.to_json()["reused_from"] == 3 and reused.scored is rec.scored


def test_a_typed_field_is_not_read_as_a_figure():
    rec = TrialRecord.from_json(TRIAL)
    for name in ("feasible", "estimate", "number", "sparsity"):
        with pytest.raises(AttributeError, match="typed field"):
            rec.get(name)
