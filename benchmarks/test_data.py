"""Event generation rate (one and two worker processes), against reading the same events back from an
ADC2021-layout h5 file (the reference). A study generates its ten million test events once, streamed
chunk by chunk into its event store; the rate at a few million events is what it sees (fixed
per-process costs amortise)."""

import pytest

from codesign.data import adc2021
from codesign.data import l1_generator as gen

N = 2_000_000


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bkg.h5"
    adc2021.write_events(path, gen.background(N, seed=1).particles)
    return path


@pytest.mark.benchmark(group="l1-data")
def test_read_h5_reference(benchmark, written):
    benchmark.extra_info["events"] = N
    benchmark.pedantic(adc2021.read_events, args=(written,), rounds=3, iterations=1)


@pytest.mark.benchmark(group="l1-data")
@pytest.mark.parametrize("workers", [1, 2])
def test_generate_background_mixture(benchmark, workers):
    def stream():  # as a study's event store consumes them: chunk by chunk, never all in memory
        return sum(len(chunk.particles) for chunk in gen.background_chunks(N, seed=2, workers=workers))

    benchmark.extra_info["events"] = N
    assert benchmark.pedantic(stream, rounds=2, iterations=1) == N


@pytest.mark.benchmark(group="l1-data")
@pytest.mark.parametrize("name", gen.SIGNALS)
def test_generate_signal(benchmark, name):
    benchmark.extra_info["events"] = 100_000
    benchmark.pedantic(gen.signal, args=(name, 100_000), kwargs={"seed": 3}, rounds=2, iterations=1)
