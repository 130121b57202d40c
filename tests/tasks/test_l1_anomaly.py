import numpy as np
import pytest

from codesign.tasks import anomaly, l1_anomaly

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
    result = anomaly.train_and_score(cfg, dataset)
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
    result = anomaly.train_and_score(cfg, dataset)
    table = anomaly.format_scores({"float": result.scores, "again": result.scores})
    assert "Ato4l" in table and "float" in table and "again" in table and "10 of 10000" in table


def test_a_store_holds_the_same_events_as_memory_and_is_reused(tmp_path):
    from codesign import config as cfg
    from codesign.tasks import l1_anomaly

    config = cfg.parse(l1_anomaly.Config, {"task": "l1-anomaly", "seed": 5, "data": {
        "n_train": 3000, "n_val": 1000, "n_test": 20000, "n_signal": 500},
        "metrics": {"fpr": 1e-3}}, "test")
    in_memory = l1_anomaly.load_data(config)
    stored = l1_anomaly.load_data(config, store=tmp_path)
    for name in ("x_train", "x_val", "x_test"):
        assert isinstance(getattr(stored, name), np.memmap)
        assert np.array_equal(getattr(stored, name), getattr(in_memory, name))
    assert all(np.array_equal(stored.signals[k], in_memory.signals[k]) for k in in_memory.signals)
    files = sorted(p.name for p in tmp_path.glob("*.npy"))
    assert len(files) == 3 + 4
    before = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npy")}
    l1_anomaly.load_data(config, store=tmp_path)  # a resumed study: nothing is generated again
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("*.npy")} == before


def test_a_real_layout_file_is_split_in_chunks_like_a_random_permutation(tmp_path, monkeypatch):
    """Test events streamed out in file order, training and validation in the seeded permutation's order."""
    from codesign import config as cfg
    from codesign.data import adc2021
    from codesign.data import l1_generator as gen
    from codesign.tasks import l1_anomaly

    events = gen.background(9_000, seed=8).particles
    events[:, 0, 0] = np.arange(len(events))  # tag each event by its row in the file (MET pT)
    path = tmp_path / "bkg.h5"
    adc2021.write_events(path, events)
    sig = tmp_path / "sig.h5"
    adc2021.write_events(sig, gen.signal("Ato4l", 300, seed=8).particles)
    monkeypatch.setattr(adc2021, "read_chunks", lambda p, chunk_size=250_000, f=adc2021.read_chunks: f(p, 1000))
    config = cfg.parse(l1_anomaly.Config, {"task": "l1-anomaly", "seed": 3, "data": {
        "n_train": 3000, "n_val": 1000, "n_test": 4000, "n_signal": 200, "background_file": str(path),
        "signal_files": {"Ato4l": str(sig)}}, "metrics": {"fpr": 2.5e-3}}, "test")
    data = l1_anomaly.load_data(config, store=tmp_path / "store")
    order = np.random.default_rng(3).permutation(len(events))[:8000]
    tag = lambda x: np.asarray(x)[:, 0].astype(int)
    assert np.array_equal(tag(data.x_test), np.sort(order[:4000]))
    assert np.array_equal(tag(data.x_val), order[4000:5000]) and np.array_equal(tag(data.x_train), order[5000:])
    assert len(data.signals["Ato4l"]) == 200
