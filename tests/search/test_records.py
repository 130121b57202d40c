from codesign.search.records import format_front, within_errors
from codesign.search.settings import Settings
from codesign.search.trial import Status, TrialRecord


def _rec(number, tpr, err, lut):
    return TrialRecord(Status.COMPLETE, {"width": number}, number=number, feasible=True,
                       scored={"tpr": tpr, "tpr_error": err, "auc": 0.7, "scores": {}},
                       estimate={"lut": lut, "ff": 1, "dsp": 0, "bram18": 0, "latency_ns": 5.0, "ii": 1})


def test_front_points_within_errors_of_a_cheaper_one_are_named():
    settings = Settings(task="l1-anomaly", target="xcvu9p")
    rows = [_rec(1, 4.07e-4, 2.4e-5, 31000), _rec(2, 4.06e-4, 2.5e-5, 8600), _rec(3, 2.80e-4, 2.5e-5, 8100),
            _rec(4, 6.0e-4, 2.0e-5, 40000)]
    # 2 beats 3 by 5 sigma; 1 does not beat 2; 4 beats 2 (the anchor) beyond both errors
    assert within_errors(rows, settings) == {1: 2}
    table = format_front(rows, settings, resolve=True)
    assert "≈2" in table.splitlines()[1] and "within" in table.splitlines()[0]
    assert "≈" not in format_front(rows, settings)


def test_per_signal_fronts_have_no_single_order():
    settings = Settings(task="l1-anomaly", target="xcvu9p", tpr="per-signal", signals=("a", "b"))
    assert within_errors([_rec(1, 1e-4, 1e-4, 10), _rec(2, 1e-4, 1e-4, 20)], settings) == {}
