"""Ctrl-C (SIGINT to the process group) during long commands: "interrupted", exit 130, within seconds, no
process left, nothing half-written, and the same command then runs (or resumes) cleanly. The search's own
test (workers, resume) is tests/search/test_study.py::test_stopped_mid_candidate_then_resume."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest


def interrupt(argv, cwd, ready):
    """Run `codesign argv` in its own process group, SIGINT the group once `ready()`; (returncode, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "codesign", *map(str, argv)], cwd=cwd, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    for _ in range(100):  # every process of the group (pool workers) is gone
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the interrupted command are still running")
    return proc.returncode, err


def test_generate_interrupted_leaves_nothing_and_runs_again(tmp_path):
    out = tmp_path / "g"
    started = time.time()
    code, err = interrupt(["generate", "--out", out, "--n-background", 5_000_000], tmp_path,
                          lambda: time.time() - started > 3)
    assert code == 130 and err.strip() == "codesign: interrupted", err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no output, no staging directory
    done = subprocess.run([sys.executable, "-m", "codesign", "generate", "--out", str(out), "--n-background", "2000",
                           "--n-signal", "200"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert (out / "background_for_training.h5").is_file()


def test_dqm_fetch_interrupted_resumes_from_its_cache(tmp_path):
    """uproot's file finalisers swallow a KeyboardInterrupt raised inside them; the fetch must still stop."""
    root = tmp_path / "dqm"
    assert subprocess.run([sys.executable, "-m", "codesign", "dqm", "generate", "--out", str(root), "--runs", "150"],
                          capture_output=True, timeout=300, check=False).returncode == 0
    out = tmp_path / "f"
    args = ["dqm", "fetch", "--input_dir", root, "--contents", root / "contents.json", "--datasets",
            root / "datasets.json", "--output_dir", out, "--quiet"]
    cache = out / ".fetch"
    code, err = interrupt(args, tmp_path, lambda: cache.is_dir() and sum(1 for _ in cache.rglob("*")) > 40)
    assert code == 130 and err.strip() == "codesign: interrupted", err
    assert not (out / "SingleMuon.parquet").exists()
    done = subprocess.run([sys.executable, "-m", "codesign", *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    converted, cached = map(int, re.search(r"(\d+) converted, (\d+) already converted", done.stdout).groups())
    assert converted + cached == 150 and cached > 0, done.stdout
