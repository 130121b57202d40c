"""Per-lumisection monitoring: window scores, thresholds, series files, one-line errors, and the
generate -> train (dense, sparse LSTM, undercomplete LSTM, 8-bit) -> assess chain on a tiny series."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codesign import cli, metrics
from codesign.data import lumi_generator as lg
from codesign.dqm import lumi_model, lumi_scores, lumi_series, lumi_thresholds, lumi_windows
from codesign.errors import MetricError

# 600 LS; the test block (last 120) holds every kind: 7 empty, 4 noisy, 6 shifted, 7 burst LS. An empty LS
# is far from every good one, so "AUC on empty > 0.8" is checked together with a reconstruction error on
# good LS well below what a model that learned nothing (all zeros) would have.
SERIES = {"n_ls": 600, "seed": 52, "anomaly_fraction": 0.15}
TINY = ["--window", 10, "--epochs", 3, "--learning_rate", 0.01, "--batch_size", 16]
MODELS = {"dense": ["--model", "dense", "--units", "16,8,4"],
          "lstm_s": ["--model", "sparse_lstm", "--units", "8"],
          "lstm_u": ["--model", "undercomplete_lstm", "--units", "8,4"]}


def lumi(*args):
    return cli.main(["dqm", "lumisections", *map(str, args)])


def one_line_error(capsys, code, *fragments):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("codesign: error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# ---------------------------------------------------------------- pure functions


def test_window_mae_and_per_lumisection_by_hand():
    x = np.array([[[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]],
                  [[1.0, 1.0], [2.0, 0.0], [3.0, 3.0]]])  # 2 windows of 3 LS x 2 bins (LS 0-2, 1-3)
    reco = np.array([[[0.0, 0.0], [1.0, 3.0], [1.0, 1.0]],
                     [[1.0, 0.0], [2.0, 2.0], [0.0, 0.0]]])
    errors = lumi_windows.window_mae(x, reco)
    np.testing.assert_allclose(errors, [[0.5, 1.0, 1.0], [0.5, 1.0, 3.0]])
    # LS 1 is in both windows (positions 1 and 0): (1.0 + 0.5) / 2; LS 2: (1.0 + 1.0) / 2.
    np.testing.assert_allclose(lg.per_lumisection(errors, 4, stride=1), [0.5, 0.75, 1.0, 3.0])
    with pytest.raises(Exception, match="one \\(windows, width, bins\\) shape"):
        lumi_windows.window_mae(x, reco[:, :2])


def test_windows_stay_inside_runs_and_splits():
    run = np.array([1] * 7 + [2] * 5)
    split = np.array(["train"] * 9 + ["test"] * 3)
    seg = lumi_windows.segments_of(run, split)
    assert lumi_windows.blocks(seg) == [(0, 7), (7, 9), (9, 12)]
    idx = lumi_windows.window_indices(seg, width=3)
    assert idx.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6], [9, 10, 11]]
    np.testing.assert_array_equal(lumi_windows.split_of(10, (0.6, 0.2, 0.2)), ["train"] * 6 + ["val"] * 2 + ["test"] * 2)


def test_thresholds_flags_and_the_refusal():
    scores = np.r_[np.linspace(0.0, 1.0, 95), [5.0] * 5, np.nan]
    t = lumi_thresholds.threshold_percentile(scores, 99.7)
    assert t == 5.0  # five tied LS at the top (identical empty LS score the same)...
    assert lumi_thresholds.flag(scores, t).sum() == 5 and not lumi_thresholds.flag(scores, t)[-1]  # ...all flagged; NaN never
    assert lumi_thresholds.threshold_percentile(np.arange(1001.0), 99.0) == 990.0
    good = np.arange(1000.0)
    t = lumi_thresholds.threshold_false_alarm(good, 0.01)  # 10 of 1000 good LS may be flagged
    assert lumi_thresholds.flag(good, t).sum() == 10 and lumi_thresholds.flag(good, t)[-10:].all()
    with pytest.raises(MetricError, match="cannot resolve FPR 0.005 with 1000 good lumisections.*at least 10"):
        lumi_thresholds.threshold_false_alarm(good, 0.005)
    with pytest.raises(Exception, match="percentile 100"):
        lumi_thresholds.threshold_percentile(scores, 100)


# ---------------------------------------------------------------- series files


def test_series_round_trip_with_metadata_runs_and_sorting(tmp_path):
    s = lg.generate(n_ls=40, seed=3, anomaly_fraction=0.2)
    path = lumi_series.write_series(tmp_path / "s.parquet", s, run=np.r_[[7] * 25, [9] * 15])
    meta = json.loads(pq.read_schema(path).metadata[b"codesign.dqm"])
    assert meta["histograms"]["METSig"]["edges"][0] == s.edges.tolist()
    table = pq.read_table(path)
    assert table.column_names == ["run", "lumisection", "lumi", "label", "kind", "METSig"]
    pq.write_table(table.take(np.random.default_rng(0).permutation(40)), path)  # rows shuffled on disk
    m = lumi_series.read(path)
    np.testing.assert_array_equal(m.series.counts, s.counts)
    np.testing.assert_array_equal(m.series.labels, s.labels)
    np.testing.assert_array_equal(m.series.kinds, s.kinds)
    np.testing.assert_array_equal(m.series.edges, s.edges)
    assert m.run.tolist() == [7] * 25 + [9] * 15 and m.lumisection.tolist() == [*range(1, 26), *range(1, 16)]
    # Real data has no labels: missing label / kind read as -1 / ''.
    bare = tmp_path / "bare.parquet"
    pq.write_table(pa.table({"run": [1, 1], "lumisection": [2, 1], "h": [[1.0, 2.0], [3.0, 4.0]]}), bare)
    b = lumi_series.read_series(bare)
    assert b.counts.tolist() == [[3.0, 4.0], [1.0, 2.0]] and b.labels.tolist() == [-1, -1]
    assert b.kinds.tolist() == ["", ""] and b.edges.tolist() == [0.0, 1.0, 2.0]


def _bad_files(tmp_path):
    nan = tmp_path / "nan.parquet"
    pq.write_table(pa.table({"run": [1] * 3, "lumisection": [1, 2, 3],
                             "METSig": [[1.0, 2.0], [1.0, float("nan")], [0.0, 1.0]]}), nan)
    ragged = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"run": [1] * 3, "lumisection": [1, 2, 3],
                             "METSig": [[1.0, 2.0], [1.0, 2.0, 3.0], [0.0, 1.0]]}), ragged)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1" + bytes(range(256)) * 4)
    short = lumi_series.write_series(tmp_path / "short.parquet", lg.generate(n_ls=30, seed=1))
    return {"nan": nan, "ragged": ragged, "corrupt": corrupt, "short": short}


@pytest.mark.parametrize("problem, extra, fragments", [
    ("nan", [], ["nan.parquet", "1 NaN/inf bin(s) in 1 lumisection(s), first at index 1"]),
    ("ragged", [], ["ragged.parquet", "different numbers of bins [2, 3]"]),
    ("corrupt", [], ["corrupt.parquet", "not a readable parquet file"]),
    ("missing", [], ["missing.parquet", "no such file"]),
    ("short", ["--window", 50], ["short.parquet", "series of 30 lumisections is shorter than the window of 50"]),
    ("short", ["--window", 10], ["short.parquet", "the val block", "holds no 10 consecutive lumisections"]),
    ("short", ["--model", "gru"], ["model: Input should be 'dense', 'sparse_lstm' or 'undercomplete_lstm'",
                                   "'gru'"]),
    ("short", ["--model", "undercomplete_lstm", "--units", "8"], ["takes 2 width(s) in units"]),
    ("short", ["--split", "0.5,0.5,0.5"], ["split", "summing to 1"]),
    ("short", ["--tag", "../x"], ["tag", "letters, digits"]),
    ("short", ["--window", 5, "--percentile", 100], ["argument --percentile", "strictly between 0 and 100"]),
])
def test_bad_inputs_are_one_line_and_exit_2(tmp_path, capsys, problem, extra, fragments):
    files = _bad_files(tmp_path)
    path = files.get(problem, tmp_path / "missing.parquet")
    args = ["--tag", "t", *extra] if "--tag" not in extra else extra
    code = lumi("train", "--input_file", path, "--output_dir", tmp_path / "out", *args)
    one_line_error(capsys, code, *fragments)
    assert not (tmp_path / "out" / "models").exists()


# ---------------------------------------------------------------- the chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """generate -> train dense, sparse LSTM, undercomplete LSTM (chained tags) -> assess."""
    d = tmp_path_factory.mktemp("lumi")
    series, out = d / "series.parquet", d / "out"
    assert lumi("generate", "--out", series, "--n_ls", SERIES["n_ls"], "--seed", SERIES["seed"],
                "--anomaly_fraction", SERIES["anomaly_fraction"]) == 0
    for tag, model in MODELS.items():
        assert lumi("train", "--input_file", series, "--output_dir", out, "--tag", tag, *model, *TINY) == 0
    assert lumi("assess", "--input_file", out / "scores.parquet", "--series", series, "--output_dir",
                d / "assess", "--n_bootstrap", 10) == 0
    return d


def test_chain_outputs_scores_and_page(chain):
    out, page = chain / "out", chain / "assess"
    frame = pd.read_parquet(out / "scores.parquet")
    assert len(frame) == 600 and frame.lumisection.tolist() == list(range(1, 601))
    assert {"run", "lumisection", "label", "kind", "split"} <= set(frame.columns)
    assert lumi_scores.tags_of(frame) == list(MODELS)  # chained: each train added its columns, kept the others
    for tag in MODELS:
        assert np.isfinite(frame[f"score_{tag}"]).all()  # stride 1: every LS lies in a window of its block
        assert frame[f"flag_{tag}"].dtype == bool
        flagged = pd.read_csv(out / f"flagged_{tag}.csv")
        assert list(flagged.columns) == ["run", "lumisection", "score", "label", "kind", "split"]
        assert len(flagged) == frame[f"flag_{tag}"].sum() >= 1
        assert (out / "models" / tag / "model.h5").is_file() and (out / "models" / tag / "minmax.json").is_file()
        saved = json.loads((out / "models" / tag / "settings.json").read_text())
        assert saved["n_ls"] == {"train": 360, "val": 120, "test": 120} and saved["provenance"]["seed"] == 0
    summary = json.loads((page / "summary.json").read_text())
    assert summary["tags"] == list(MODELS) and summary["counts"]["test_by_kind"] == {
        "empty": 7, "noisy": 4, "shifted": 6, "burst": 7}
    for tag, e in summary["per_tag"].items():
        assert 0.0 <= e["auc"] <= 1.0 and e["auc_error"] is not None and set(e["by_kind"]) == set(lg.KINDS)
        assert e["reconstructed"]["score"] == pytest.approx(frame[f"score_{tag}"][frame.split == "test"].max())
    figures = {f["png"] for f in summary["figures"].values()}
    assert figures == {p.name for p in (page / "img").glob("*.png")} and len(figures) == 1 + 3 * len(MODELS)
    html = (page / "index.html").read_text()
    assert all(f"img/{name}" in html for name in figures) and "src='/" not in html and "href='/" not in html
    md = (page / "summary.md").read_text()
    assert all(f"| {tag} |" in md for tag in MODELS) and "AUC empty (7)" in md


def test_trained_models_find_the_empty_lumisections(chain):
    frame = pd.read_parquet(chain / "out" / "scores.parquet")
    test = frame.split == "test"
    good, empty = test & (frame.label == 0), test & (frame.kind == "empty")
    # What a reconstruction that learned nothing (all zeros) would score.
    m = lumi_series.read(chain / "series.parquet")
    train = (frame.split == "train") & (frame.label != 1)
    x = lg.MinMax.fit(m.series.counts[train]).transform(m.series.counts)
    untrained = np.abs(x).mean(axis=1)
    for tag in ("lstm_s", "lstm_u"):
        s = frame[f"score_{tag}"].to_numpy()
        assert s[good].mean() < 0.95 * untrained[good].mean(), tag  # it learned to reconstruct good LS
        assert metrics.auc(s[good], s[empty]) > 0.8, tag  # and scores the empty ones above them


def test_same_settings_reload_other_settings_refused(chain, capsys):
    series, out = chain / "series.parquet", chain / "out"
    model = out / "models" / "lstm_s" / "model.h5"
    before = (model.stat().st_mtime_ns, model.read_bytes())
    scores_before = pd.read_parquet(out / "scores.parquet")["score_lstm_s"].to_numpy()
    capsys.readouterr()
    assert lumi("train", "--input_file", series, "--output_dir", out, "--tag", "lstm_s", *MODELS["lstm_s"],
                *TINY) == 0
    assert "loaded, not retrained" in capsys.readouterr().out
    assert (model.stat().st_mtime_ns, model.read_bytes()) == before
    np.testing.assert_array_equal(pd.read_parquet(out / "scores.parquet")["score_lstm_s"], scores_before)
    code = lumi("train", "--input_file", series, "--output_dir", out, "--tag", "lstm_s", *MODELS["lstm_s"],
                *TINY, "--epochs", 4)
    one_line_error(capsys, code, "tag 'lstm_s'", "epochs=3 (now 4)", "choose a new --tag")
    assert (model.stat().st_mtime_ns, model.read_bytes()) == before
    # A false-alarm rate the 120 validation LS cannot resolve is refused before anything is trained.
    code = lumi("train", "--input_file", series, "--output_dir", out, "--tag", "far", *MODELS["lstm_s"], *TINY,
                "--false_alarm", 0.01)
    one_line_error(capsys, code, "--false_alarm", "good validation LS", "at least 10")
    assert not (out / "models" / "far").exists()


def test_quantized_lstm_trains_and_scores(chain, tmp_path, capsys):
    out = tmp_path / "q"
    assert lumi("train", "--input_file", chain / "series.parquet", "--output_dir", out, "--tag", "q8",
                *MODELS["lstm_s"], *TINY, "--bits", 8, "--percentile", 99) == 0
    assert "sparse_lstm (8-bit)" in capsys.readouterr().out
    config = json.dumps(json.loads((out / "models" / "q8" / "settings.json").read_text())["settings"])
    assert '"bits": 8' in config
    import h5py

    with h5py.File(out / "models" / "q8" / "model.h5") as f:
        assert "QLSTM" in f.attrs["model_config"]
    frame = pd.read_parquet(out / "scores.parquet")
    s = frame["score_q8"].to_numpy()
    assert np.isfinite(s).all()
    test = frame.split == "test"
    assert frame["flag_q8"][test].sum() == int(np.sum(s[test] >= np.percentile(s[test], 99))) >= 1
    # The reloaded QKeras model scores exactly what was written.
    m = lumi_series.read(chain / "series.parquet")
    again = lumi_model.score(out / "models" / "q8", m.series, lumi_windows.segments_of(m.run, frame.split.to_numpy()))
    np.testing.assert_array_equal(again, s)
