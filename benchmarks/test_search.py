"""Search throughput: candidates per hour at -j 1 (reference) and -j 2 on a small sample, and where a
candidate's time goes (train / firmware build / C-sim check / emulator scoring / estimate).

The same four candidates are evaluated in both runs (fresh run directories, so nothing is cached);
the per-stage seconds are printed and stored in extra_info.
"""

import pytest

from codesign import config as cfg
from codesign.search import space as space_mod
from codesign.search import study

BASE = {"task": "l1-anomaly", "seed": 3, "data": {"n_train": 50000, "n_val": 10000, "n_test": 100000,
                                                  "n_signal": 5000},
        "model": {"kind": "dense_ae", "encoder": [32, 16], "latent": 3, "activation": "relu",
                  "quantization": {"weight": {"bits": 8, "integer": 0}, "activation": {"bits": 8, "integer": 0}}},
        "training": {"epochs": 5, "batch_size": 1024, "early_stopping_patience": 2, "lr_patience": 1},
        "metrics": {"fpr": 1.0e-4, "n_bootstrap": 20}}
POINTS = [{"depth": 2, "width_1": 32, "width_2": 16, "latent": 3, "weight_bits": 8, "sparsity": 0.75},
          {"depth": 1, "width_1": 16, "latent": 2, "weight_bits": 6, "sparsity": 0.5},
          {"depth": 2, "width_1": 16, "width_2": 8, "latent": 4, "weight_bits": 4, "sparsity": 0.0},
          {"depth": 3, "width_1": 32, "width_2": 16, "width_3": 8, "latent": 3, "weight_bits": 5, "sparsity": 0.25}]
SPACE = {"task": "l1-anomaly", "dimensions": {"depth": {"int": [1, 3]}, "width": {"choice": [8, 16, 32]},
                                             "latent": {"choice": [2, 3, 4]}, "weight_bits": {"int": [4, 8]},
                                             "sparsity": {"float": [0.0, 0.75], "step": 0.25}}}


def _run(tmp_path, jobs: int):
    space = cfg.parse(space_mod.Space, SPACE, "benchmark space")
    settings = study.Settings(task="l1-anomaly", target="xcvu9p", n_trials=len(POINTS), jobs=jobs, base_config=BASE,
                              fidelity=0.0, csim_check=500)
    return study.run(space, settings, tmp_path / f"j{jobs}-{len(list(tmp_path.iterdir()))}", progress=False,
                     enqueue=POINTS)


@pytest.mark.benchmark(group="search-throughput")
@pytest.mark.parametrize("jobs", [1, 2], ids=["j1_reference", "j2"])
def test_candidates_per_hour(benchmark, tmp_path, jobs):
    records = benchmark.pedantic(_run, args=(tmp_path, jobs), rounds=1, iterations=1)
    assert len(records) == len(POINTS) and all(r.complete for r in records)
    benchmark.extra_info["events"] = len(POINTS)  # "events" = candidates: the summary prints candidates/s
    stages = ("train", "firmware", "csim", "score", "estimate", "total")
    mean = {k: sum(r["seconds"].get(k, 0.0) for r in records) / len(records) for k in stages}
    benchmark.extra_info.update({f"mean_{k}_s": round(v, 2) for k, v in mean.items()})
    outside = 1 - mean["train"] / mean["total"]
    benchmark.extra_info["fraction_outside_training"] = round(outside, 3)
    print(f"\n-j {jobs}: {len(POINTS) / benchmark.stats.stats.mean * 3600:.0f} candidates/hour; per candidate "
          + ", ".join(f"{k} {v:.1f} s" for k, v in mean.items()) + f"; {outside:.0%} outside training")
