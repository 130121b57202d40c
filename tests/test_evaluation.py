"""Scoring firmware: thresholds that rest on tied scores are refused, not reported."""

import numpy as np
import pytest

from codesign import evaluation, firmware
from codesign.errors import MetricError

from .firmware.cases import Case, vectors


@pytest.fixture(scope="module")
def fw(tmp_path_factory):
    case = Case("tie", bits=6, integer=0, act_bits=8, act_integer=2, encoder=(6,), latent=2)
    calib, _ = vectors(case.n_inputs, 500)
    return firmware.build(case.model(), case.spec(), None, calib, case.options(),
                          cache_dir=tmp_path_factory.mktemp("fw")), calib


def test_identical_events_at_the_top_make_a_tie_that_is_refused(fw):
    fw, calib = fw
    rng = np.random.default_rng(0)
    background = rng.normal(0, 0.3, (10_000, 10))
    loud = np.full((15, 10), 50.0)  # 15 copies of one event far outside: the same score, above all others
    signals = {"s": rng.normal(0, 1.0, (500, 10))}
    with pytest.raises(MetricError, match=r"rests on 0 background events strictly above it.*15 of 10015.*tie"):
        evaluation.score_dataset(fw, np.concatenate([background, loud]), signals, 1e-3, 20, 0)
    # a tie below the allowed count is kept, with the number of events above the threshold it really has
    scores, b, _ = evaluation.score_dataset(fw, np.concatenate([background, loud[:5]]), signals, 1e-3, 20, 0)
    s = scores["s"]
    assert s.n_background_above == int(np.sum(b > s.threshold)) and 5 <= s.n_background_above <= 10
    top = evaluation.tail(b, 8)
    assert top["score"][:5] == [b.max()] * 5 and sorted(top["index"][:5]) == list(range(10_000, 10_005))
    assert evaluation.tail_overlap(top, top) == 1.0 and evaluation.tail_overlap(top, evaluation.tail(-b, 8)) == 0.0
