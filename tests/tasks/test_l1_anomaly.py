import numpy as np
import pytest

from codesign.tasks import base, l1_anomaly

SMALL = {"seed": 4, "data": {"n_train": 4000, "n_val": 1000, "n_test": 10000, "n_signal": 800,
                             "signals": ["Ato4l", "hChToTauNu"]},
         "training": {"epochs": 2, "batch_size": 256}, "metrics": {"fpr": 1e-3, "n_bootstrap": 10}}


@pytest.fixture(scope="module")
def dataset():
    return l1_anomaly.load_data(l1_anomaly.Config.model_validate(SMALL))


def test_synthetic_splits_are_disjoint_and_sized(dataset):
    assert dataset.x_train.shape == (4000, 57) and dataset.x_val.shape == (1000, 57)
    assert dataset.x_test.shape == (10000, 57) and set(dataset.signals) == {"Ato4l", "hChToTauNu"}
    train_rows = {r.tobytes() for r in dataset.x_train}
    assert not any(r.tobytes() in train_rows for r in dataset.x_test)


@pytest.mark.parametrize("model", [
    {"kind": "dense_ae", "encoder": [16, 8]},
    {"kind": "vae", "encoder": [16], "latent": 3, "score": "kl"},
    {"kind": "dense_ae", "encoder": [16, 8], "activation": "relu",
     "quantization": {"weight": {"bits": 8, "integer": 0}, "activation": {"bits": 8, "integer": 3}},
     "pruning": {"sparsity": 0.5, "end_epoch": 1}},
], ids=["ae", "vae", "q8-pruned"])
def test_train_and_score(dataset, model):
    cfg = l1_anomaly.Config.model_validate({**SMALL, "preprocessing": "standard", "model": model,
                                            "training": {"epochs": 3, "batch_size": 256}})
    result = base.train_and_score(cfg, dataset)
    assert set(result.scores) == {"Ato4l", "hChToTauNu"}
    for s in result.scores.values():
        assert s.n_background == 10000 and s.n_background_above == 10 and 0 <= s.tpr <= 1
    assert np.isfinite(result.background_scores).all()
    # Preprocessing is fitted on the training sample only.
    np.testing.assert_allclose(result.preprocessor.offset, dataset.x_train.mean(axis=0), rtol=1e-6, atol=1e-6)
    if "pruning" in model:
        assert result.metadata["sparsity"]["overall"] >= 0.49


def test_format_scores_shows_every_run_side_by_side(dataset):
    cfg = l1_anomaly.Config.model_validate({**SMALL, "model": {"encoder": [8], "latent": 2}})
    result = base.train_and_score(cfg, dataset)
    table = base.format_scores({"float": result.scores, "again": result.scores})
    assert "Ato4l" in table and "float" in table and "again" in table and "10 of 10000" in table
