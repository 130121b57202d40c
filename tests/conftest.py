import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from codesign.data import l1_generator as gen


@pytest.fixture(scope="session")
def background_sample():
    """A small generated background (shared: generation is the slow part of many tests)."""
    return gen.background(60_000, seed=11, chunk_size=20_000)


@pytest.fixture(scope="session")
def signal_samples():
    return {name: gen.signal(name, 5_000, seed=12) for name in gen.SIGNALS}


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
