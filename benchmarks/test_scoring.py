"""Scoring one search candidate on the study's ten million background events (and 4 x 100,000 signal
events), against training it (the reference; both timed per call): scoring must not dominate a candidate's time.

Uses the search's own base config (codesign/presets/search_l1.yaml) and data path: the events are
generated once into an event store (memory-mapped, streamed in blocks) as a study does.
"""

import numpy as np
import pytest

from codesign import config as cfg
from codesign import evaluation
from codesign.hardware import targets
from codesign.search import candidate as cand
from codesign.search import objective
from codesign.search import space as space_mod
from codesign.tasks import l1_anomaly


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    base = cfg.load(l1_anomaly.Config, cfg.resolve("search_l1"))
    data = l1_anomaly.load_data(base, store=tmp_path_factory.mktemp("events"))
    c = cand.make(space_mod.load("l1_anomaly").baseline, base, l1_anomaly.Config)
    return c, data, {"firmware_dir": tmp_path_factory.mktemp("firmware")}


@pytest.mark.benchmark(group="candidate-10M")
def test_train_reference(benchmark, study):
    c, data, state = study
    result = benchmark.pedantic(objective.train, args=(c, data), rounds=1, iterations=1)
    state["fw"] = objective.build(c, result, data, targets.load("xcvu9p"), state["firmware_dir"])
    benchmark.extra_info["training_events"] = len(data.x_train)


@pytest.mark.benchmark(group="candidate-10M")
def test_score_on_ten_million_events(benchmark, study):
    c, data, state = study
    fw = state["fw"]
    signals = {k: np.asarray(v) for k, v in data.signals.items()}
    m = c.config.metrics
    scores, *_ = benchmark.pedantic(evaluation.score_dataset, args=(fw, data.x_test, signals, m.fpr, m.n_bootstrap,
                                                                    c.config.seed), rounds=2, iterations=1)
    assert all(s.n_background == 10_000_000 and s.n_background_above >= 10 for s in scores.values())
    benchmark.extra_info["scored_events"] = len(data.x_test) + sum(len(v) for v in signals.values())
