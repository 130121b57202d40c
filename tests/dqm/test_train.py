"""`codesign dqm train`: splits that keep bad runs out of training, tags that are loaded not overwritten, chaining."""

import json

import numpy as np
import pandas as pd
import pytest

from codesign import cli
from codesign.data import dqm_table as tbl
from tests.dqm.test_algorithms import H1, H2, INFOS, make_runs


@pytest.fixture()
def table_file(tmp_path):
    runs, labels = make_runs(n_good=120, n_bad=20, seed=4)
    labels = labels.copy()
    labels[:10] = -1  # unlabelled runs train like good ones
    frame = pd.DataFrame({"run_number": runs.runs, "year": 2018, "era": "A", "label": labels.astype(np.int8)})
    h1 = runs.histograms[H1].reshape(len(runs), -1).copy()
    h1[0] *= 1e-4  # far below min_entries
    h2 = runs.histograms[H2].reshape(len(runs), -1).copy()
    h2[1] = np.nan  # this run lacks H2
    path = tmp_path / "in" / "SingleMuon.parquet"
    tbl.write(path, tbl.Table(frame, {H1: h1, H2: h2}, dict(INFOS), {"fetch": {}}))
    return path


def train(*args):
    return cli.main(["dqm", "train", *map(str, args)])


def test_pca_then_ks_chained_in_one_file(table_file, tmp_path, capsys):
    out = tmp_path / "ml"
    assert train("--input_file", table_file, "--output_dir", out, "--algorithm", "pca", "--tag", "default_pca",
                 "--min_entries", 1000) == 0
    text = capsys.readouterr().out
    assert "removing 1/140 runs" in text and "1/140 runs lack" in text
    t = tbl.read(out / "SingleMuon.parquet")
    split = t.frame["split_default_pca"].to_numpy()
    labels = t.labels
    assert set(split[labels == 1]) == {"test"}  # bad runs never train or validate
    assert split[0] == "low_stat" and split[1] == "missing"
    eligible = int(((labels != 1) & (np.arange(140) > 1)).sum())
    n_train = round(0.5 * eligible)  # --train_fraction 0.5, of which --val_fraction 0.2 validates
    assert (split == "train").sum() == n_train - round(0.2 * n_train) and (split == "val").sum() == round(0.2 * n_train)
    for h in (H1, H2):
        score = t.score(h, "default_pca")
        assert np.isfinite(score[2:]).all() and np.isnan(score[1]) == (h == H2)
        assert t.reco(h, "default_pca").shape == (140, *INFOS[h].shape)
    # Chaining: the output is the next input; both tags live side by side.
    assert train("--input_file", out / "SingleMuon.parquet", "--output_dir", out, "--algorithm", "statistical_tester",
                 "--test", "beta_binomial", "--n_references", 4, "--tag", "bb4", "--min_entries", 1000) == 0
    t = tbl.read(out / "SingleMuon.parquet")
    assert t.tags() == ["default_pca", "bb4"] and t.reco(H1, "bb4") is None
    assert set(t.meta["tags"]) == {"default_pca", "bb4"} and "fetch" in t.meta
    models = sorted(p.relative_to(out).as_posix() for p in (out / "models").rglob("*") if p.is_file())
    assert "models/default_pca/algorithm.json" in models and "models/bb4/references.npz" in models
    assert all(p.suffix in (".json", ".npz") for p in (out / "models").rglob("*") if p.is_file())


def test_existing_tag_is_loaded_not_retrained(table_file, tmp_path, capsys):
    out = tmp_path / "ml"
    assert train("--input_file", table_file, "--output_dir", out, "--algorithm", "pca", "--tag", "p",
                 "--min_entries", 1000) == 0
    state = (out / "models" / "p" / "algorithm.json").read_bytes()
    first = tbl.read(out / "SingleMuon.parquet").score(H1, "p")
    capsys.readouterr()
    assert train("--input_file", table_file, "--output_dir", out, "--algorithm", "pca", "--tag", "p",
                 "--min_entries", 1000) == 0
    assert "loaded, not retrained" in capsys.readouterr().out
    assert (out / "models" / "p" / "algorithm.json").read_bytes() == state
    np.testing.assert_array_equal(tbl.read(out / "SingleMuon.parquet").score(H1, "p"), first)
    assert train("--input_file", table_file, "--output_dir", out, "--algorithm", "pca", "--n_components", 5,
                 "--tag", "p") == 2
    assert "tag 'p' already holds a pca" in capsys.readouterr().err


def test_json_config_with_flag_override(table_file, tmp_path):
    config = tmp_path / "ae.json"
    config.write_text(json.dumps({"name": "autoencoder", "input_file": str(table_file),
                                  "output_dir": str(tmp_path / "o"),
                                  "tag": "from_file", "histograms": f"{H1},{H2}", "min_entries": 1000,
                                  "config": {"n_nodes": 8, "n_components": 2, "n_epochs": 5, "mode": "individual"}}))
    assert train("--algorithm", config, "--tag", "ae_simul", "--autoencoder_mode", "simultaneous") == 0
    t = tbl.read(tmp_path / "o" / "SingleMuon.parquet")
    assert t.tags() == ["ae_simul"]
    state = json.loads((tmp_path / "o" / "models" / "ae_simul" / "algorithm.json").read_text())
    assert state["config"]["mode"] == "simultaneous" and state["config"]["n_nodes"] == 8
    assert (tmp_path / "o" / "models" / "ae_simul" / "simultaneous.h5").is_file()


@pytest.mark.parametrize("tag", ["../evil", "a/b", ".hidden", ""])
def test_unsafe_tags_are_refused(table_file, tmp_path, capsys, tag):
    assert train("--input_file", table_file, "--output_dir", tmp_path / "o", "--algorithm", "pca", "--tag", tag) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tag" in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "evil").exists()


def test_bad_input_is_one_line(table_file, tmp_path, capsys):
    out = tmp_path / "out"
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "pca", "tag": }')
    cases = [
        (["--config", bad], "invalid JSON at line 1"),
        (["--input_file", table_file, "--output_dir", out, "--algorithm", "svm", "--tag", "x"],
         "unknown algorithm 'svm'"),
        (["--input_file", table_file, "--output_dir", out, "--algorithm", "pca", "--tag", "x",
          "--histograms", "CSC//nope"], "no histogram 'CSC//nope'"),
        (["--input_file", tmp_path / "none.parquet", "--output_dir", out, "--algorithm", "pca", "--tag", "x"],
         "no such file"),
        (["--input_file", bad, "--output_dir", out, "--algorithm", "pca", "--tag", "x"], "not a readable parquet"),
        (["--output_dir", out, "--algorithm", "pca", "--tag", "x"], "input_file"),
        (["--input_file", table_file, "--output_dir", tmp_path, "--algorithm", "pca", "--tag", "x"],
         "holds files codesign did not write"),
    ]
    for args, fragment in cases:
        assert train(*args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err, (args, err)
        assert not out.exists()  # a refused command leaves no output directory behind


def test_pca_and_statistical_tests_never_import_tensorflow(table_file, tmp_path):
    import subprocess
    import sys

    code = ("import sys; from codesign import cli; "
            f"a = ['dqm', 'train', '--input_file', r'{table_file}', '--output_dir', r'{tmp_path / 'o'}', "
            "'--min_entries', '1000']; "
            "assert cli.main(a + ['--algorithm', 'pca', '--tag', 'p']) == 0; "
            f"a[3] = r'{tmp_path / 'o' / 'SingleMuon.parquet'}'; "
            "assert cli.main(a + ['--algorithm', 'statistical_tester', '--test', 'chi2', '--tag', 'c']) == 0; "
            "print('tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"
