"""Jet four-vectors (issue 11's data): realistic, correlated, reproducible; parquet/HDF5 files; bad input."""

import numpy as np
import pytest

from codesign.data import jet_generator as jg
from codesign.errors import DataError


@pytest.fixture(scope="module")
def jets():
    return jg.generate(100_000, seed=3)


def test_jets_are_reproducible_and_physical(jets):
    again = jg.generate(100_000, seed=3)
    for v in (*jg.VARIABLES, "E"):
        np.testing.assert_array_equal(jets[v], again[v])
    assert not np.array_equal(jets["pt"], jg.generate(100_000, seed=4)["pt"])
    assert jets["pt"].min() >= jg.PT_MIN and np.abs(jets["eta"]).max() <= jg.ETA_MAX
    assert np.abs(jets["phi"]).max() <= np.pi and (jets["m"] > 0).all()
    p = jets["pt"] * np.cosh(jets["eta"])
    np.testing.assert_allclose(jets["E"] ** 2 - p**2, jets["m"] ** 2, rtol=1e-6, atol=1e-6)


def test_spectrum_falls_and_variables_are_correlated(jets):
    pt, eta, m = jets["pt"], jets["eta"], jets["m"]
    counts, _ = np.histogram(pt, bins=[30, 60, 120, 240, 480])
    assert np.all(np.diff(counts) < 0) and counts[0] > 20 * counts[-1]  # steeply falling
    assert np.corrcoef(np.log(pt), np.log(m))[0, 1] > 0.4  # mass grows with pT
    soft, hard = pt < 40, pt > 200
    assert np.std(eta[soft]) > 1.3 * np.std(eta[hard])  # hard jets are more central
    assert abs(np.mean(jets["phi"])) < 0.05 and np.median(m / pt) == pytest.approx(0.09, rel=0.15)


@pytest.mark.parametrize("suffix", [".parquet", ".h5"])
def test_files_round_trip(tmp_path, suffix):
    jets = jg.generate(1000, seed=1)
    back = jg.read(jg.write(tmp_path / f"jets{suffix}", jets))
    for v in jg.VARIABLES:
        np.testing.assert_array_equal(back[v], jets[v])


def test_bad_input_is_one_clear_error(tmp_path):
    good = jg.generate(10, seed=1)
    with pytest.raises(DataError, match="missing column\\(s\\) m"):
        jg.check({k: good[k] for k in ("pt", "eta", "phi")}, "x.h5")
    nan = dict(good, eta=np.where(np.arange(10) == 4, np.nan, good["eta"]))
    with pytest.raises(DataError, match="non-finite value\\(s\\) in column 'eta', first at row 4"):
        jg.check(nan, "x.h5")
    with pytest.raises(DataError, match="pt must be > 0"):
        jg.check(dict(good, pt=-good["pt"]), "x.h5")
    with pytest.raises(DataError, match="different lengths"):
        jg.check(dict(good, m=good["m"][:5]), "x.h5")
    (tmp_path / "jets.pkl").write_bytes(b"\x80\x04not really")
    with pytest.raises(DataError, match="pickles are not read"):
        jg.read(tmp_path / "jets.pkl")
    (tmp_path / "broken.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(DataError, match="broken.h5: cannot read jets"):
        jg.read(tmp_path / "broken.h5")
    with pytest.raises(DataError, match="no such jet file"):
        jg.read(tmp_path / "absent.parquet")
