"""The README's DQM chain on generated ROOT files: generate -> fetch -> train (PCA, AE, tests) -> assess + webpage."""

import json
import subprocess
import sys

import numpy as np

from codesign import cli
from codesign.data import dqm_table as tbl


def dqm(*args):
    return cli.main(["dqm", *map(str, args)])


def test_generate_fetch_train_assess(tmp_path, capsys):
    root, work = tmp_path / "root", tmp_path / "work"
    assert dqm("generate", "--out", root, "--runs", 120, "--seed", 5) == 0
    assert dqm("fetch", "--input_dir", root, "--contents", root / "contents.json", "--datasets",
               root / "datasets.json", "--output_dir", work, "--quiet") == 0
    assert "120 files: 120 converted" in capsys.readouterr().out
    table = work / "SingleMuon.parquet"
    ml = work / "ml"
    hists = "L1T//Run summary/L1TStage2EMTF/emtfTrackEta,CSC//Run summary/CSCOfflineMonitor/Occupancy/hORecHits"
    steps = [["--input_file", table, "--algorithm", "pca", "--tag", "pca"],
             ["--algorithm", "autoencoder", "--tag", "ae", "--autoencoder_mode", "simultaneous"],
             ["--algorithm", "statistical_tester", "--test", "ks", "--tag", "ks"],
             ["--algorithm", "statistical_tester", "--test", "beta_binomial", "--n_references", 4, "--tag", "bb4"]]
    for step in steps:
        args = step if step[0] == "--input_file" else ["--input_file", ml / "SingleMuon.parquet", *step]
        assert dqm("train", *args, "--output_dir", ml, "--histograms", hists, "--min_entries", 2000) == 0
    t = tbl.read(ml / "SingleMuon.parquet")
    assert t.tags() == ["pca", "ae", "ks", "bb4"] and len(t) == 120
    for tag in t.tags():
        for h in hists.split(","):
            assert np.isfinite(t.score(h, tag)[t.frame[f"split_{tag}"] != "missing"]).any()
    assert dqm("assess", "--input_file", ml / "SingleMuon.parquet", "--output_dir", work / "plots",
               "--truth", root / "truth.json", "--make_webpage", "--n_bootstrap", 20) == 0
    out = capsys.readouterr().out
    assert "AUC" in out and "run level [bb4]" in out
    summary = json.loads((work / "plots" / "summary.json").read_text())
    assert (work / "plots" / "index.html").is_file() and (work / "plots" / "tables" / "false_alarm.tex").is_file()
    pngs = {p.name for p in (work / "plots" / "img").glob("*.png")}
    assert pngs == {f["png"] for f in summary["figures"].values()} and len(pngs) >= 10
    assert set(summary["roc"]) == set(hists.split(","))


def test_corrupt_files_and_unsafe_names_from_the_command_line(tmp_path):
    """A truncated ROOT file is skipped with a warning naming it; histogram paths with '/' or '..' are just
    missing; nothing is written outside --output_dir; a malformed JSON is one line and exit 2."""
    root, out = tmp_path / "root", tmp_path / "out"
    assert dqm("generate", "--out", root, "--runs", 30, "--seed", 2) == 0
    victim = sorted(root.rglob("*.root"))[3]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    contents = tmp_path / "contents.json"
    contents.write_text(json.dumps({"L1T": ["/Run summary/L1TStage2EMTF/emtfTrackBX", "/../../../escape",
                                            "/Run summary/../../x/y"]}))
    before = {p for p in tmp_path.rglob("*")}
    proc = subprocess.run([sys.executable, "-m", "codesign", "dqm", "fetch", "--input_dir", str(root), "--contents",
                           str(contents), "--datasets", str(root / "datasets.json"), "--output_dir", str(out),
                           "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert victim.name in proc.stderr and "Traceback" not in proc.stderr
    assert "1 skipped" in proc.stdout
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all(out in p.parents or p == out for p in created)
    t = tbl.read(out / "SingleMuon.parquet")
    assert t.histograms == ["L1T//Run summary/L1TStage2EMTF/emtfTrackBX"] and len(t) == 29
    bad = tmp_path / "bad.json"
    bad.write_text('{"L1T": ["/a",]}')
    proc = subprocess.run([sys.executable, "-m", "codesign", "dqm", "fetch", "--input_dir", str(root), "--contents",
                           str(bad), "--datasets", str(root / "datasets.json"), "--output_dir", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "bad.json" in proc.stderr
