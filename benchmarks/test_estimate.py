"""Estimation time per candidate (it runs inside the search), on the seed-004 8-bit pruned autoencoder.

Reference: hls4ml's own conversion of the candidate (what any estimate needs first). The
analytic model should add milliseconds; da4ml seconds at most, and nothing on a cache hit.
"""

import numpy as np
import pytest
from candidates import SPEC, seed004_model

from codesign import firmware
from codesign.hardware import da, estimate, graph, load

PART = "xcvu13p-flga2577-2-e"


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    model = seed004_model()
    x = np.random.default_rng(0).normal(0, 20, (20_000, 57))
    fw = firmware.build(model, SPEC, None, x, cache_dir=tmp_path_factory.mktemp("fw"))
    cfg = load.hls_config("keras", model, "Vitis", None, None, None, None)
    return model, cfg, fw


@pytest.mark.benchmark(group="estimate-per-candidate")
def test_hls4ml_conversion_reference(benchmark, candidate):
    model, cfg, _ = candidate
    g = benchmark(load.convert, "keras", model, cfg, PART, 5.0)
    assert any(la.kind == "dense" for la in g.layers)


@pytest.mark.benchmark(group="estimate-per-candidate")
def test_analytic_from_built_firmware(benchmark, candidate):
    """The search's path: cached firmware -> graph -> analytic estimate (no hls4ml)."""
    _, _, fw = candidate
    est = benchmark(lambda: estimate.estimate(graph.from_firmware(fw)))
    assert est.total.lut > 0


@pytest.mark.benchmark(group="estimate-per-candidate")
def test_analytic_on_converted_graph(benchmark, candidate):
    model, cfg, _ = candidate
    g = load.convert("keras", model, cfg, PART, 5.0)
    est = benchmark(estimate.estimate, g)
    assert est.method == "analytic"


@pytest.mark.benchmark(group="estimate-per-candidate")
def test_da4ml_uncached(benchmark, candidate, tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path))
    model, cfg, _ = candidate
    g = load.convert("keras", model, cfg, PART, 5.0)
    counter = iter(range(10**6))

    def fresh():  # a new cache directory per round: every layer is traced again
        monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / str(next(counter))))
        return estimate.estimate(g, "da")

    da.dense_cost(next(la for la in g.layers if la.kind == "dense"), 5.0)  # numba JIT warm-up outside the timing
    est = benchmark.pedantic(fresh, rounds=3, iterations=1)
    assert all(la.dsp == 0 for la in est.layers if la.kind == "dense (da)")  # BN layers may still use DSPs


@pytest.mark.benchmark(group="estimate-per-candidate")
def test_da4ml_cached(benchmark, candidate, tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path))
    model, cfg, _ = candidate
    g = load.convert("keras", model, cfg, PART, 5.0)
    estimate.estimate(g, "da")
    est = benchmark(estimate.estimate, g, "da")
    assert est.method == "da"
