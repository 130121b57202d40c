"""Full-size calibration of the generator against the published seed-004 results (slow: ~15 min)."""

import pytest

from codesign import config
from codesign.config import PRESETS
from codesign.tasks import anomaly, l1_anomaly

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    out = {}
    dataset = None
    for preset in ("l1_baseline", "l1_q8_pruned"):
        cfg = config.load(l1_anomaly.Config, PRESETS / f"{preset}.yaml")
        dataset = dataset or l1_anomaly.load_data(cfg)
        out[preset] = anomaly.train_and_score(cfg, dataset)
    return out


def test_baseline_lands_in_the_published_range(runs):
    scores = runs["l1_baseline"].scores
    assert 0.88 <= scores["Ato4l"].auc <= 0.96
    assert 1e-2 <= scores["Ato4l"].tpr <= 1e-1
    assert scores["Ato4l"].n_background_above >= 10
    for s in scores.values():
        assert 0.6 < s.auc < 0.99, s  # neither invisible nor trivial


def test_quantized_pruned_loses_in_the_published_direction(runs):
    base_scores, q = runs["l1_baseline"].scores, runs["l1_q8_pruned"].scores
    assert runs["l1_q8_pruned"].metadata["sparsity"]["overall"] >= 0.74
    assert q["Ato4l"].auc < base_scores["Ato4l"].auc
    assert q["Ato4l"].tpr < base_scores["Ato4l"].tpr
