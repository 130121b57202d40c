"""Event generation rate, against reading the same events back from an ADC2021-layout h5 file."""

import pytest

from codesign.data import adc2021
from codesign.data import l1_generator as gen

N = 300_000  # large enough that per-process block overheads amortise as in real runs


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bkg.h5"
    adc2021.write_events(path, gen.background(N, seed=1).particles)
    return path


@pytest.mark.benchmark(group="l1-data")
def test_read_h5_reference(benchmark, written):
    benchmark.extra_info["events"] = N
    benchmark.pedantic(adc2021.read_events, args=(written,), rounds=5, iterations=1)


@pytest.mark.benchmark(group="l1-data")
def test_generate_background_mixture(benchmark):
    benchmark.extra_info["events"] = N
    benchmark.pedantic(gen.background, args=(N,), kwargs={"seed": 2}, rounds=2, iterations=1)


@pytest.mark.benchmark(group="l1-data")
@pytest.mark.parametrize("name", gen.SIGNALS)
def test_generate_signal(benchmark, name):
    benchmark.extra_info["events"] = 20_000
    benchmark.pedantic(gen.signal, args=(name, 20_000), kwargs={"seed": 3}, rounds=3, iterations=1)
