"""`codesign report` speed: a 200-trial study against a 20-trial one (the reference), HTML + PNG + PDF.

A real 6-trial study is run first (trained, compiled, C-simulated, scored: real records
with ROC curves and layer tables); the 20- and 200-trial studies are made of copies of
those records with their metrics and estimates jittered (seeded), so the Pareto front,
the plots and the per-candidate pages have the size a real study of that length would
give. What is timed is only the report: reading, importances, figures, tables, pages.
"""

import copy
import json
import shutil

import numpy as np
import pytest

from codesign import cli
from codesign.report import build

BASE = """task: l1-anomaly
seed: 9
data: {n_train: 6000, n_val: 2000, n_test: 20000, n_signal: 2000}
model: {kind: dense_ae, encoder: [8], latent: 2, activation: relu, input_batchnorm: false,
        quantization: {weight: {bits: 6, integer: 0}, activation: {bits: 8, integer: 2}}}
training: {epochs: 2, batch_size: 1024, early_stopping_patience: 1, lr_patience: 1}
metrics: {fpr: 5.0e-4, n_bootstrap: 20}
"""
SPACE = """task: l1-anomaly
base: {base}
dimensions:
  depth: {{int: [1, 3]}}
  width: {{choice: [4, 8, 16]}}
  latent: {{choice: [2, 3, 4]}}
  weight_bits: {{int: [3, 8]}}
  sparsity: {{float: [0.0, 0.75], step: 0.25}}
  reuse_factor: {{choice: [1, 2, 4]}}
baseline: {{depth: 1, width_1: 8, latent: 2, weight_bits: 6, sparsity: 0.0, reuse_factor: 1}}
"""


@pytest.fixture(scope="module")
def real_study(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    (d / "base.yaml").write_text(BASE)
    (d / "space.yaml").write_text(SPACE.format(base=d / "base.yaml"))
    assert cli.main(["search", "--space", str(d / "space.yaml"), "--out", str(d / "run"), "--quiet", "--target",
                     "xcvu9p", "--fidelity", "0", "--trials", "6", "--budget", "luts=2%"]) in (0, 1)
    return d / "run"


def synthetic(real, out, n_trials: int, seed: int = 0):
    """A study of `n_trials` records cloned from the real ones, metrics and resources jittered."""
    rng = np.random.default_rng(seed)
    out.mkdir()
    shutil.copy(real / "search.json", out)
    (out / "trials").mkdir()
    records = [json.loads(p.read_text()) for p in sorted((real / "trials").glob("*.json"))]
    complete = [r for r in records if r["status"] == "complete"]
    for n in range(n_trials):
        r = copy.deepcopy(records[n] if n < len(records) else complete[rng.integers(len(complete))])
        r["number"] = n
        if n >= len(records):
            f = float(rng.lognormal(0, 0.5))
            r["tpr"] *= float(rng.lognormal(0, 0.3))
            for key in ("lut", "ff", "dsp"):
                r["estimate"][key] = round(r["estimate"][key] * f)
            r["feasible"] = bool(rng.random() < 0.8)
        (out / "trials" / f"{n:05d}.json").write_text(json.dumps(r))
    return out


@pytest.mark.benchmark(group="report")
@pytest.mark.parametrize("n_trials", [20, 200], ids=["20_trials_reference", "200_trials"])
def test_report_generation(benchmark, real_study, tmp_path, n_trials):
    run = synthetic(real_study, tmp_path / "run", n_trials)
    counter = iter(range(100))

    def report():
        return build.write(run, tmp_path / f"report{next(counter)}", ("html", "png", "pdf"))

    result = benchmark.pedantic(report, rounds=2, iterations=1)
    assert result.index.is_file() and result.n_candidates >= 1
    benchmark.extra_info.update(events=n_trials, figures=result.n_figures, candidate_pages=result.n_candidates)
    print(f"\n{n_trials} trials: {benchmark.stats.stats.mean:.1f} s, {result.n_figures} figures, "
          f"{result.n_candidates} candidate pages")
