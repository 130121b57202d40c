import atexit
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The emulator's compiled loops are compiled once for the whole session (this process and the Dask
# workers of every study it starts read the same cache), not once per process.
if "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="codesign-tests-numba-")
    atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], True)

# Learned calibration records go to a throw-away data directory, never the user's.
if "CODESIGN_DATA" not in os.environ:
    os.environ["CODESIGN_DATA"] = tempfile.mkdtemp(prefix="codesign-tests-data-")
    atexit.register(shutil.rmtree, os.environ["CODESIGN_DATA"], True)

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


@pytest.fixture(scope="session")
def search_run(tmp_path_factory):
    """A real 4-trial study (trained, compiled, C-simulated, scored) for the report and export tests."""
    from codesign import cli
    from tests.search import tiny

    d = tmp_path_factory.mktemp("study")
    space = tiny.write(d, seed=5, extra=tiny.STRATEGY_AND_BASELINE)
    out = d / "run"
    code = cli.main(["search", "--space", str(space), "--out", str(out), "--quiet", "--target", "xcvu9p",
                     "--fidelity", "0", "--trials", str(tiny.N_TRIALS), "--budget", "luts=2%"])
    assert code in (0, 1)
    return out


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
